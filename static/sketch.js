// A drawing -> the generator's input, in the page: what Translator.generate(fit=True, clean=True)
// does on the server (i2i/infer.py, i2i/edges.py), step for step, so that the in-browser engine
// and the server draw the same image from the same canvas. Pure functions on typed arrays (no DOM),
// so Node runs them in the tests against the Python code.

/** RGBA pixels (a canvas's ImageData.data) -> greyscale bytes, as Pillow's open_image(..., "L"):
 * transparent pixels become white paper, then ITU-R 601-2 luma in Pillow's fixed point. */
export function toGray(rgba, width, height) {
  const g = new Uint8Array(width * height);
  // white opaque paper (most of a canvas) read four bytes at a time, when the bytes are aligned
  const words = rgba.byteOffset % 4 === 0 ? new Uint32Array(rgba.buffer, rgba.byteOffset, width * height) : null;
  for (let i = 0, p = 0; i < g.length; i++, p += 4) {
    if (words && words[i] === 0xffffffff) { g[i] = 255; continue; }
    const a = rgba[p + 3], na = 255 - a;
    if (a === 0) { g[i] = 255; continue; } // empty paper
    if (a === 255) { g[i] = (rgba[p] * 19595 + rgba[p + 1] * 38470 + rgba[p + 2] * 7471 + 0x8000) >> 16; continue; }
    const r = Math.round((rgba[p] * a + 255 * na) / 255);
    const gg = Math.round((rgba[p + 1] * a + 255 * na) / 255);
    const b = Math.round((rgba[p + 2] * a + 255 * na) / 255);
    g[i] = (r * 19595 + gg * 38470 + b * 7471 + 0x8000) >> 16;
  }
  return g;
}

/** Ink darkness in [0, 1] of 0..255 bytes, stretched so the darkest line counts as black
 * (edges.darkness); a nearly blank image is stretched at most 4x. */
export function darkness(gray) {
  const d = new Float32Array(gray.length);
  let max = 0;
  for (let i = 0; i < gray.length; i++) { d[i] = 1 - gray[i] / 255; if (d[i] > max) max = d[i]; }
  const s = Math.max(max, 0.25);
  for (let i = 0; i < d.length; i++) d[i] = Math.min(1, Math.max(0, d[i] / s));
  return d;
}

/** Centre the drawing and scale it to span the frame (infer.fit_sketch): a square crop around the
 * ink with a 4% margin, white outside the canvas. Returns {gray, width, height}. */
export function fitSketch(gray, width, height, margin = 0.04) {
  // darkness(gray) > 0.3, as a table of the 256 grey levels: the stretch depends on the darkest alone
  let darkest = 255;
  for (let i = 0; i < gray.length; i++) if (gray[i] < darkest) darkest = gray[i];
  const dark = (v) => Math.fround(1 - v / 255), s = Math.max(dark(darkest), 0.25);
  const inkAt = Uint8Array.from({ length: 256 }, (_, v) => Math.fround(Math.min(1, Math.max(0, dark(v) / s))) > 0.3);
  let n = 0, x0 = width, x1 = -1, y0 = height, y1 = -1;
  for (let y = 0; y < height; y++) {
    let first = -1, last = -1;
    for (let x = 0, p = y * width; x < width; x++, p++) if (inkAt[gray[p]]) { n++; if (first < 0) first = x; last = x; }
    if (first < 0) continue;
    if (first < x0) x0 = first;
    if (last > x1) x1 = last;
    if (y0 === height) y0 = y;
    y1 = y;
  }
  if (n < 10) return { gray, width, height };
  x1 += 1; y1 += 1;
  let side = Math.max(x1 - x0, y1 - y0);
  side = Math.floor(side / (1 - 2 * margin)) + 1;
  const cx = Math.floor((x0 + x1) / 2), cy = Math.floor((y0 + y1) / 2);
  const bx = cx - Math.floor(side / 2), by = cy - Math.floor(side / 2);
  const out = new Uint8Array(side * side).fill(255);
  for (let y = Math.max(0, by); y < Math.min(height, by + side); y++) {
    for (let x = Math.max(0, bx); x < Math.min(width, bx + side); x++) out[(y - by) * side + (x - bx)] = gray[y * width + x];
  }
  return { gray: out, width: side, height: side };
}

// Pillow's resampling (Resample.c): a triangle filter widened by the scale when shrinking
// (antialiased), fixed-point coefficients, horizontal pass then vertical, 8-bit in between.
const PRECISION_BITS = 32 - 8 - 2; // sums stay below 2^31 and >= 0 (a triangle has no negative weights): >> is floor

