"""Output images as files for Gradio to serve: content-addressed, written atomically, pruned."""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder
from PIL import Image

from i2i.studio import prune_old_files

# inside Gradio's cache folder. A static path: Gradio serves these as they are, without its
# per-file checks and cache copy for each output (path resolving that costs the server more than
# the encoding on a grid); safe, as nothing but out_file writes there and its files never change
# (content-addressed). Gradio's delete_cache never sees them, so out_file prunes them itself: a
# file goes an hour after its last use, as Gradio's own cached files do (see build_demo in app.py).
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
    """out_file for each image, two at a time."""
    return list(ENCODERS.map(out_file, images))


def out_file(img: Image.Image | list[Image.Image]) -> str:
    """An output image (or a list of frames: an animated GIF) as a file for Gradio to serve.

    Files, not PIL images: Gradio 6 rewrites its content-addressed cache file for a PIL image in
    place, so a request still downloading an identical earlier output (same sketch and seed)
    reads a truncated file (seen in benchmarks/load.py). Ours are content-addressed too, but
    written under a temporary name and renamed. PNG at compression level 1: much quicker to
    encode than the default level 6, for files slightly larger.
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
