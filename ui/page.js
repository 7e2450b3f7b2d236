() => {
  // Gradio's Sketchpad ignores strokes until a draw tool is picked; pick the brush on load.
  const pick = () => {
    const b = document.querySelector('#sketch button[aria-label="Brush"], #sketch button[title="Brush"]');
    if (b) { b.click(); return true; }
    return false;
  };
  let tries = 0;
  const t = setInterval(() => { if (pick() || ++tries > 50) clearInterval(t); }, 200);
  // After a stroke, an undo or a clear on the canvas, send the drawing to the server once
  // (the hidden #sync_drawing button), for the sliders and the other latent events.
  let pending = null;
  const sync = (e) => {
    if (!e.target.closest || !e.target.closest('#sketch')) return;
    clearTimeout(pending);
    pending = setTimeout(() => document.querySelector('#sync_drawing')?.click(), 150);
  };
  document.addEventListener('pointerup', sync, true);
  document.addEventListener('keyup', sync, true);
}
