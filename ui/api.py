"""The public API's handlers (stable names for gradio_client; see the API section of README.md)."""
from __future__ import annotations

import gradio as gr

from i2i.edges import photo_to_edges
from ui.draw_tab import seed_grid
from ui.errors import user_errors
from ui.inputs import api_file, parse_z, sketch_image
from ui.model_calls import run_encode, run_generate, run_translate
from ui.outputs import out_file
from ui.state import latent_model, model_or_error


@user_errors
def api_generate(image, seed, n, model):
    return seed_grid(latent_model(model), sketch_image(api_file(image, "a sketch image")), seed, n)[0]


@user_errors
def api_generate_latent(image, z, model):
    t = latent_model(model)
    return out_file(run_generate(t, sketch_image(api_file(image, "a sketch image")), z=parse_z(z, t.nz))[0])


@user_errors
def api_encode(photo, model):
    return [round(float(v), 5) for v in run_encode(latent_model(model), api_file(photo, "a photo"))]


@user_errors
def api_translate(image, model):
    t = model_or_error(model)
    if t.uses_z:
        raise gr.Error(f"{model} is a {t.cfg.model} model with a latent code: use /generate or /generate_latent")
    return out_file(run_translate(t, api_file(image, "an image")))


@user_errors
def api_edges(photo):
    return out_file(photo_to_edges(api_file(photo, "a photo")))
