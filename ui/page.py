"""The page's own JavaScript and CSS (page.js, page.css beside this file) and the browser-only
snippets that app.py's events run (`js=`).

Gradio 6's page, on every status message of any event, asks each component that was an input
or output of an earlier server event (and each component inside such a panel) for its value
again; for the Sketchpad that means exporting and uploading all its layers, which it then did
several times a second (each slider step waited behind those uploads). So no server event takes the
canvas, or a panel holding it, as an input or output: the server reads and writes hidden
stand-ins (`panels`, `canvas_copy`), and browser-only steps (`js=`), which have no status
messages, copy values between them and the page. Nor does the canvas have a change listener:
with one, it sends its layers to the server after every change and its next value is only an
id for them, which is empty when the change was an image set by the app (a race in Gradio
6.31: Generate then saw an empty canvas); page.js redraws after each stroke instead, sending the
canvas as it reads it (VIEW, one request) or, without centring, the editor's exported layers.
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGE_JS = (HERE / "page.js").read_text()
CSS = (HERE / "page.css").read_text()
# model_changed's "latent" / "plain" / "none" as the visibility of the draw, translate, latent and
# extras panels, set in the browser (the panels hold the canvas)
SHOW_PANELS = """
(panels) => [panels !== 'plain', panels === 'plain', panels === 'latent', panels === 'latent']
  .map((visible) => ({__type__: 'update', visible}))
"""
# a value copied between the canvas and its server-side stand-in, in the browser
COPY = "(value) => value"
# the view page.js read from the canvas (a PNG data URL) as #view_redraw's first input
VIEW = "(view, ...rest) => [window.i2i?.view ?? null, ...rest]"
# In <head>, before the page's scripts: WebGL canvases keep their drawing buffer after it is
# shown, so page.js can read the Sketchpad as the person sees it at any time (by default the
# buffer is cleared once composited, and a read returns a transparent image). Costs a buffer copy
# per frame the editor draws, which it does only while something changes.
HEAD = """<script>
(() => {
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, options) {
    if (/webgl/.test(String(type))) options = { ...(options || {}), preserveDrawingBuffer: true };
    return getContext.call(this, type, options);
  };
})();
</script>"""
# the hooks of page.js: a slider step, a z set by the server, a server redraw done, the model's
# in-browser engine (ui/web_engine.py's spec, or null)
SLIDER = "(...z) => { window.i2i?.slider(z); }"
Z_SET = "(...z) => { window.i2i?.zSet(z); }"
SERVER_DONE = "() => { window.i2i?.serverDone(); }"
REDRAW = "() => { window.i2i?.strokeEnd(); }"  # as after a stroke (the centring was switched)
SET_MODEL = "(spec) => { window.i2i?.setModel(spec); }"
