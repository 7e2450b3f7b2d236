"""i2i studio: draw an outline, get many plausible images; explore the latent space; train.

UI only: every model operation is a call into the `i2i` package (Translator, photo_to_edges,
studio.TrainingJob). Runs locally with `python app.py` and unchanged on Hugging Face Spaces.
Environment: I2I_HUB_MODELS (comma-separated Hub repo ids to offer), I2I_DEFAULT_MODEL (the
model shown first: a folder name in checkpoints/ or a Hub id), I2I_TRAINING (1/0),
I2I_DATA_ROOTS (os.pathsep-separated folders the Train tab may read), I2I_RUNS_DIR (where the
Train tab writes runs), GRADIO_SERVER_NAME/PORT.
"""
from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder
import numpy as np
from PIL import Image

from i2i.checkpoint import CheckpointError
from i2i.config import ConfigError, model_config
from i2i.data import DataError
from i2i.edges import photo_to_edges
from i2i import hub
from i2i.images import ImageError, open_image
from i2i.infer import LatentError, Translator, interpolate, z_for_seed
from i2i.studio import (ModelStore, PathError, TrainingJob, confine, format_eta, prune_old_files,
                        training_enabled)
from i2i.train import TrainConfig

try:  # Hugging Face ZeroGPU: runs the decorated function on a GPU worker; a no-op elsewhere
    import spaces
    gpu = spaces.GPU
except ImportError:
    def gpu(fn):
        return fn

ROOT = Path(__file__).resolve().parent
DEFAULT_MODEL = os.environ.get("I2I_DEFAULT_MODEL", "edges2shoes")  # the model the app opens with
MAX_SLIDERS = 16
EXAMPLES_DIR = ROOT.parent / "shared" / "data" / "edges2shoes" / "val"
DATA_ROOTS = [Path(p) for p in os.environ.get("I2I_DATA_ROOTS", "").split(os.pathsep) if p] or \
    [ROOT.parent / "shared" / "data", ROOT / "data"]
RUNS = Path(os.environ.get("I2I_RUNS_DIR", ROOT / "runs"))

# every event that runs a network shares this first-come-first-served line (see demo.queue below)
MODEL_QUEUE = dict(concurrency_id="model", concurrency_limit=1)

log = logging.getLogger("i2i.app")
store = ModelStore({"": ROOT / "checkpoints", "runs": RUNS},
                   [h.strip() for h in os.environ.get("I2I_HUB_MODELS", "").split(",") if h.strip()])
job = TrainingJob()