function coefficients(inSize, outSize) {
  const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = filterscale;
  const ksize = Math.ceil(support) * 2 + 1, bounds = new Int32Array(2 * outSize);
  const kk = new Int32Array(outSize * ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale, ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5); if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5); if (xmax > inSize) xmax = inSize; xmax -= xmin;
    const k = new Float64Array(xmax);
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1 ? 1 - t : 0; ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww === 0 ? 0 : k[x] / ww;
      kk[xx * ksize + x] = Math.trunc(v < 0 ? v * (1 << PRECISION_BITS) - 0.5 : v * (1 << PRECISION_BITS) + 0.5);
    }
    bounds[2 * xx] = xmin; bounds[2 * xx + 1] = xmax;
  }
  return { kk, bounds, ksize };
}

const clip8 = (v) => (v <= 0 ? 0 : v >= 255 ? 255 : v);

/** Greyscale bytes resized like Pillow's Image.resize(..., Image.BILINEAR). */
export function resizeBilinear(gray, width, height, outW, outH) {
  let src = gray, w = width;
  if (outW !== width) {
    const { kk, bounds, ksize } = coefficients(width, outW), tmp = new Uint8Array(outW * height);
    for (let y = 0; y < height; y++) for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[2 * xx], xmax = bounds[2 * xx + 1];
      let ss = 1 << (PRECISION_BITS - 1);
      for (let x = 0; x < xmax; x++) ss += src[y * w + x + xmin] * kk[xx * ksize + x];
      tmp[y * outW + xx] = clip8(ss >> PRECISION_BITS);
    }
    src = tmp; w = outW;
  }
  if (outH !== height) {
    const { kk, bounds, ksize } = coefficients(height, outH), tmp = new Uint8Array(w * outH);
    for (let yy = 0; yy < outH; yy++) {
      const ymin = bounds[2 * yy], ymax = bounds[2 * yy + 1];
      for (let x = 0; x < w; x++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let y = 0; y < ymax; y++) ss += src[(y + ymin) * w + x] * kk[yy * ksize + y];
        tmp[yy * w + x] = clip8(ss >> PRECISION_BITS);
      }
    }
    src = tmp;
  }
  return src;
}

/** Zhang-Suen thinning of a 0/1 mask to a one-pixel skeleton (edges.thin; zero outside).
 * On a copy with a one-pixel border of zeros (no bounds checks); each sub-step decides from the
 * mask as it was before it, as edges.thin does, then clears what it marked. */
export function thin(ink, width, height, maxIters = 64) {
  const W = width + 2, x = new Uint8Array(W * (height + 2));
  for (let i = 0; i < height; i++) x.set(ink.subarray(i * width, (i + 1) * width), (i + 1) * W + 1);
  const marked = new Int32Array(width * height);
  for (let it = 0; it < maxIters; it++) {
    let changed = false;
    for (let step = 0; step < 2; step++) {
      let n = 0;
      for (let i = 1; i <= height; i++) for (let p = i * W + 1, end = p + width; p < end; p++) {
        if (!x[p]) continue;
        // the 8 neighbours clockwise from north: p2 (N), p3 (NE), ..., p9 (NW)
        const p2 = x[p - W], p3 = x[p - W + 1], p4 = x[p + 1], p5 = x[p + W + 1];
        const p6 = x[p + W], p7 = x[p + W - 1], p8 = x[p - 1], p9 = x[p - W - 1];
        const count = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9;
        if (count < 2 || count > 6) continue;
        const transitions = (!p2 & p3) + (!p3 & p4) + (!p4 & p5) + (!p5 & p6) + (!p6 & p7) + (!p7 & p8) + (!p8 & p9) + (!p9 & p2);
        if (transitions !== 1) continue;
        const keep = step === 0 ? (p2 & p4 & p6) | (p4 & p6 & p8) : (p2 & p4 & p8) | (p2 & p6 & p8);
        if (!keep) marked[n++] = p;
      }
      for (let k = 0; k < n; k++) x[marked[k]] = 0;
      if (n) changed = true;
    }
    if (!changed) break;
  }
  const out = new Uint8Array(width * height);
  for (let i = 0; i < height; i++) out.set(x.subarray((i + 1) * W + 1, (i + 1) * W + 1 + width), i * width);
  return out;
}

/** A width x width max filter of a 0/1 mask (edges.dilate; zero outside): a max over rows, then
 * over columns (the same as over the square, in 2k instead of k*k reads a pixel). */
