"""i2i studio: draw an outline, get many plausible images; explore the latent space; train.

The page's layout and wiring only: the handlers live in ui/ (draw_tab, train_tab, api), and every
model operation is a call into the `i2i` package (Translator, photo_to_edges,
studio.TrainingJob). Runs locally with `python app.py` and unchanged on Hugging Face Spaces.
Environment: I2I_HUB_MODELS (comma-separated Hub repo ids to offer), I2I_DEFAULT_MODEL (the
model shown first: a folder name in checkpoints/ or a Hub id), I2I_TRAINING (1/0),
I2I_DATA_ROOTS (os.pathsep-separated folders the Train tab may read), I2I_RUNS_DIR (where the
Train tab writes runs), GRADIO_SERVER_NAME/PORT.
"""
from __future__ import annotations

import functools
import logging
import os
import random

import gradio as gr
from starlette.middleware import Middleware

from i2i import hub
from i2i.models import model_names
from i2i.studio import training_enabled
from ui.api import api_edges, api_encode, api_generate, api_generate_latent, api_translate
from ui.draw_tab import (edges_to_canvas, example_to_canvas, generate_grid, interpolate_strip, model_changed,
                         photo_to_canvas, redraw_from_view, refresh_models, render_latent, select_seed, set_z,
                         style_from_photo, translate_image)
from ui.inputs import file_input
from ui.page import (CSS, PAD_HTML, PAD_JS, PAGE_JS, REDRAW, SERVER_DONE, SET_MODEL, SHOW_PANELS, SLIDER, TO_PAD, VIEW,
                     VIEW_NOW, Z_SET)
from ui.web_engine import CrossOriginIsolation, serve_static, web_spec
from ui.state import DEFAULT_MODEL, EXAMPLES_DIR, MAX_SLIDERS, MODEL_QUEUE, STROKE_CALL, job, store
from ui.train_tab import (dataset_choices, default_dataset, poll_training, propose, push_run, start_training,
                          stop_training)


