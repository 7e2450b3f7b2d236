"""What an interactive front end needs around the library: a cache of loaded models, one
background training job that streams its events, and dataset paths confined to allowed roots.

UI-free on purpose: app.py (Gradio) is a skin over this, and tests drive it directly.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import CONFIG_FILE, CheckpointError, WEIGHTS_FILE
from .models import ModelConfig
from .infer import Translator
from .train import Event, TrainConfig, train

log = logging.getLogger(__name__)


class ModelStore:
    """Named models: release folders under labelled roots, and Hub repo ids.

    roots maps a label to a folder: the release `x` in a root labelled "" is named "x", in one
    labelled "runs" it is "runs/x". Each model is loaded once, on first use, and kept until its
    weights file changes (a training run wrote a newer checkpoint).
    """

    def __init__(self, roots: dict[str, Path], hub_ids: list[str] = (), device: str = "auto"):
        self.roots = {label: Path(r) for label, r in roots.items()}
        self.hub_ids, self.device = list(hub_ids), device
        self._loaded: dict[str, tuple[Path | None, float | None, Translator]] = {}  # name -> (weights, mtime, model)
        self._lock = threading.Lock()

    def local(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for label, root in self.roots.items():
            if not root.is_dir():
                continue
            for d in sorted(p for p in root.iterdir() if (p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file()):
                found.setdefault(f"{label}/{d.name}" if label else d.name, d)
        return found

    def names(self) -> list[str]:
        local = list(self.local())
        return local + [h for h in self.hub_ids if h not in local]

    def get(self, name: str) -> Translator:
        with self._lock:
            cached = self._loaded.get(name)
            if cached is not None and _mtime(cached[0]) == cached[1]:
                return cached[2]  # a hit costs one stat, no folder scan
            local = self.local()
            if name in local:
                source: str | Path = local[name]
                weights: Path | None = local[name] / WEIGHTS_FILE
            elif name in self.hub_ids:
                source, weights = name, None
            else:
                names = list(local) + [h for h in self.hub_ids if h not in local]
                raise CheckpointError(f"unknown model {name!r}; available: {', '.join(names) or 'none'}")
            version = _mtime(weights)
            t = Translator.load(source, device=self.device)
            self._loaded[name] = (weights, version, t)
            return t


def _mtime(path: Path | None) -> float | None:
    """Modification time of a local weights file (None for Hub models, -1 once it is gone)."""
    if path is None:
        return None
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


class PathError(ValueError):
    """A dataset path outside the allowed roots."""


def confine(path: str, roots: list[Path]) -> Path:
    """Resolve `path` (a relative path against each root in turn) and refuse anything outside `roots`.

    Symlinks are resolved first, so a link inside a root that points elsewhere is refused too.
    """
    if not path or not path.strip():
        raise PathError("give a dataset folder")
    if "\x00" in path:
        raise PathError("invalid path")
    p = Path(path.strip()).expanduser()
    candidates = [p] if p.is_absolute() else [r / p for r in roots]
    real_roots = [r.resolve() for r in roots]
    for c in candidates:
        real = c.resolve()
        if any(real == r or r in real.parents for r in real_roots):
            if not real.is_dir():
                raise PathError(f"dataset folder not found: {path}")
            return real
    raise PathError(f"{path} is outside the allowed dataset folders ({', '.join(str(r) for r in roots)})")


@dataclass
class JobState:
    status: str = "idle"              # idle, loading, running, finished, stopped, failed
    step: int = 0
    total: int = 0
    elapsed: float = 0.0
    images_per_sec: float = 0.0
    losses: list[dict] = field(default_factory=list)
    sample_path: str | None = None
    samples_seen: int = 0
    checkpoint: str | None = None
    out: str | None = None
    error: str | None = None

    @property
    def eta(self) -> float | None:
        if self.status != "running" or self.step == 0:
            return None
        return self.elapsed / max(self.step, 1) * (self.total - self.step)


class TrainingJob:
    """At most one training run at a time, in a daemon thread; the UI polls `state()`."""

    def __init__(self) -> None:
        self._state = JobState()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, mcfg: ModelConfig | None, tcfg: TrainConfig, resume: bool = False) -> None:
        """Run train(mcfg, tcfg, resume=resume) in the background (mcfg may be None to resume)."""
        if self.running():
            raise RuntimeError("a training run is already going; stop it first")
        self._stop = threading.Event()
        with self._lock:
            self._state = JobState(status="loading", total=tcfg.iters, out=tcfg.out)
        self._thread = threading.Thread(target=self._run, args=(mcfg, tcfg, resume), daemon=True, name="i2i-train")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def state(self) -> JobState:
        with self._lock:
            s = self._state
            return JobState(**{**s.__dict__, "losses": list(s.losses)})

    def _run(self, mcfg, tcfg, resume) -> None:
        try:
            for ev in train(mcfg, tcfg, resume=resume, stop=self._stop):
                self._update(ev)
        except Exception as e:  # the UI shows it; the server keeps serving
            log.exception("training failed")
            with self._lock:
                self._state.status, self._state.error = "failed", f"{type(e).__name__}: {e}"

    def _update(self, ev: Event) -> None:
        with self._lock:
            s = self._state
            s.step, s.total, s.elapsed = ev.step, ev.total, ev.elapsed
            s.images_per_sec = ev.images_per_sec or s.images_per_sec
            if ev.kind == "start":
                s.status = "running"
            elif ev.kind == "log":
                s.losses.append({"step": ev.step, **ev.logs})
            elif ev.kind == "sample":
                s.sample_path, s.samples_seen = ev.path, s.samples_seen + 1
            elif ev.kind == "checkpoint":
                s.checkpoint = ev.path
            elif ev.kind == "done":
                s.status = "stopped" if ev.message == "stopped" else "finished"


def training_enabled() -> bool:
    """Training tab: on locally, off on a Hugging Face Space unless I2I_TRAINING=1 turns it on."""
    flag = os.environ.get("I2I_TRAINING")
    if flag is not None:
        return flag.strip().lower() in ("1", "true", "yes", "on")
    return "SPACE_ID" not in os.environ


def prune_old_files(folder: Path, max_age: float) -> int:
    """Delete the files in `folder` not modified for `max_age` seconds; returns how many.

    For a folder of outputs served as they are (a Gradio static path): Gradio's own cache
    clean-up only deletes files it copied into its cache, so without this they pile up forever.
    """
    cutoff, removed = time.time() - max_age, 0
    for path in Path(folder).glob("*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another process (or thread) pruned it first
            pass
    return removed


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return ""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s"