export function dilate(ink, width, height, k) {
  if (k <= 1) return ink;
  const lo = Math.floor((k - 1) / 2), rows = new Uint8Array(ink.length), out = new Uint8Array(ink.length);
  for (let i = 0; i < height; i++) for (let j = 0; j < width; j++) {
    let v = 0;
    for (let b = Math.max(0, j - lo), end = Math.min(width, j - lo + k); b < end && !v; b++) v = ink[i * width + b];
    rows[i * width + j] = v;
  }
  for (let i = 0; i < height; i++) for (let j = 0; j < width; j++) {
    let v = 0;
    for (let a = Math.max(0, i - lo), end = Math.min(height, i - lo + k); a < end && !v; a++) v = rows[a * width + j];
    out[i * width + j] = v;
  }
  return out;
}

function convexHull(points) { // Andrew's monotone chain on unique [x, y] points sorted by x, then y
  const half = (pts) => {
    const out = [];
    for (const p of pts) {
      while (out.length >= 2) {
        const a = out[out.length - 2], b = out[out.length - 1];
        if ((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) <= 0) out.pop(); else break;
      }
      out.push(p);
    }
    return out;
  };
  const lower = half(points), upper = half([...points].reverse());
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/** Where the drawn object may be (edges.outline_mask): the convex hull of the ink grown by `margin`
 * px and feathered, as floats in [0, 1]; null with too little ink or a hull that fills the image. */
export function outlineMask(ink, size, margin = 2, feather = 1) {
  const pts = [];
  for (let x = 0; x < size; x++) for (let y = 0; y < size; y++) if (ink[y * size + x]) pts.push([x, y]);
  if (pts.length < 10) return null;
  const hull = convexHull(pts);
  const m = fillPolygon(hull, size);
  let filled = 0;
  for (let i = 0; i < m.length; i++) filled += m[i];
  if (filled / (size * size) > 0.9) return null;
  const grown = dilate(m, size, size, 2 * margin + 1);
  // a (2r+1)^2 box mean with the border repeated, as sums along rows, then along columns
  const r = feather, n = (2 * r + 1) ** 2, rowSum = new Int32Array(size * size), out = new Float32Array(size * size);
  const c = (v) => Math.min(size - 1, Math.max(0, v));
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    let s = 0;
    for (let b = -r; b <= r; b++) s += grown[y * size + c(x + b)];
    rowSum[y * size + x] = s;
  }
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    let s = 0;
    for (let a = -r; a <= r; a++) s += rowSum[c(y + a) * size + x];
    out[y * size + x] = s / n;
  }
  return out;
}

function fillPolygon(hull, size) { // a convex polygon filled as Pillow's ImageDraw.polygon fills it
  const m = new Uint8Array(size * size), n = hull.length;
  for (let y = 0; y < size; y++) {
    let lo = Infinity, hi = -Infinity;
    for (let k = 0; k < n; k++) {
      const [x0, y0] = hull[k], [x1, y1] = hull[(k + 1) % n];
      if (y < Math.min(y0, y1) || y > Math.max(y0, y1)) continue;
      const xs = y0 === y1 ? [x0, x1] : [x0 + ((y - y0) * (x1 - x0)) / (y1 - y0)];
      for (const x of xs) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
    }
    if (lo > hi) continue;
    for (let x = Math.max(0, Math.floor(lo + 0.5)); x <= Math.min(size - 1, Math.floor(hi + 0.5)); x++) m[y * size + x] = 1;
  }
  return m;
}

/** A canvas's RGBA pixels -> {x: Float32Array (size*size) in [-1, 1], mask: Float32Array | null,
 * ink: number of ink pixels}, as Translator.generate(fit=True, clean=True) prepares a drawing. */
export function prepareSketch(rgba, width, height, size) {
  const fitted = fitSketch(toGray(rgba, width, height), width, height);
  const small = resizeBilinear(fitted.gray, fitted.width, fitted.height, size, size);
  const d = darkness(small), inkMask = new Uint8Array(size * size);
  for (let i = 0; i < d.length; i++) inkMask[i] = d[i] > 1.0 - 0.7 ? 1 : 0;
  const lines = dilate(thin(inkMask, size, size), size, size, Math.max(1, Math.floor(size / 128)));
  const x = new Float32Array(size * size);
  let ink = 0;
  for (let i = 0; i < x.length; i++) { x[i] = lines[i] ? -1 : 1; ink += lines[i]; }
  return { x, mask: outlineMask(lines, size), ink };
}

/** The generator's output (C, size, size) in [-1, 1] -> RGBA bytes for a canvas, with white paper
 * outside the mask (Translator.generate's clean) and to_pil's rounding. */
export function toRGBA(y, channels, size, mask) {
  const out = new Uint8ClampedArray(size * size * 4), plane = size * size;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = y[(channels === 1 ? 0 : c) * plane + i];
      if (mask) v = v * mask[i] + (1 - mask[i]);
      out[4 * i + c] = Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5);
    }
    out[4 * i + 3] = 255;
  }
  return out;
}
