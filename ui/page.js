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
  // else by the server (#sync_drawing sends the drawing once, then redraws). One server redraw at
  // a time: a stroke made while one runs is drawn when it returns (only the latest drawing).
  const i2i = window.i2i = { engine: null, spec: null, busy: false, dirty: false, frames: [] };
  i2i.status = (text) => { const s = document.querySelector('#engine_status p, #engine_status'); if (s) s.textContent = text; };
  i2i.serverRedraw = () => {
    if (i2i.busy) { i2i.dirty = true; return; }
    i2i.busy = true;
    clearTimeout(i2i.guard);
    i2i.guard = setTimeout(i2i.serverDone, 30000);  // never stuck if a reply is lost
    document.querySelector('#sync_drawing')?.click();
  };
  i2i.serverDone = () => {  // the last step of #sync_drawing's events
    i2i.busy = false;
    clearTimeout(i2i.guard);
    if (i2i.dirty) { i2i.dirty = false; i2i.serverRedraw(); }
  };
  i2i.strokeEnd = () => (i2i.engine && i2i.engine.stroke()) || i2i.serverRedraw();
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
    // the server path waits a moment (a double click on undo sends one drawing); the page's engine
    // draws only the latest request anyway
    pending = setTimeout(i2i.strokeEnd, i2i.engine ? 0 : 50);
  };
  document.addEventListener('pointerup', stroke, true);
  document.addEventListener('keyup', stroke, true);
}
