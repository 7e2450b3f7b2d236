"""The Train tab's handlers: start, resume and stop a background run, and poll its progress."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from i2i import hub
from i2i.data import DataError
from i2i.models import model_config
from i2i.recipe import propose_recipe
from i2i.studio import PathError, confine, format_eta, training_enabled
from i2i.train import TrainConfig, resume_configs
from ui.errors import user_errors
from ui.state import DATA_ROOTS, RUNS, job


def dataset_choices() -> list[str]:
    found = []
    for root in DATA_ROOTS:
        if root.is_dir():
            found += [str(p) for p in sorted(root.iterdir()) if p.is_dir()]
    return found


def default_dataset(choices: list[str]) -> str | None:
    """The shipped model's data (edges2shoes) when it is there: the first folder in alphabetical
    order (edges2handbags) is not what a newcomer expects."""
    return next((c for c in choices if Path(c).name == "edges2shoes"), choices[0] if choices else None)


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
        mcfg, tcfg = resume_configs(out, dict(iters=iters, **cadence))
        job.start(mcfg, tcfg, resume=True)
        return f"resuming runs/{name}", gr.Timer(active=True)
    folder = confine(data, DATA_ROOTS)
    recipe = propose_recipe(folder)
    mcfg = model_config(model, **{**recipe.model_fields(model), "size": int(size)})
    tcfg = TrainConfig(data=str(folder), out=str(out), iters=iters, batch_size=int(batch), **recipe.train_fields(),
                       **cadence)
    job.start(mcfg, tcfg)
    return f"started {model} on {folder.name} -> runs/{name}", gr.Timer(active=True)


def propose(data):
    """The recipe for the folder picked (i2i.recipe: read from its images): its size goes into the
    Size field, and what led to it is shown."""
    if not data:
        return gr.skip(), ""
    try:
        recipe = propose_recipe(confine(data, DATA_ROOTS))
    except (PathError, DataError) as e:
        return gr.skip(), str(e)
    return recipe.size, f"Proposed from the images: {recipe.summary()}."


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
