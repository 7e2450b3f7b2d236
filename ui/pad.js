// The drawing pad: a plain 2D canvas of 512 x 512 paper pixels with a pen, an eraser, undo and
// clear. Run by gr.HTML's js_on_load with `element` (the pad's block, ui/page.py's PAD_HTML).
// Not Gradio's Sketchpad: that editor draws with WebGL, which a browser without a GPU renders in
// software, so every pointer move and every read of its canvas is slow. Here a stroke is a few
// line segments on a 2D canvas, and the drawing is read as it is shown.
// When a stroke, an undo, a clear or an image put here by the app ends, the page is told
// (window.i2i.strokeEnd, ui/page.js), which redraws the output for the current z.
const SIZE = 512;
const WIDTH = { pen: 4, eraser: 24 }; // pen: 4 px lines, as thin as the HED edges the model saw
const canvas = element.querySelector("canvas");
const g = canvas.getContext("2d", { willReadFrequently: true });
// What is on the paper, as the operations since the last clear or image (undo drops the last one)
const ops = [];
let tool = "pen", stroke = null;

const paper = () => { g.fillStyle = "#fff"; g.fillRect(0, 0, SIZE, SIZE); };
const segment = (t, a, b) => {
  g.strokeStyle = g.fillStyle = t === "pen" ? "#000" : "#fff";
  g.lineWidth = WIDTH[t];
  g.lineCap = g.lineJoin = "round";
  if (a[0] === b[0] && a[1] === b[1]) { // a dot
    g.beginPath(); g.arc(a[0], a[1], WIDTH[t] / 2, 0, 2 * Math.PI); g.fill();
  } else {
    g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]); g.stroke();
  }
};
const fitImage = (img) => { // an image set by the app: fitted to the paper, white around it
  const s = Math.min(SIZE / img.width, SIZE / img.height), w = img.width * s, h = img.height * s;
  g.drawImage(img, (SIZE - w) / 2, (SIZE - h) / 2, w, h);
};
const replay = () => {
  paper();
  for (const op of ops) {
    if (op.kind === "clear") paper();
    else if (op.kind === "image") { paper(); fitImage(op.img); }
    else op.points.forEach((p, i) => segment(op.tool, op.points[Math.max(0, i - 1)], p));
  }
};
const changed = () => {
  const page = window.i2i;
  if (!page) return;
  page.inputAt = performance.now();
  page.strokeEnd();
};
const at = (e) => {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * SIZE / r.width, (e.clientY - r.top) * SIZE / r.height];
};

canvas.addEventListener("pointerdown", (e) => {
  if (e.button !== 0) return;
  canvas.setPointerCapture(e.pointerId);
  stroke = { kind: "stroke", tool, points: [at(e)] };
  segment(tool, stroke.points[0], stroke.points[0]);
});
canvas.addEventListener("pointermove", (e) => {
  if (!stroke) return;
  for (const ev of e.getCoalescedEvents?.() ?? [e]) {
    const p = at(ev), last = stroke.points[stroke.points.length - 1];
    stroke.points.push(p);
    segment(stroke.tool, last, p);
  }
});
const end = () => {
  if (!stroke) return;
  ops.push(stroke);
  stroke = null;
  changed();
};
canvas.addEventListener("pointerup", end);
canvas.addEventListener("pointercancel", end);

const pick = (t) => {
  tool = t;
  element.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.tool === t)));
};
const undo = () => { if (ops.length) { ops.pop(); replay(); changed(); } };
const clear = () => { ops.push({ kind: "clear" }); paper(); changed(); };
element.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => pick(b.dataset.tool)));
element.querySelector("[data-act=undo]").addEventListener("click", undo);
element.querySelector("[data-act=clear]").addEventListener("click", clear);
element.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); undo(); }
});

paper();
window.i2iPad = {
  canvas,
  /** The paper's pixels as ImageData (what the in-browser engine reads). */
  pixels: () => g.getImageData(0, 0, SIZE, SIZE),
  /** The paper as a PNG data URL (what the server path sends). */
  png: () => canvas.toDataURL("image/png"),
  /** Put an image (a URL) on the paper, as an operation undo can take back. */
  load: (url) => new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => { ops.push({ kind: "image", img }); replay(); changed(); resolve(); };
    img.onerror = () => reject(new Error("the image could not be shown on the canvas"));
    img.src = url;
  }),
  undo, clear, pick,
};
