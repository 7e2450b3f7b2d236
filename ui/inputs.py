"""Reading what a user or an API caller sent: upload fields, the canvas, z as text or a list."""
from __future__ import annotations

import base64
import binascii
from pathlib import Path

import gradio as gr
import numpy as np

from i2i.images import open_image


def file_input(label: str | None = None, file_types: tuple[str, ...] | None = ("image",), **kwargs) -> gr.File:
    """An upload field whose file reaches the handlers as bytes (open_image reads them).

    Not type="filepath": for that, Gradio 6.31 creates an empty temporary file in its cache for
    each event that reads the field, and never deletes or closes it (File._process_single_file):
    one file and one open handle leaked per API call.
    """
    return gr.File(label=label, file_types=list(file_types) if file_types else None, type="binary", **kwargs)


VIEW_PREFIX = "data:image/png;base64,"
MAX_VIEW_CHARS = 8_000_000  # a 2,000 x 2,000 screenshot of a drawing is well under this


def view_array(view) -> np.ndarray:
    """The canvas as the page sent it (ui/pad.js's png(): a PNG data URL) as a greyscale array."""
    if not isinstance(view, str) or not view.startswith(VIEW_PREFIX):
        raise gr.Error("the page sent no drawing (a PNG data URL was expected): reload the page")
    if len(view) > MAX_VIEW_CHARS:
        raise gr.Error(f"the drawing the page sent is too large ({len(view) / 1e6:.0f} MB)")
    try:
        data = base64.b64decode(view[len(VIEW_PREFIX):], validate=True)
    except binascii.Error:
        raise gr.Error("the drawing the page sent is not valid base64: reload the page") from None
    return np.asarray(open_image(data, "L"))


def sketch_image(value) -> np.ndarray:
    """A drawing (an array, or an image file's bytes) as a greyscale array, refusing an empty one."""
    arr = None if value is None else np.asarray(open_image(value, "L"))
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


def api_file(value, what: str) -> bytes:
    """An uploaded file of an API call, as bytes.

    The API events skip Gradio's preprocessing (preprocess=False in app.py): it runs each input's
    preprocess in a worker thread, three thread hops per call, a large share of a slider step's
    time on the server. So a file arrives as Gradio's FileData dict, its path already checked by Gradio
    to lie in its upload folder, and numbers and text arrive as sent.
    """
    if value is None:
        raise gr.Error(f"give {what}")
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        raise gr.Error(f"give {what} as an uploaded file (gradio_client: handle_file(path))")
    return Path(value["path"]).read_bytes()