def user_errors(fn):
    """Turn the library's errors into messages in the UI (never a stack trace), keep serving."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ImageError, LatentError, CheckpointError, DataError, PathError, ConfigError, hub.HubError) as e:
            raise gr.Error(str(e)) from None
        except (ValueError, RuntimeError, OSError) as e:
            log.exception("request failed")
            raise gr.Error(f"{type(e).__name__}: {e}") from None
    return wrapper


# -- model calls (the only code that touches the networks, run on a GPU under ZeroGPU) ----------

@gpu
def run_generate(t: Translator, image, seeds: list[int] | None = None, z=None, fit: bool = True) -> list[Image.Image]:
    """fit: treat the input as a person's drawing: centre and scale it, and keep the paper white
    around it (Translator.generate's fit and clean)."""
    return t.generate(image, z=z, seeds=seeds, fit=fit, clean=fit)


@gpu
def run_translate(t: Translator, image, reverse: bool = False) -> Image.Image:
    return t.translate(image, reverse=reverse)


@gpu
def run_encode(t: Translator, photo) -> np.ndarray:
    return t.encode(photo)


# -- outputs as files ------------------------------------------------------------------------------

# inside Gradio's cache folder. A static path: Gradio serves these as they are, without its
# per-file checks and cache copy for each output (path resolving that took ~20 ms of the server's
# time per 8-image grid); safe, as nothing but out_file writes there and its files never change
# (content-addressed). Gradio's delete_cache never sees them, so out_file prunes them itself: a
# file goes an hour after its last use, as Gradio's own cached files do (see build_demo).
OUTPUTS = Path(get_upload_folder()) / "i2i-outputs"
OUTPUTS_MAX_AGE, PRUNE_EVERY = 3600.0, 600.0
gr.set_static_paths([OUTPUTS])
ENCODERS = ThreadPoolExecutor(2, thread_name_prefix="i2i-png")  # Pillow releases the GIL while encoding
_prune_due = 0.0  # time.monotonic() of the next prune: the first output triggers one


def _prune_outputs_when_due() -> None:
    global _prune_due
    if time.monotonic() >= _prune_due:
        _prune_due = time.monotonic() + PRUNE_EVERY
        ENCODERS.submit(prune_old_files, OUTPUTS, OUTPUTS_MAX_AGE)  # off the request's path


def out_files(images: list[Image.Image]) -> list[str]:
    """out_file for each image, two at a time (8 images at 256 px: ~20 instead of ~35 ms)."""
    return list(ENCODERS.map(out_file, images))


def out_file(img: Image.Image | list[Image.Image]) -> str:
    """An output image (or a list of frames: an animated GIF) as a file for Gradio to serve.

    Files, not PIL images: Gradio 6 rewrites its content-addressed cache file for a PIL image in
    place, so a request still downloading an identical earlier output (same sketch and seed)
    reads a truncated file (seen in benchmarks/load.py). Ours are content-addressed too, but
    written under a temporary name and renamed. PNG at compression level 1: a third of the
    encoding time of the default level 6 (4 vs 11 ms at 256 px) for files about 10% larger.
    """
    buf = io.BytesIO()
    if isinstance(img, list):
        img[0].save(buf, format="GIF", save_all=True, append_images=img[1:], duration=120, loop=0)
    else:
        img.save(buf, format="PNG", compress_level=1)
    data = buf.getvalue()
    path = OUTPUTS / f"{hashlib.sha256(data).hexdigest()[:32]}.{'gif' if isinstance(img, list) else 'png'}"
    _prune_outputs_when_due()
    if path.exists():
        os.utime(path)  # this use restarts its clock (prune_old_files ages files by mtime)
        return str(path)
    OUTPUTS.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=OUTPUTS, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return str(path)


# -- input helpers --------------------------------------------------------------------------------

def file_input(label: str | None = None, file_types: tuple[str, ...] | None = ("image",), **kwargs) -> gr.File:
    """An upload field whose file reaches the handlers as bytes (open_image reads them).

    Not type="filepath": for that, Gradio 6.31 creates an empty temporary file in its cache for
    each event that reads the field, and never deletes or closes it (File._process_single_file):
    one file and one open handle leaked per API call.
    """
    return gr.File(label=label, file_types=list(file_types) if file_types else None, type="binary", **kwargs)


def canvas_array(value) -> np.ndarray | None:
    """A Sketchpad value (or a plain image) as a greyscale array; None when there is no image.

    A value without a composite (an image set on the canvas, never drawn on) gives its
    background. Also what the latent events read: a copy of the drawing kept on the server (a
    gr.State updated after each stroke and on Generate), so that a slider step sends a few
    numbers, not the canvas's layers (see PAGE_JS for what reading the canvas costs in the browser).
    """
    if isinstance(value, dict):
        value = value.get("composite") if value.get("composite") is not None else value.get("background")
    return None if value is None else np.asarray(open_image(value, "L"))


def sketch_image(value) -> np.ndarray:
    """The drawing from a Sketchpad value (or a plain image), refusing an empty canvas."""
    arr = canvas_array(value)
    if arr is None or (arr < 200).sum() < 20:
        raise gr.Error("The canvas is empty: draw an outline (or upload an edge map / a photo) first.")
    return arr


def parse_z(z, nz: int) -> list[float]:
    if isinstance(z, str):
        try:
            z = [float(v) for v in z.replace("[", "").replace("]", "").split(",") if v.strip()]
        except ValueError:
            raise gr.Error("z must be a comma-separated list of numbers") from None
    if not isinstance(z, (list, tuple)) or not all(isinstance(v, (int, float)) for v in z):
        raise gr.Error(f"z must be a list of {nz} numbers")
    return [float(v) for v in z]


def z_text(z) -> str:
    return ", ".join(f"{float(v):.3f}" for v in z)


def model_or_error(name: str) -> Translator:
    return store.get(name or DEFAULT_MODEL)


def latent_model(name: str) -> Translator:
    t = model_or_error(name)
    if not t.uses_z:
        raise gr.Error(f"{name} has no latent code (it is a {t.cfg.model} model): use Translate (API: /translate)")
    return t


# -- Draw tab handlers ----------------------------------------------------------------------------

@user_errors
def generate_grid(sketch, seed, n, model, fit):
    t = model_or_error(model)
    arr = sketch_image(sketch)
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
    return [img, text, *slider_updates(t, z)]


@user_errors
def interpolate_strip(sketch, model, fit, seed_b, photo_b, k, *values):
    t = latent_model(model)
    z0 = list(values[:t.nz])
    z1 = run_encode(t, photo_b) if photo_b is not None else z_for_seed(int(seed_b), t.nz).numpy()
    codes = interpolate(z0, z1, int(k))
    frames = run_generate(t, sketch_image(sketch), z=codes, fit=bool(fit))
    gif = out_file(frames + frames[::-1][1:-1])  # there and back
    return [(f, f"{i + 1}/{len(frames)}") for i, f in enumerate(out_files(frames))], gif


def _canvas(img: Image.Image) -> tuple[dict, np.ndarray]:
    """A Sketchpad value showing `img` (with a composite: that is what the canvas sends back until
    someone draws on it), and the drawing the server keeps for the latent events."""
    rgb = np.asarray(img.convert("RGB"))
    return {"background": rgb, "layers": [], "composite": rgb}, np.asarray(img.convert("L"))


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


# -- API endpoints (stable names for gradio_client; also usable from the docs page) --------------

def api_file(value, what: str) -> bytes:
    """An uploaded file of an API call, as bytes.

    The API events skip Gradio's preprocessing (preprocess=False below): it runs each input's
    preprocess in a worker thread, three thread hops that took 7 ms of a 45 ms slider step on
    the server. So a file arrives as Gradio's FileData dict, its path already checked by Gradio
    to lie in its upload folder, and numbers and text arrive as sent.
    """
    if value is None:
        raise gr.Error(f"give {what}")
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        raise gr.Error(f"give {what} as an uploaded file (gradio_client: handle_file(path))")
    return Path(value["path"]).read_bytes()


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


# -- Train tab ------------------------------------------------------------------------------------

def dataset_choices() -> list[str]:
    found = []
    for root in DATA_ROOTS:
        if root.is_dir():
            found += [str(p) for p in sorted(root.iterdir()) if p.is_dir()]
    return found


@user_errors
def start_training(data, model, size, batch, iters, name, resume):
    if not training_enabled():
        raise gr.Error("training is turned off on this deployment (set I2I_TRAINING=1 to enable it)")
    if job.running():
        raise gr.Error("a training run is already going: stop it first")
    name = (name or "").strip() or "run"
    if not name.replace("-", "").replace("_", "").isalnum():
        raise gr.Error("run name: letters, digits, - and _ only")
    out = RUNS / name
    iters = int(iters)
    # the tab streams ~20 grids and keeps ~10 checkpoints per run, whatever its length
    cadence = dict(sample_every=max(5, iters // 20), checkpoint_every=max(10, iters // 10),
                   log_every=max(1, iters // 100))
    if resume:
        if not (out / "train_state.pt").is_file():
            raise gr.Error(f"nothing to resume in runs/{name}")
        job.start(None, TrainConfig(data="", out=str(out), iters=iters, **cadence), resume=True)
        return f"resuming runs/{name}", gr.Timer(active=True)
    folder = confine(data, DATA_ROOTS)
    paired = model != "cyclegan"
    extra = dict(input_nc=1, sketch_norm=True) if paired and "edges2" in folder.name else {}
    mcfg = model_config(model, size=int(size), ngf=32, ndf=32, **({"nef": 32} if paired else {}), **extra)
    tcfg = TrainConfig(data=str(folder), out=str(out), iters=iters, batch_size=int(batch),
                       direction="BtoA" if folder.name == "facades" else "AtoB", sketch_aug=bool(extra), **cadence)
    job.start(mcfg, tcfg)
    return f"started {model} on {folder.name} -> runs/{name}", gr.Timer(active=True)


@user_errors
def push_run(name, repo_id):
    """Upload runs/<name> (its release, a generated card, the latest sample grid) to the Hub."""
    name = (name or "").strip()
    out = RUNS / name
    if not name.replace("-", "").replace("_", "").isalnum() or not (out / "model.safetensors").is_file():
        raise gr.Error(f"runs/{name} holds no trained model yet: start a run and let it write a checkpoint")
    return f"uploaded runs/{name}: {hub.push(out, (repo_id or '').strip())}"


def stop_training():
    job.stop()
    return "stopping after the current step (a checkpoint is written)"


def poll_training():
    """The run's state for the Train tab; the last poll after a run ends also stops the timer."""
    going = job.running()  # before reading the state: once the thread has ended, its state is final
    s = job.state()
    parts = [s.status]
    if s.total:
        parts.append(f"step {s.step}/{s.total}")
    if s.images_per_sec:
        parts.append(f"{s.images_per_sec:.1f} img/s")
    if s.eta:
        parts.append(f"{format_eta(s.eta)} left")
    if s.error:
        parts.append(s.error)
    if s.status in ("finished", "stopped") and s.out:
        parts.append(f"checkpoint: runs/{Path(s.out).name} (now in the Draw tab's model list)")
    losses = None
    if s.losses:
        import pandas as pd
        rows = [{"step": r["step"], "loss": k, "value": v} for r in s.losses for k, v in r.items()
                if k not in ("step", "lr")]
        losses = pd.DataFrame(rows)
    progress = s.step / s.total if s.total else 0.0
    return " | ".join(parts), gr.update(value=progress * 100), s.sample_path, losses, s.samples_seen, \
        gr.Timer(active=going)


def refresh_models(current):
    names = store.names()
    return gr.update(choices=names, value=current if current in names else (names[0] if names else None))


# -- layout ---------------------------------------------------------------------------------------

CSS = """
#grid .thumbnail-item { aspect-ratio: 1 / 1; }
.zbox textarea { font-family: ui-monospace, monospace; }
#sync_drawing { display: none !important; }  /* Gradio 6.31 still shows a visible="hidden" button */
"""

# Gradio 6's page, on every status message of any event, asks each component that was an input
# or output of an earlier server event (and each component inside such a panel) for its value
# again; for the Sketchpad that means exporting and uploading all its layers, which it then did
# several times a second (slider steps took 1-3 s in Chromium). So no server event takes the
# canvas, or a panel holding it, as an input or output: the server reads and writes hidden
# stand-ins (`panels`, `canvas_copy`), and browser-only steps (`js=`), which have no status
# messages, copy values between them and the page. Nor does the canvas have a change listener:
# with one, it sends its layers to the server after every change and its next value is only an
# id for them, which is empty when the change was an image set by the app (a race in Gradio
# 6.31: Generate then saw an empty canvas); PAGE_JS syncs the drawing after each stroke instead.
PAGE_JS = """
() => {
  // Gradio's Sketchpad ignores strokes until a draw tool is picked; pick the brush on load.
  const pick = () => {
    const b = document.querySelector('#sketch button[aria-label="Brush"], #sketch button[title="Brush"]');
    if (b) { b.click(); return true; }
    return false;
  };
  let tries = 0;
  const t = setInterval(() => { if (pick() || ++tries > 50) clearInterval(t); }, 200);
  // After a stroke, an undo or a clear on the canvas, send the drawing to the server once
  // (the hidden #sync_drawing button), for the sliders and the other latent events.
  let pending = null;
  const sync = (e) => {
    if (!e.target.closest || !e.target.closest('#sketch')) return;
    clearTimeout(pending);
    pending = setTimeout(() => document.querySelector('#sync_drawing')?.click(), 150);
  };
  document.addEventListener('pointerup', sync, true);
  document.addEventListener('keyup', sync, true);
}
"""
SHOW_PANELS = """
(panels) => [panels !== 'plain', panels === 'plain', panels === 'latent', panels === 'latent']
  .map((visible) => ({__type__: 'update', visible}))
"""
COPY = "(value) => value"


def build_demo() -> gr.Blocks:
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
        drawing = gr.State(None)  # canvas_array of the canvas: a 512x512 array (0.25 MB a session)
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
                with gr.Column(scale=1):
                    sketch = gr.Sketchpad(
                        label="Draw here (black pen; eraser and undo in the toolbar)", type="numpy", image_mode="L",
                        canvas_size=(512, 512), elem_id="sketch", height=560,
                        brush=gr.Brush(default_size=2, colors=["#000000"], color_mode="fixed"))  # a radius: 4 px lines, HED-like
                    canvas_copy = gr.Sketchpad(visible=False, type="numpy", image_mode="L")  # see PAGE_JS
                    sync_drawing = gr.Button(visible="hidden", elem_id="sync_drawing")  # pressed by PAGE_JS
                    # browser-only copies between the canvas and its server-side stand-in
                    to_copy = dict(fn=None, inputs=sketch, outputs=canvas_copy, js=COPY, api_visibility="private")
                    to_sketch = dict(fn=None, inputs=canvas_copy, outputs=sketch, js=COPY, api_visibility="private")
                    fit = gr.Checkbox(True, label="Centre and scale my drawing; white paper around it")
                    with gr.Accordion("Start from an image", open=False):
                        edge_upload = file_input("An edge map", elem_id="edge_upload")
                        photo_upload = file_input("A photo (turned into edges)", elem_id="photo_upload")
                        if examples:
                            ex = gr.Image(visible=False, type="filepath")
                            gr.Examples(examples=[[e] for e in examples], inputs=[ex], label="Validation sketches")
                            ex.change(lambda p: edges_to_canvas(Image.open(p).crop((0, 0, 256, 256))) if p else
                                      (gr.skip(), gr.skip()),
                                      ex, [canvas_copy, drawing], api_visibility="private").then(**to_sketch)
                with gr.Column(scale=1):
                    with gr.Row():
                        n = gr.Slider(1, 16, value=8, step=1, label="Images")
                        seed = gr.Number(0, label="First seed", precision=0)
                    with gr.Row():
                        go = gr.Button("Generate", variant="primary", elem_id="generate")
                        new_seeds = gr.Button("New seeds")
                    gallery = gr.Gallery(label="Seed grid (click one to load its z)", columns=4, format="png",
                                         elem_id="grid", object_fit="contain", allow_preview=False)
            with gr.Group(visible=True) as latent_box:
                with gr.Row():
                    with gr.Column(scale=2):
                        sliders = []
                        for row in range(MAX_SLIDERS // 2):
                            with gr.Row():
                                sliders += [gr.Slider(-3, 3, value=0, step=0.05, label=f"z[{i}]", visible=i < 8,
                                                      elem_id=f"z{i}") for i in (2 * row, 2 * row + 1)]
                        with gr.Row():
                            randomise = gr.Button("Random z")
                            zero = gr.Button("z = 0")
                        ztext = gr.Textbox(label="Current z (copyable)", buttons=["copy"], elem_classes="zbox",
                                           interactive=False)
                    with gr.Column(scale=1):
                        latent_out = gr.Image(label="Output for this z", format="png", elem_id="latent_out",
                                              interactive=False)
            with gr.Accordion("Style from a photo, interpolation", open=False, visible=True) as extras:
                with gr.Row():
                    style_photo = file_input("A photo whose style to copy (encoded by E)")
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
                data = gr.Dropdown(dataset_choices(), label="Dataset folder", allow_custom_value=True,
                                   elem_id="train_data")
                tmodel = gr.Dropdown(["bicyclegan", "cvaegan", "clrgan", "pix2pix", "cyclegan"], value="bicyclegan",
                                     label="Model")
                size = gr.Dropdown([64, 128, 256], value=64, label="Size", elem_id="train_size")
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
                None, panels, panel_boxes, js=SHOW_PANELS, api_visibility="private")
        ui_model = dict(api_visibility="private", **MODEL_QUEUE)  # UI-only events that run a network
        sync_drawing.click(**to_copy, trigger_mode="always_last").then(
            canvas_array, canvas_copy, drawing, show_progress="hidden", api_visibility="private")
        grid = dict(fn=generate_grid, inputs=[canvas_copy, seed, n, model, fit], outputs=[gallery, seeds_state, drawing],
                    **ui_model)
        go.click(**to_copy).then(**grid)
        new_seeds.click(lambda: random.randrange(100_000), None, seed, api_visibility="private").then(
            **to_copy).then(**grid)
        # the latent events read `drawing`, not the canvas (see canvas_array)
        gallery.select(select_seed, [seeds_state, model, drawing, fit], [latent_out, ztext, *sliders], **ui_model)
        for s in sliders:  # live while dragging; a fast drag keeps only the latest request
            s.input(render_latent, [drawing, model, fit, *sliders], [latent_out, ztext], trigger_mode="always_last",
                    show_progress="hidden", **ui_model)
        randomise.click(functools.partial(set_z, "random"), [model, drawing, fit], [latent_out, ztext, *sliders],
                        **ui_model)
        zero.click(functools.partial(set_z, "zero"), [model, drawing, fit], [latent_out, ztext, *sliders], **ui_model)
        style_photo.upload(style_from_photo, [style_photo, model, drawing, fit], [latent_out, ztext, *sliders],
                           **ui_model)
        interp.click(interpolate_strip, [drawing, model, fit, seed_b, photo_b, k, *sliders], [strip, gif],
                     **ui_model)
        t_go.click(translate_image, [t_in, model, t_rev], t_out, **ui_model)
        for upload, to_canvas in ((photo_upload, photo_to_canvas), (edge_upload, edges_to_canvas)):
            upload.upload(to_canvas, upload, [canvas_copy, drawing], api_visibility="private").then(**to_sketch)
        start.click(functools.partial(start_training, resume=False), [data, tmodel, size, batch, iters, run_name],
                    [status, timer], api_visibility="private")
        resume.click(functools.partial(start_training, resume=True), [data, tmodel, size, batch, iters, run_name],
                     [status, timer], api_visibility="private")
        stop.click(stop_training, None, status, api_visibility="private")
        push.click(push_run, [run_name, repo_id], status, api_visibility="private")
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
demo = build_demo()
# Model calls wait in one first-come-first-served line (MODEL_QUEUE), one at a time: the forward
# passes are serialised in the Translator anyway, and a single line keeps latency fair (a lock
# taken by several worker threads is not FIFO: it let some requests starve under load). Other
# events (training polls, uploads) run up to 4 at once. Up to 32 wait (8 s of grids at 128 px on
# 2 quiet cores, a minute on a host 5x as busy); a request beyond that is answered at once with
# HTTP 503 "Queue is full" (the page shows it as an error) rather than waiting past a time-out.
# Gradio 6.31 rebuilds a pandas summary of its last 10,000 events after every event, for a
# monitoring page this app does not enable: 3 ms per event at first, 24 ms once 10,000 events are
# recorded (a server slows down with use). Once per 1,000 events is plenty (read at queue()).
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
demo.queue(default_concurrency_limit=4, max_size=32)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # state_session_capacity: each new session copies every component's config (~0.2 MB here);
    # REST callers that send no session hash make one per request, so keep the newest 1,000 only
    demo.launch(theme=gr.themes.Soft(), css=CSS, js=PAGE_JS, max_file_size="10mb", state_session_capacity=1000)
