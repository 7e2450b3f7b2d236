"""Experiment trackers beside log.jsonl and the sample grids: TensorBoard or trackio (optional extras).

A tracker consumes the training loop's events, as the CLI and the app do: losses and the
learning rate at each `log` event, the sample grid at each `sample` event. It opens on the
`start` event (when run.json holds the run's final settings, resumed or not) and closes when
the run ends or its consumer stops reading.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np
from PIL import Image

TRACKERS = ("tensorboard", "trackio")
EXTRAS = "pip install -r requirements-extras.txt"


class Tracker(Protocol):
    def log(self, step: int, values: dict[str, float]) -> None: ...
    def image(self, step: int, image: Image.Image) -> None: ...
    def close(self) -> None: ...


class TensorBoard:
    """Event files in <run>/tensorboard (`tensorboard --logdir runs`); a resumed run appends."""

    def __init__(self, out: Path, config: dict):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ValueError(f"--log tensorboard needs the tensorboard package: {EXTRAS}") from None
        self.writer = SummaryWriter(log_dir=str(out / "tensorboard"))
        self.writer.add_text("config", "```json\n" + json.dumps(config, indent=2) + "\n```")

    def log(self, step: int, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.writer.add_scalar(k, v, step)
        self.writer.flush()  # a killed run keeps what it logged

    def image(self, step: int, image: Image.Image) -> None:
        self.writer.add_image("samples", np.asarray(image.convert("RGB")), step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class Trackio:
    """A trackio run named after the run folder in project "i2i" (`trackio show` opens the
    dashboard); a resumed run goes on with the same trackio run."""

    def __init__(self, out: Path, config: dict):
        try:
            import trackio
        except ImportError:
            raise ValueError(f"--log trackio needs the trackio package: {EXTRAS}") from None
        self.trackio = trackio
        trackio.init(project="i2i", name=out.name, config=config, resume="allow", embed=False)

    def log(self, step: int, values: dict[str, float]) -> None:
        self.trackio.log(values, step=step)

    def image(self, step: int, image: Image.Image) -> None:
        self.trackio.log({"samples": self.trackio.Image(image)}, step=step)

    def close(self) -> None:
        self.trackio.finish()


def check_tracker(name: str | None) -> None:
    """A known tracker whose package is installed, checked before the run loads anything."""
    import importlib.util

    if name is None:
        return
    if name not in TRACKERS:
        raise ValueError(f"--log must be one of {', '.join(TRACKERS)}; got {name!r}")
    if importlib.util.find_spec(name) is None:
        raise ValueError(f"--log {name} needs the {name} package: {EXTRAS}")


def tracked(events: Iterator, name: str, out: Path) -> Iterator:
    """Pass the loop's events through, sending each log and sample event to tracker `name`."""
    check_tracker(name)
    tracker: Tracker | None = None
    try:
        for ev in events:
            if ev.kind == "start":
                config = json.loads((out / "run.json").read_text())
                tracker = TensorBoard(out, config) if name == "tensorboard" else Trackio(out, config)
            elif tracker is not None and ev.kind == "log":
                tracker.log(ev.step, ev.logs)
            elif tracker is not None and ev.kind == "sample" and ev.image is not None:
                tracker.image(ev.step, ev.image)
            yield ev
    finally:
        if tracker is not None:
            tracker.close()
