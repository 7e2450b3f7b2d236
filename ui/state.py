"""The app's process-wide state: settings read from the environment, the model store (loaded
models) and the one background training job."""
from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from i2i.infer import Translator
from i2i.studio import ModelStore, TrainingJob
from ui.model_calls import ZERO_GPU

ROOT = Path(__file__).resolve().parents[1]  # the repository: checkpoints/, runs/, data/
DEFAULT_MODEL = os.environ.get("I2I_DEFAULT_MODEL", "edges2shoes")  # the model the app opens with
MAX_SLIDERS = 16
EXAMPLES_DIR = ROOT.parent / "shared" / "data" / "edges2shoes" / "val"
DATA_ROOTS = [Path(p) for p in os.environ.get("I2I_DATA_ROOTS", "").split(os.pathsep) if p] or \
    [ROOT.parent / "shared" / "data", ROOT / "data"]
RUNS = Path(os.environ.get("I2I_RUNS_DIR", ROOT / "runs"))

# every event that runs a network shares this first-come-first-served line (see demo.queue in app.py)
MODEL_QUEUE = dict(concurrency_id="model", concurrency_limit=1)
# ... but for a stroke's redraw (one image, ~25 ms of model here): one plain POST outside the
# queue, whose join request and event stream were most of the time from stroke to image
# (benchmarks/browser.py). Its forward pass still takes its turn (Translator's lock). Under
# ZeroGPU, where each call is lent a GPU, it keeps its place in the line.
STROKE_CALL = dict(api_visibility="private", **(MODEL_QUEUE if ZERO_GPU else dict(queue=False)))

store = ModelStore({"": ROOT / "checkpoints", "runs": RUNS},
                   [h.strip() for h in os.environ.get("I2I_HUB_MODELS", "").split(",") if h.strip()])
job = TrainingJob()


def model_or_error(name: str) -> Translator:
    return store.get(name or DEFAULT_MODEL)


def latent_model(name: str) -> Translator:
    t = model_or_error(name)
    if not t.uses_z:
        raise gr.Error(f"{name} has no latent code (it is a {t.cfg.model} model): use Translate (API: /translate)")
    return t
