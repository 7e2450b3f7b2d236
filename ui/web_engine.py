"""What the page needs to draw in the visitor's browser: the app serves static/ (the page's
JavaScript), onnxruntime-web's WebAssembly build (node_modules/, installed by `npm ci`) and each
model's ONNX generator itself (an int8 copy for a line-drawing model), so the page works
offline and on a Space (no CDN).

`web_spec` tells the page where those files are for one model, or None when the model stays on
the server (no latent code, no onnxruntime-web installed, an export that failed); the page then
decides by measuring whether it is fast enough (static/engine.js).
"""
from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import gradio as gr

from i2i.checkpoint import WEIGHTS_FILE, CheckpointError, resolve
from i2i.onnx_file import ONNX_FILE, PAGE_FILE, OnnxFileError, ensure_onnx
from ui.state import model_or_error

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
ORT = ROOT / "node_modules" / "onnxruntime-web" / "dist"
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")

log = logging.getLogger(__name__)


def file_url(path: Path) -> str:
    """The URL (relative to the page) at which Gradio serves a static file."""
    return f"gradio_api/file={path.resolve()}"


def serve_static() -> bool:
    """Serve static/ and onnxruntime-web's files; False when they are missing and cannot be installed.

    A Space builds from requirements.txt and packages.txt (Node.js) only, never `npm ci`: where
    the runtime is missing and npm is there, it is installed here, once (package-lock.json pins it).
    """
    gr.set_static_paths([STATIC])
    if not all((ORT / f).is_file() for f in ORT_FILES) and shutil.which("npm"):
        log.info("installing onnxruntime-web (npm ci)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=ROOT, timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if not all((ORT / f).is_file() for f in ORT_FILES):
        log.warning("onnxruntime-web is not installed (run `npm ci`): the page draws on the server only")
        return False
    gr.set_static_paths([ORT / f for f in ORT_FILES])
    return True


_chosen: dict[Path, tuple[tuple, Path]] = {}  # release folder -> (its files' mtimes, the file the page runs)


def _page_file(folder: Path, sketch_model: bool) -> Path:
    """The file the page runs: generator.int8.onnx for a line-drawing model (twice as fast in
    WebAssembly), else, or where int8 cannot be made close enough, generator.onnx. Checked or
    written once per change of the files (each page load asks)."""
    def stamp() -> tuple:
        return tuple(f.stat().st_mtime if f.is_file() else None for f in (folder / WEIGHTS_FILE, folder / PAGE_FILE,
                                                                            folder / ONNX_FILE))
    cached = _chosen.get(folder)
    if cached is not None and cached[0] == stamp():
        return cached[1]
    path = None
    if sketch_model:
        try:
            path = ensure_onnx(folder, page=True)
        except OnnxFileError as e:
            log.warning("the page runs %s in fp32: %s", folder.name, e)
    path = path or ensure_onnx(folder)
    _chosen[folder] = (stamp(), path)
    return path


def web_spec(model: str, ort_served: bool) -> dict | None:
    """Where the page finds this model's ONNX generator and the runtime, and the model's shapes;
    None when the page must use the server (the reason is logged)."""
    try:
        t = model_or_error(model)
        if not (t.uses_z and ort_served):
            return None
        onnx = _page_file(resolve(t.source), t.cfg.sketch_norm)
    except (CheckpointError, OSError, ValueError) as e:  # a broken model, an unwritable folder, a failed export
        log.warning("%s stays on the server: %s", model, e)
        return None
    gr.set_static_paths([onnx])
    cfg = t.cfg
    return {"static": file_url(STATIC) + "/", "model": file_url(onnx), "bytes": onnx.stat().st_size, "ort": file_url(ORT / ORT_FILES[0]),
            "wasm": file_url(ORT) + "/", "config": {"size": cfg.size, "nz": cfg.nz, "input_nc": cfg.input_nc,
                                                      "output_nc": cfg.output_nc}}


class CrossOriginIsolation:
    """ASGI middleware: every response says the page may be cross-origin isolated (COOP
    same-origin, COEP credentialless), which lets onnxruntime-web run the model on several threads
    (WebAssembly threads need SharedArrayBuffer). `credentialless` still loads cross-origin files
    such as a theme's fonts, without cookies. In a Space's iframe the embedding page decides and
    the page is not isolated: one thread, as without these headers.
    """

    HEADERS = [(b"cross-origin-opener-policy", b"same-origin"), (b"cross-origin-embedder-policy", b"credentialless")]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_isolated(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.HEADERS]}
            await send(message)
        await self.app(scope, receive, send_isolated)

