"""The page's own JavaScript and CSS (page.js, page.css, pad.js beside this file), the drawing
pad's HTML, and the browser-only snippets that app.py's events run (`js=`).

The canvas is our own (PAD_HTML, pad.js): a 2D canvas the page reads at once. The server never
takes it as an event's input: the page sends what it shows as a PNG data URL in a hidden textbox
(VIEW, VIEW_NOW) and the server keeps the drawing it last saw (`drawing`) for the slider events,
so a slider step sends a few numbers. Images the app puts on the paper come back as data URLs
(TO_PAD).
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
PAD_JS = (HERE / "pad.js").read_text()
PAD_HTML = """<div class="pad">
  <label class="pad-label">Draw</label>
  <div class="pad-tools" role="toolbar" aria-label="Drawing tools">
    <button type="button" data-tool="pen" aria-pressed="true">Pen</button>
    <button type="button" data-tool="eraser" aria-pressed="false">Eraser</button>
    <button type="button" data-act="undo">Undo</button>
    <button type="button" data-act="clear">Clear</button>
  </div>
  <canvas width="512" height="512" tabindex="0" aria-label="Drawing paper: draw a shoe's outline"></canvas>
</div>"""
# the view page.js read from the canvas at a stroke's end (a PNG data URL) as #view_redraw's first input
VIEW = "(view, ...rest) => [window.i2i?.view ?? null, ...rest]"
# the canvas as it is now, as an event's first input (Generate, interpolate)
VIEW_NOW = "(view, ...rest) => [window.i2iPad?.png() ?? null, ...rest]"
# an image the server made for the canvas (a PNG data URL) put on the paper
TO_PAD = "(url) => { if (url) window.i2iPad?.load(url); }"
# the hooks of page.js: a slider step, a z set by the server, a server redraw done, the model's
# in-browser engine (ui/web_engine.py's spec, or null)
SLIDER = "(...z) => { window.i2i?.slider(z); }"
Z_SET = "(...z) => { window.i2i?.zSet(z); }"
SERVER_DONE = "() => { window.i2i?.serverDone(); }"
REDRAW = "() => { window.i2i?.strokeEnd(); }"  # as after a stroke (the centring was switched)
SET_MODEL = "(spec) => { window.i2i?.setModel(spec); }"
