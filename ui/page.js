() => {
  // Gradio's Sketchpad ignores strokes until a draw tool is picked; pick the brush on load.
  const pick = () => {
    const b = document.querySelector('#sketch button[aria-label="Brush"], #sketch button[title="Brush"]');
    if (b) { b.click(); return true; }
    return false;
  };
  let tries = 0;
  const t = setInterval(() => { if (pick() || ++tries > 50) clearInterval(t); }, 200);

  // The output follows the pen. After a stroke, an erase, an undo or a clear, the output for the
  // current z is drawn again: in the page when the in-browser engine runs (static/browser.js),
  // else by the server. One server redraw at a time: a stroke made while one runs is drawn when
  // it returns (only the latest drawing).
  const i2i = window.i2i = { engine: null, spec: null, busy: false, dirty: false, frames: [], view: null, marks: {} };
  i2i.status = (text) => { const s = document.querySelector('#engine_status p, #engine_status'); if (s) s.textContent = text; };
  i2i.fit = () => document.querySelector('#fit input[type=checkbox]')?.checked ?? true;
  // The canvas as the person sees it, as ImageData, or null when it cannot be read. Gradio's
  // Sketchpad draws it with WebGL; HEAD (ui/page.py) keeps that buffer readable after it is shown.
  // After a stroke it is read in the next animation frame (wait): the editor draws the stroke's
  // last points in that frame's first callback (its ticker's), before this one.
  const read = () => {
    const src = document.querySelector('#sketch .pixi-target canvas') || document.querySelector('#sketch canvas');
    if (!src || !src.width) return null;
    const c = document.createElement('canvas');
    c.width = src.width; c.height = src.height;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(src, 0, 0);
    const px = g.getImageData(0, 0, c.width, c.height);
    // the editor always paints its paper: an all-transparent read is a cleared buffer, not a drawing
    for (let i = 3; i < px.data.length; i += 4 * 97) if (px.data[i]) return px;
    return null;
  };
  i2i.capture = (wait = true) => wait ? new Promise((resolve) => requestAnimationFrame(() => resolve(read()))) : Promise.resolve(read());
  // The view as a PNG data URL for the server (#view_redraw), or null
  i2i.viewPng = async () => {
    const px = await i2i.capture();
    if (!px) return null;
    const c = document.createElement('canvas');
    c.width = px.width; c.height = px.height;
    c.getContext('2d').putImageData(px, 0, 0);
    return c.toDataURL('image/png');
  };
  // The server's redraw: with "centre and scale" on, the view read here goes in one request
  // (#view_redraw); otherwise, or when the view cannot be read, Gradio exports the paper's exact
  // pixels (#sync_drawing: its layers uploaded, then a second event redraws).
  i2i.serverRedraw = async () => {
    if (i2i.busy) { i2i.dirty = true; return; }
    i2i.busy = true;
    clearTimeout(i2i.guard);
    i2i.guard = setTimeout(i2i.serverDone, 30000);  // never stuck if a reply is lost
    i2i.view = i2i.fit() ? await i2i.viewPng() : null;
    i2i.marks.read = performance.now();
    document.querySelector(i2i.view ? '#view_redraw' : '#sync_drawing')?.click();
  };
  i2i.serverDone = () => {  // the last step of #view_redraw's and #sync_drawing's events
    i2i.busy = false;
    i2i.view = null;
    clearTimeout(i2i.guard);
    if (i2i.dirty) { i2i.dirty = false; i2i.serverRedraw(); }
  };
  i2i.strokeEnd = () => (i2i.marks = { start: i2i.inputAt, handled: performance.now() }, i2i.engine && i2i.engine.stroke()) || i2i.serverRedraw();
  // slider steps (their events run only in the page): here, or the server's #slider_redraw
  i2i.slider = (z) => (i2i.inputAt = performance.now(), i2i.engine && i2i.engine.slider(z)) || document.querySelector('#slider_redraw')?.click();
  // a z set by the server (a seed picked, random z, style from a photo): drawn here too
  i2i.zSet = (z) => i2i.engine && i2i.engine.slider(z);
  // the model's in-browser engine (ui/web_engine.py's spec), or null: the server path
  i2i.setModel = (spec) => {
    i2i.engine = null;
    i2i.spec = spec;
    document.querySelector('#latent_out')?.classList.remove('page-engine');
    if (!spec) { i2i.status('Drawing on the server'); return; }
    // ?engine=server keeps the page on the server; ?engine=browser skips the speed rule (tests, benchmarks)
    const asked = new URLSearchParams(location.search).get('engine');
    if (asked === 'server') { i2i.status('Drawing on the server (asked for in the address)'); return; }
    i2i.status('Drawing on the server (loading the in-browser engine…)');
    import(new URL(spec.static + 'browser.js', document.baseURI).href)
      .then((m) => m.start(i2i, spec, asked === 'browser' ? { budgetMs: Infinity } : {}))
      .catch((e) => i2i.status(`Drawing on the server (${String(e.message || e).slice(0, 120)})`));
  };

  let pending = null;
  const stroke = (e) => {
    if (!e.target.closest || !e.target.closest('#sketch')) return;
    i2i.inputAt = performance.now();  // when the stroke ended: what the redraw is timed from
    clearTimeout(pending);
    // after the other listeners of this event (the editor's own); both paths draw the latest
    // drawing only, however fast the strokes come
    pending = setTimeout(i2i.strokeEnd, 0);
  };
  document.addEventListener('pointerup', stroke, true);
  document.addEventListener('keyup', stroke, true);
}
