// The in-browser engine on the page: loaded by ui/page.js once the app names a model the page
// may run (ui/web_engine.py's spec). It takes strokes and slider steps off the server path:
// `stroke()` and `slider(z)` draw here and return true, or return false to leave the request to
// the server (the engine is not ready, the drawing is not centred and scaled, the engine failed).
import { prepareSketch, toRGBA } from "./sketch.js";
import { loadEngine } from "./engine.js";

const abs = (url) => new URL(url, document.baseURI).href;
let ortModule = null;

/** Load the runtime and the model, measure them, and hook them into the page's `i2i` object.
 * Any failure leaves the page on the server path with the reason in the status line. */
export async function start(i2i, spec, options = {}) {
  const t0 = performance.now();
  let engine;
  try {
    if (typeof WebAssembly !== "object") throw new Error("this browser has no WebAssembly");
    ortModule ??= await import(abs(spec.ort));
    ortModule.env.wasm.wasmPaths = abs(spec.wasm);
    // threads need a cross-origin-isolated page (SharedArrayBuffer); a Space's iframe is not
    ortModule.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    const response = await fetch(abs(spec.model));
    if (!response.ok) throw new Error(`the model file answered ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    engine = await loadEngine(ortModule, bytes, spec.config, options);
  } catch (e) {
    i2i.status(`Drawing on the server (${String(e.message || e).slice(0, 120)})`);
    return;
  }
  if (i2i.spec !== spec) return; // the model changed while this one loaded
  const loadMs = performance.now() - t0;
  const { size, nz, output_nc: channels } = spec.config;
  let latest = null, running = false;

  const fail = (e) => {
    i2i.engine = null;
    i2i.status(`Drawing on the server (the in-browser engine stopped: ${String(e.message || e).slice(0, 80)})`);
    i2i.serverRedraw();
  };
  // One frame at a time; a request made while one runs replaces the pending one. The canvas is
  // prepared again only when its pixels changed (a slider step on the same drawing reuses it).
  let sketch = null, seen = -1;
  const draw = async (job) => {
    latest = job;
    if (running) return;
    running = true;
    while (latest) {
      const { z, t } = latest;
      latest = null;
      try {
        const handled = performance.now(), pixels = await i2i.capture(), readAt = performance.now();
        if (!pixels) throw new Error("the canvas cannot be read");
        const sum = checksum(pixels.data);
        if (!sketch || sum !== seen) sketch = prepareSketch(pixels.data, pixels.width, pixels.height, size);
        seen = sum;
        const prepared = performance.now();
        let ran = prepared;
        if (sketch.ink < 10) clear();
        else {
          const y = await i2i.engine.render(sketch.x, z);
          ran = performance.now();
          paint(toRGBA(y, channels, size, sketch.mask), size);
        }
        i2i.frames.push({ start: t, handled, read: readAt, prepared, ran, end: performance.now() });
      } catch (e) {
        running = false;
        return fail(e);
      }
    }
    running = false;
  };
  i2i.engine = {
    stroke: () => i2i.fit() && (draw({ z: sliderZ(nz), t: i2i.inputAt ?? performance.now() }), true),
    slider: (z) => i2i.fit() && (draw({ z: z.slice(0, nz), t: i2i.inputAt ?? performance.now() }), true),
    render: engine.render,
  };
  i2i.loadMs = loadMs;
  const threads = ortModule.env.wasm.numThreads;
  i2i.status(`Drawing in your browser (WebAssembly, ${threads} thread${threads > 1 ? "s" : ""}, ` +
             `${engine.probeMs.toFixed(0)} ms a frame; loaded in ` +
             `${(loadMs / 1000).toFixed(1)} s)`);
  if (document.querySelector("#latent_out img")) i2i.engine.stroke(); // the current output, redrawn here
}

/** A fingerprint of RGBA bytes (FNV-1a over each pixel's summed RGB): did the canvas change? */
function checksum(rgba) {
  let h = 2166136261;
  for (let i = 0; i < rgba.length; i += 4) h = Math.imul(h ^ (rgba[i] + rgba[i + 1] + rgba[i + 2]), 16777619);
  return h >>> 0;
}

const sliderZ = (nz) => Array.from({ length: nz }, (_, i) =>
  Number(document.querySelector(`#z${i} input[type=range]`)?.value ?? 0));

function target(size) {
  const box = document.querySelector("#latent_out");
  let c = document.querySelector("#page_out");
  if (!c && box) {
    c = document.createElement("canvas");
    c.id = "page_out";
    box.appendChild(c);
  }
  if (c && c.width !== size) { c.width = size; c.height = size; }
  box?.classList.add("page-engine");
  return c;
}

function paint(rgba, size) {
  const c = target(size);
  if (!c) return;
  c.getContext("2d").putImageData(new ImageData(rgba, size, size), 0, 0);
  c.dataset.frame = String(Number(c.dataset.frame || 0) + 1);
  c.style.visibility = "visible";
}

function clear() {
  const c = document.querySelector("#page_out");
  if (c) { c.style.visibility = "hidden"; c.dataset.frame = String(Number(c.dataset.frame || 0) + 1); }
}
