() => {
  // The output follows the pen. After a stroke, an erase, an undo or a clear, the output for the
  // current z is drawn again: in the page when the in-browser engine runs (static/browser.js),
  // else by the server. One server redraw at a time: a stroke made while one runs is drawn when
  // it returns (only the latest drawing).
  const i2i = window.i2i = { engine: null, spec: null, busy: false, dirty: false, frames: [], view: null, marks: {} };
  i2i.status = (text) => { const s = document.querySelector('#engine_status p, #engine_status'); if (s) s.textContent = text; };
  i2i.fit = () => document.querySelector('#fit input[type=checkbox]')?.checked ?? true;
  // The drawing pad's pixels (ui/pad.js) as ImageData, or null when there is none; a Promise,
  // as the engine awaits it.
  i2i.capture = () => Promise.resolve(window.i2iPad ? window.i2iPad.pixels() : null);
  // The server's redraw: the paper as a PNG in the redraw's request (#view_redraw, one event).
  i2i.serverRedraw = () => {
    if (i2i.busy) { i2i.dirty = true; return; }
    i2i.view = window.i2iPad?.png() ?? null;
    i2i.marks.read = performance.now();
    if (!i2i.view) return;
    i2i.busy = true;
    clearTimeout(i2i.guard);
    i2i.guard = setTimeout(i2i.serverDone, 30000);  // never stuck if a reply is lost
    document.querySelector('#view_redraw')?.click();
  };
  i2i.serverDone = () => {  // the last step of #view_redraw's event
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
}
