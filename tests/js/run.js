// The page's JavaScript (static/) run by Node for the tests and the benchmark: one JSON request
// on stdin, one JSON answer on stdout. Arrays travel as base64 of their bytes (float32 or uint8).
//   {op: "prepare", rgba, width, height, size} -> {x, mask, ink}
//   {op: "draw", rgba, width, height, model: PATH, config: {size, nz, input_nc, output_nc}, z: [...],
//    runs, budgetMs} -> {image (RGBA bytes), probeMs, loadMs, times (ms per drawing)} or {refused}
import { readFileSync } from "node:fs";
import { prepareSketch, toRGBA } from "../../static/sketch.js";
import { loadEngine, EngineRefused } from "../../static/engine.js";

const b64 = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");

const req = JSON.parse(readFileSync(0, "utf8"));
const rgba = Buffer.from(req.rgba, "base64");
if (req.op === "prepare") {
  const { x, mask, ink } = prepareSketch(rgba, req.width, req.height, req.size);
  console.log(JSON.stringify({ x: b64(x), mask: mask && b64(mask), ink }));
} else if (req.op === "draw") {
  const ort = await import("onnxruntime-web");
  ort.env.wasm.numThreads = 1;
  const cfg = req.config;
  try {
    const engine = await loadEngine(ort, new Uint8Array(readFileSync(req.model)), cfg,
      req.budgetMs === undefined ? {} : { budgetMs: req.budgetMs });
    const times = [];
    let image;
    for (let k = 0; k < (req.runs || 1); k++) { // what a stroke's end costs: prepare, run, paint
      const t = performance.now();
      const { x, mask } = prepareSketch(rgba, req.width, req.height, cfg.size);
      image = toRGBA(await engine.render(x, req.z), cfg.output_nc, cfg.size, mask);
      times.push(performance.now() - t);
    }
    console.log(JSON.stringify({ image: b64(image), probeMs: engine.probeMs, loadMs: engine.loadMs, times }));
  } catch (e) {
    if (!(e instanceof EngineRefused)) throw e;
    console.log(JSON.stringify({ refused: e.message }));
  }
}
