"""The Draw tab's handlers: the seed grid, the latent sliders, style from a photo, interpolation,
images onto the canvas, and the image-in, image-out panel of models without z."""
from __future__ import annotations

import base64
import io
import random

import gradio as gr
import numpy as np
from PIL import Image

from i2i.checkpoint import CheckpointError
from i2i.edges import photo_to_edges
from i2i.images import open_image
from i2i.infer import Translator, interpolate, z_for_seed
from ui.errors import user_errors
from ui.inputs import VIEW_PREFIX, sketch_image, view_array, z_text
from ui.model_calls import run_encode, run_generate, run_translate
from ui.outputs import out_file, out_files
from ui.state import MAX_SLIDERS, latent_model, model_or_error, store


@user_errors
def generate_grid(view, seed, n, model, fit):
    """The seed grid for the canvas as the page sent it (VIEW_NOW), and that drawing kept."""
    t = model_or_error(model)
    arr = sketch_image(view_array(view))
    if not t.uses_z:
        return [(out_file(run_translate(t, arr)), "output")], [], arr
    return *seed_grid(t, arr, seed, n, fit), arr


def seed_grid(t: Translator, arr: np.ndarray, seed, n, fit=True) -> tuple[list, list[int]]:
    """n images for seeds seed..seed+n-1 as a captioned gallery (one batched call), and the seeds."""
    try:
        seed, n = int(seed), int(n)
    except (TypeError, ValueError):  # API calls pass numbers through unchecked (api_file)
        raise gr.Error(f"seed and n must be whole numbers, got {seed!r} and {n!r}") from None
    if not 1 <= n <= 32:
        raise gr.Error("n must be between 1 and 32")
    seeds = list(range(seed, seed + n))
    images = run_generate(t, arr, seeds=seeds, fit=bool(fit))
    return list(zip(out_files(images), [f"seed {s}" for s in seeds])), seeds


@user_errors
def render_latent(sketch, model, fit, *values):
    t = latent_model(model)
    z = list(values[:t.nz])
    return out_file(run_generate(t, sketch_image(sketch), z=z, fit=bool(fit))[0]), z_text(z)


@user_errors
def redraw_from_view(view, model, fit, *values):
    """The output for the current z once a stroke, an erase, an undo or a clear has ended, from the
    canvas as the page sent it (ui/page.js, one request), and that drawing kept for the slider
    events. An empty canvas clears the output (no error: the person is drawing, not asking for an image)."""
    arr = view_array(view)
    t = model_or_error(model)
    if not t.uses_z:
        return gr.skip(), gr.skip(), arr
    if not _has_ink(arr):
        return None, gr.skip(), arr
    return *render_latent(arr, model, fit, *values), arr


def slider_updates(t: Translator | None, z=None) -> list:
    nz = t.nz if t is not None else 0
    z = [0.0] * nz if z is None else [float(v) for v in z]
    return [gr.update(visible=i < nz, value=round(float(np.clip(z[i], -3, 3)), 2) if i < nz else 0.0) for i in range(MAX_SLIDERS)]


@user_errors
def select_seed(seeds, model, sketch, fit, evt: gr.SelectData):
    t = latent_model(model)
    if not seeds or evt.index is None or evt.index >= len(seeds):
        raise gr.Error("generate a grid first")
    z = z_for_seed(seeds[evt.index], t.nz).tolist()
    img, text = render_latent(sketch, model, fit, *z)
    return [img, text, *slider_updates(t, z)]


@user_errors
def set_z(kind, model, sketch, fit):
    t = latent_model(model)
    z = [0.0] * t.nz if kind == "zero" else z_for_seed(random.randrange(2**31), t.nz).tolist()
    img, text = render_latent(sketch, model, fit, *z) if _has_ink(sketch) else (None, z_text(z))
    return [img, text, *slider_updates(t, z)]


def _has_ink(sketch) -> bool:
    try:
        sketch_image(sketch)
        return True
    except gr.Error:
        return False


@user_errors
def style_from_photo(photo, model, sketch, fit):
    if photo is None:
        raise gr.Error("upload a photo to take its style from")
    t = latent_model(model)
    z = np.clip(run_encode(t, photo), -3, 3).tolist()
    img, text = render_latent(sketch, model, fit, *z) if _has_ink(sketch) else (None, z_text(z))
    preview = open_image(photo, "RGB")  # the photo itself (its upload shows only a file name)
    preview.thumbnail((256, 256))
    return [img, text, out_file(preview), *slider_updates(t, z)]


@user_errors
def interpolate_strip(view, model, fit, seed_b, photo_b, k, *values):
    t = latent_model(model)
    sketch = view_array(view)
    z0 = list(values[:t.nz])
    z1 = run_encode(t, photo_b) if photo_b is not None else z_for_seed(int(seed_b), t.nz).numpy()
    codes = interpolate(z0, z1, int(k))
    frames = run_generate(t, sketch_image(sketch), z=codes, fit=bool(fit))
    gif = out_file(frames + frames[::-1][1:-1])  # there and back
    return [(f, f"{i + 1}/{len(frames)}") for i, f in enumerate(out_files(frames))], gif


def _canvas(img: Image.Image) -> tuple[str, np.ndarray]:
    """`img` for the drawing pad (a PNG data URL, TO_PAD in ui/page.py), and the drawing the
    server keeps for the latent events."""
    grey = img.convert("L")
    png = io.BytesIO()
    grey.save(png, format="PNG")
    return VIEW_PREFIX + base64.b64encode(png.getvalue()).decode(), np.asarray(grey)


@user_errors
def photo_to_canvas(photo):
    if photo is None:
        raise gr.Error("upload a photo first")
    return _canvas(photo_to_edges(photo, size=512))


@user_errors
def edges_to_canvas(edge_map):
    if edge_map is None:
        raise gr.Error("upload an edge map first")
    img = open_image(edge_map, "L")
    img.thumbnail((512, 512))
    return _canvas(img)


def example_to_canvas(path):
    """A validation pair's sketch (its left half) onto the canvas."""
    if not path:
        return gr.skip(), gr.skip()
    return edges_to_canvas(Image.open(path).crop((0, 0, 256, 256)))


def model_changed(model):
    """The model's description and sliders, and which panels it needs: "latent" (BicycleGAN
    family: canvas, grid, sliders), "plain" (no z, e.g. CycleGAN: image in, image out) or "none"."""
    try:
        t = model_or_error(model)
    except (CheckpointError, OSError, ValueError) as e:
        gr.Warning(str(e))
        t = None
    uses_z = t is not None and t.uses_z
    info = f"**{model}**: {t.cfg.model}, {t.size} px, {t.nz} latent dims, {t.device}/{t.engine.name}" if t else ""
    panels = "none" if t is None else ("latent" if uses_z else "plain")
    return [panels, info, *slider_updates(t if uses_z else None)]


@user_errors
def translate_image(path, model, reverse):
    if not path:
        raise gr.Error("Upload an image to translate first.")
    return out_file(run_translate(model_or_error(model), path, bool(reverse)))


def refresh_models(current):
    names = store.names()
    return gr.update(choices=names, value=current if current in names else (names[0] if names else None))