def build_demo() -> gr.Blocks:
    ort_served = serve_static()
    names = store.names()
    default = DEFAULT_MODEL if DEFAULT_MODEL in names else (names[0] if names else None)
    examples = [str(p) for p in sorted(EXAMPLES_DIR.glob("*_AB.jpg"), key=lambda p: int(p.stem.split("_")[0]))[:8]] \
        if EXAMPLES_DIR.is_dir() else []
    # uploads (and whatever Gradio copies into its cache): delete those unused for an hour, every
    # 30 min, so a busy public demo does not fill its disk (out_file prunes its outputs itself)
    with gr.Blocks(title="i2i studio", delete_cache=(1800, 3600)) as demo:
        gr.Markdown("# i2i studio\nDraw an outline, get many plausible images (BicycleGAN). "
                    "Drag the latent sliders to change colour and texture.")
        seeds_state = gr.State([])
        drawing = gr.State(None)  # the canvas the server last saw: a 512x512 array (0.25 MB a session)
        panels = gr.Textbox(visible=False)  # model_changed's "latent" / "plain" / "none" (see SHOW_PANELS)
        with gr.Tab("Draw"):
            with gr.Row():
                model = gr.Dropdown(names, value=default, label="Model", scale=3, elem_id="model")
                refresh = gr.Button("↻ models", scale=0, min_width=90, elem_id="refresh")
            model_info = gr.Markdown()
            with gr.Row(visible=False) as translate_box:  # shown for models without z (CycleGAN)
                t_in = file_input("An image to translate", elem_id="translate_in")
                with gr.Column():
                    t_rev = gr.Checkbox(False, label="Reverse direction (B -> A, the second generator)")
                    t_go = gr.Button("Translate", variant="primary", elem_id="translate")
                t_out = gr.Image(label="Output", format="png", interactive=False, elem_id="translate_out")
            with gr.Row() as draw_box:
                with gr.Column(scale=1, min_width=300):
                    gr.HTML(PAD_HTML, js_on_load=PAD_JS, elem_id="sketch")  # the drawing pad (ui/pad.js)
                    view_redraw = gr.Button(visible="hidden", elem_id="view_redraw")  # pressed by ui/page.js
                    view = gr.Textbox(visible=False)  # filled by VIEW / VIEW_NOW: the canvas as a PNG data URL
                    to_pad = gr.Textbox(visible=False)  # an image for the canvas (TO_PAD)
                    onto_pad = dict(fn=None, inputs=to_pad, js=TO_PAD, api_visibility="private")
                    slider_redraw = gr.Button(visible="hidden", elem_id="slider_redraw")  # pressed by ui/page.js
                    gr.Markdown("The output redraws when a stroke ends (Ctrl+Z undoes one).", elem_classes="hint")
                    fit = gr.Checkbox(True, label="Centre and scale my drawing; white paper around it", elem_id="fit")
                    with gr.Accordion("Start from an image", open=False):
                        edge_upload = file_input("An edge map", elem_id="edge_upload")
                        photo_upload = file_input("A photo (turned into edges)", elem_id="photo_upload")
                        if examples:
                            ex = gr.Image(visible=False, type="filepath")
                            gr.Examples(examples=[[e] for e in examples], inputs=[ex], label="Validation sketches")
                            ex.change(example_to_canvas, ex, [to_pad, drawing],
                                      api_visibility="private").then(**onto_pad)
                with gr.Column(scale=1, min_width=300):
                    latent_out = gr.Image(label="Output for this z", format="png", elem_id="latent_out",
                                          interactive=False, height=560)
                    gr.Markdown("Drawing on the server", elem_id="engine_status")
                    web_model = gr.JSON(visible=False)  # web_spec: where the page finds the model's ONNX file
                    ztext = gr.Textbox(label="Current z (copyable)", buttons=["copy"], elem_classes="zbox",
                                       interactive=False)
            with gr.Group(visible=True) as latent_box:
                with gr.Row():
                    with gr.Column(scale=1, min_width=300):
                        sliders = []
                        for row in range(MAX_SLIDERS // 2):
                            with gr.Row():
                                sliders += [gr.Slider(-3, 3, value=0, step=0.05, label=f"z[{i}]", visible=i < 8,
                                                      elem_id=f"z{i}", min_width=140) for i in (2 * row, 2 * row + 1)]
                        with gr.Row():
                            randomise = gr.Button("Random z")
                            zero = gr.Button("z = 0")
                    with gr.Column(scale=1, min_width=300):
                        with gr.Row():
                            n = gr.Slider(1, 16, value=8, step=1, label="Images")
                            seed = gr.Number(0, label="First seed", precision=0)
                        with gr.Row():
                            go = gr.Button("Generate", variant="primary", elem_id="generate")
                            new_seeds = gr.Button("New seeds")
                        gallery = gr.Gallery(label="Seed grid (click one to load its z)", columns=4, format="png",
                                             elem_id="grid", object_fit="contain", allow_preview=False)
            with gr.Accordion("Style from a photo, interpolation", open=False, visible=True) as extras:
                with gr.Row():
                    with gr.Column():
                        style_photo = file_input("A photo whose style to copy (encoded by E)")
                        style_preview = gr.Image(label="Its style", height=160, interactive=False,
                                                 elem_id="style_preview")
                    with gr.Column():
                        seed_b = gr.Number(1, label="Interpolate from the current z to seed…", precision=0)
                        photo_b = file_input("…or to this photo's z")
                        k = gr.Slider(3, 16, value=8, step=1, label="Steps")
                        interp = gr.Button("Interpolate")
                strip = gr.Gallery(label="Interpolation", columns=8, format="png")
                gif = gr.Image(label="Animated", type="filepath")

        with gr.Tab("Train", visible=training_enabled(), elem_id="train_tab"):
            gr.Markdown("Runs the same training loop as `python -m i2i train`, in the background; "
                        "generation keeps working. Finished runs appear in the Draw tab as `runs/<name>`.")
            with gr.Row():
                datasets = dataset_choices()
                data = gr.Dropdown(datasets, value=default_dataset(datasets), label="Dataset folder",
                                   allow_custom_value=True, elem_id="train_data")
                tmodel = gr.Dropdown(model_names(), value="bicyclegan", label="Model")
                size = gr.Dropdown([64, 128, 256], value=64, label="Size", elem_id="train_size")
            proposal = gr.Markdown(elem_id="train_proposal")
            with gr.Row():
                batch = gr.Slider(2, 16, value=4, step=2, label="Batch")
                iters = gr.Number(200, label="Iterations", precision=0, elem_id="train_iters")
                run_name = gr.Textbox("my-run", label="Run name", elem_id="train_name")
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="train_start")
                stop = gr.Button("Stop")
                resume = gr.Button("Resume")
            status = gr.Textbox(label="Status", interactive=False, elem_id="train_status")
            progress = gr.Slider(0, 100, value=0, label="Progress %", interactive=False)
            with gr.Row():
                sample = gr.Image(label="Latest samples (rows: inputs; columns: A, B, E(B), random z)",
                                  type="filepath", elem_id="train_sample")
                curve = gr.LinePlot(x="step", y="value", color="loss", label="Losses")
            samples_seen = gr.Number(0, label="Sample grids so far", interactive=False, elem_id="samples_seen")
            with gr.Row(visible=hub.has_token()):  # offered only where a Hugging Face token is configured
                repo_id = gr.Textbox(label="Hugging Face repo (OWNER/NAME)", elem_id="push_repo")
                push = gr.Button("Push this run to the Hub", elem_id="push")
            timer = gr.Timer(1.0, active=False)  # polls only while a run goes (start, page load, poll_training)

        # -- wiring --
        refresh.click(refresh_models, model, model, api_visibility="private")
        panel_boxes = [draw_box, translate_box, latent_box, extras]
        for trigger in (model.change, demo.load):
            trigger(model_changed, model, [panels, model_info, *sliders], api_visibility="private").then(
                None, panels, panel_boxes, js=SHOW_PANELS, api_visibility="private").then(
                functools.partial(web_spec, ort_served=ort_served), model, web_model, api_visibility="private").then(
                None, web_model, None, js=SET_MODEL, api_visibility="private")
        ui_model = dict(api_visibility="private", **MODEL_QUEUE)  # UI-only events that run a network
        # a stroke's end on the server path (ui/page.js): the canvas as seen, in one request (STROKE_CALL)
        view_redraw.click(redraw_from_view, [view, model, fit, *sliders], [latent_out, ztext, drawing], js=VIEW,
                          show_progress="hidden", **STROKE_CALL).then(None, js=SERVER_DONE, api_visibility="private")
        fit.input(None, js=REDRAW, api_visibility="private")
        grid = dict(fn=generate_grid, inputs=[view, seed, n, model, fit], outputs=[gallery, seeds_state, drawing],
                    js=VIEW_NOW, **ui_model)
        go.click(**grid)
        new_seeds.click(lambda: random.randrange(100_000), None, seed, api_visibility="private").then(**grid)
        # the latent events read `drawing` (the canvas the server last saw), so a slider step sends numbers only
        # a z the server sets is drawn again by the in-browser engine, when it runs (ui/page.js)
        z_set = dict(fn=None, inputs=sliders, js=Z_SET, api_visibility="private")
        gallery.select(select_seed, [seeds_state, model, drawing, fit], [latent_out, ztext, *sliders],
                       **ui_model).then(**z_set)
        for s in sliders:  # live while dragging: in the page, or the server's slider_redraw (ui/page.js)
            s.input(None, sliders, None, js=SLIDER, api_visibility="private")
        # a fast drag keeps only the latest request
        slider_redraw.click(render_latent, [drawing, model, fit, *sliders], [latent_out, ztext],
                            trigger_mode="always_last", show_progress="hidden", **ui_model)
        randomise.click(functools.partial(set_z, "random"), [model, drawing, fit], [latent_out, ztext, *sliders],
                        **ui_model).then(**z_set)
        zero.click(functools.partial(set_z, "zero"), [model, drawing, fit], [latent_out, ztext, *sliders],
                   **ui_model).then(**z_set)
        style_photo.upload(style_from_photo, [style_photo, model, drawing, fit],
                           [latent_out, ztext, style_preview, *sliders], **ui_model).then(**z_set)
        # the canvas as it is now: with the in-browser engine, strokes do not send it to the server
        interp.click(interpolate_strip, [view, model, fit, seed_b, photo_b, k, *sliders], [strip, gif], js=VIEW_NOW,
                     **ui_model)
        t_go.click(translate_image, [t_in, model, t_rev], t_out, **ui_model)
        for upload, to_canvas in ((photo_upload, photo_to_canvas), (edge_upload, edges_to_canvas)):
            upload.upload(to_canvas, upload, [to_pad, drawing], api_visibility="private").then(**onto_pad)
        start.click(functools.partial(start_training, resume=False), [data, tmodel, size, batch, iters, run_name],
                    [status, timer], api_visibility="private")
        resume.click(functools.partial(start_training, resume=True), [data, tmodel, size, batch, iters, run_name],
                     [status, timer], api_visibility="private")
        stop.click(stop_training, None, status, api_visibility="private")
        push.click(push_run, [run_name, repo_id], status, api_visibility="private")
        data.change(propose, data, [size, proposal], api_visibility="private")
        demo.load(lambda: gr.Timer(active=job.running()), None, timer, api_visibility="private")
        timer.tick(poll_training, None, [status, progress, sample, curve, samples_seen, timer], show_progress="hidden",
                   api_visibility="private")

        with gr.Row(visible=False):  # the public API: plain inputs, stable names
            # files, not gr.Image: Gradio would decode images before our size and format checks
            a_img, a_photo = gr.File(), gr.File()  # reach the handlers as FileData dicts (api_file)
            a_seed = gr.Number(0, precision=0)
            a_n = gr.Number(8, precision=0)
            a_model = gr.Textbox(default)
            a_z = gr.JSON()
            a_gallery = gr.Gallery(format="png")
            a_out = gr.Image(format="png")
            a_zout = gr.JSON()
            a_edges = gr.Image(format="png")
            for fn, inputs, outputs, name in [
                (api_generate, [a_img, a_seed, a_n, a_model], a_gallery, "generate"),
                (api_generate_latent, [a_img, a_z, a_model], a_out, "generate_latent"),
                (api_encode, [a_photo, a_model], a_zout, "encode"),
                (api_edges, [a_photo], a_edges, "edges"),
                (api_translate, [a_photo, a_model], a_edges, "translate"),
            ]:
                btn = gr.Button()
                btn.click(fn, inputs, outputs, api_name=name, preprocess=False, **MODEL_QUEUE)  # see api_file
    return demo


