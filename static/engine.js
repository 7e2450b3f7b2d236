// The generator in the page: its ONNX file run by onnxruntime-web (WebAssembly), with the rule
// that decides whether the page may use it. Takes the `ort` module as an argument, so the page
// (ort served by the app) and Node (the tests, the benchmark) run the same code.

// A redraw must come back within this to feel like it follows the pen; a model slower than this
// here (a 256 px model on a slow phone) is left to the server. Measured on this device, never by name.
export const FAST_ENOUGH_MS = 100;
// A file larger than this is not downloaded at all: a visitor would wait too long before drawing.
export const MAX_MODEL_BYTES = 64e6;
const PROBE_RUNS = 8, WARM_UP_RUNS = 2; // the first runs plan memory and start threads while the page still loads

export class EngineRefused extends Error {}

export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

/** Load the ONNX generator (bytes) into an onnxruntime-web session and time it on a probe sketch.
 * model: {size, nz, input_nc, output_nc} from the release's config. Throws EngineRefused when
 * the page should stay on the server (no WebAssembly, a load failure, too slow here).
 * Returns {render(x, z) -> Promise<Float32Array (output_nc*size*size)>, probeMs, loadMs}. */
export async function loadEngine(ort, bytes, model, { now = () => performance.now(), budgetMs = FAST_ENOUGH_MS } = {}) {
  // budgetMs: Infinity skips the rule (the page's ?engine=browser)
  if (typeof WebAssembly !== "object") throw new EngineRefused("this browser has no WebAssembly");
  if (bytes.byteLength > MAX_MODEL_BYTES) throw new EngineRefused(`model file too large (${(bytes.byteLength / 1e6).toFixed(0)} MB)`);
  const t0 = now();
  let session;
  try {
    // the page draws one image at a time: a fixed batch lets the runtime plan static shapes
    session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all",
                                                         freeDimensionOverrides: { batch: 1 } });
  } catch (e) {
    throw new EngineRefused(`the model did not load (${String(e.message || e).slice(0, 80)})`);
  }
  const { size, nz, input_nc: cin, output_nc: cout } = model;
  if (session.inputNames.join() !== "x,z") throw new EngineRefused(`unexpected model inputs ${session.inputNames}`);
  let busy = Promise.resolve();
  const render = (x, z) => {
    // onnxruntime-web runs one session call at a time: chain them
    const run = busy.then(async () => {
      const out = await session.run({
        x: new ort.Tensor("float32", x, [1, cin, size, size]),
        z: new ort.Tensor("float32", Float32Array.from(z), [1, nz]),
      });
      const y = out.y.data;
      if (y.length !== cout * size * size) throw new Error(`output of ${y.length} values`);
      return y;
    });
    busy = run.catch(() => {});
    return run;
  };
  const loadMs = now() - t0;
  const probe = new Float32Array(cin * size * size).fill(1), z = new Float32Array(nz);
  for (let i = size >> 2; i < (3 * size) >> 2; i++) probe[i * size + (size >> 1)] = -1; // a line
  const times = [];
  for (let k = 0; k < PROBE_RUNS; k++) {
    const t = now();
    await render(probe, z);
    times.push(now() - t);
    if (k === 0 && times[0] > 10 * budgetMs) break; // hopeless: do not keep the page busy
  }
  const probeMs = median(times.length > WARM_UP_RUNS ? times.slice(WARM_UP_RUNS) : times);
  if (!(probeMs <= budgetMs)) throw new EngineRefused(`too slow here (${probeMs.toFixed(0)} ms a frame, budget ${budgetMs} ms)`);
  return { render, probeMs, loadMs };
}