if DEFAULT_MODEL in store.names():
    store.get(DEFAULT_MODEL)  # load (and pick the engine) now, not on the first request
    web_spec(DEFAULT_MODEL, ort_served=True)  # its ONNX file for the page written and checked now, not on a page load
demo = build_demo()
# Model calls wait in one first-come-first-served line (MODEL_QUEUE), one at a time: the forward
# passes are serialised in the Translator anyway, and a single line keeps latency fair (a lock
# taken by several worker threads is not FIFO: it let some requests starve under load). Other
# events (training polls, uploads) run up to 4 at once. Up to 32 wait; a request beyond that is
# answered at once with HTTP 503 "Queue is full" (the page shows it as an error) rather than
# waiting past a time-out.
# Gradio 6.31 rebuilds a pandas summary of its last 10,000 events after every event, for a
# monitoring page this app does not enable, at a cost that grows with the events recorded (a
# server slows down with use). Once per 1,000 events is plenty (read at queue()).
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
demo.queue(default_concurrency_limit=4, max_size=32)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # state_session_capacity: each new session copies every component's config (~0.2 MB here);
    # REST callers that send no session hash make one per request, so keep the newest 1,000 only
    demo.launch(theme=gr.themes.Soft(), css=CSS, js=PAGE_JS, app_kwargs=dict(middleware=[Middleware(CrossOriginIsolation)]),
                max_file_size="10mb", state_session_capacity=1000)