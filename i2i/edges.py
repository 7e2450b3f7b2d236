"""Weight-free edge maps and sketch normalisation, on torch ops (batched, CPU or GPU).

Why normalise sketches: edges2shoes edges are thin HED lines, while people draw thicker,
simpler, shakier outlines. `normalize_sketch` maps both to the same form (binarise, thin to a
one-pixel skeleton, re-draw at a fixed width), and models trained with `sketch_norm=True` see
that form in training and at inference, so stroke width stops mattering.
All tensors here are greyscale (B, 1, H, W) in [0, 1] with 1 = white paper, 0 = black ink.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .images import open_image, to_unit


def _shift_neighbours(x: torch.Tensor) -> list[torch.Tensor]:
    """The 8 neighbours P2..P9 (N, NE, E, SE, S, SW, W, NW) of each pixel, zero outside."""
    p = F.pad(x, (1, 1, 1, 1))
    return [p[..., :-2, 1:-1], p[..., :-2, 2:], p[..., 1:-1, 2:], p[..., 2:, 2:],
            p[..., 2:, 1:-1], p[..., 2:, :-2], p[..., 1:-1, :-2], p[..., :-2, :-2]]


def _zhang_suen_keep() -> torch.Tensor:
    """(2, 256) uint8: 0 where Zhang-Suen's sub-iteration 0 or 1 removes an ink pixel whose
    neighbours P2..P9 are the bits 0..7 of the index, else 1. The rule reads only those 8 pixels,
    so one table look-up per pixel does the work of its ~40 tensor operations."""
    keep = torch.ones(2, 256, dtype=torch.uint8)
    for code in range(256):
        p = [(code >> i) & 1 for i in range(8)]  # p[0] = P2 (N) ... p[7] = P9 (NW)
        transitions = sum(p[i] == 0 and p[(i + 1) % 8] == 1 for i in range(8))
        if 2 <= sum(p) <= 6 and transitions == 1:
            p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
            keep[0, code] = not (p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0)
            keep[1, code] = not (p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0)
    return keep


_ZHANG_SUEN_KEEP = _zhang_suen_keep()


def thin(ink: torch.Tensor, max_iters: int = 64) -> torch.Tensor:
    """Zhang-Suen thinning of a binary ink mask (B, 1, H, W) in {0, 1} to a 1-pixel skeleton.

    Zhang and Suen's algorithm is parallel by design: each sub-iteration decides every pixel
    from the previous state, so it vectorises exactly.
    """
    x = (ink > 0.5).to(torch.uint8)
    for _ in range(max_iters):
        before = x
        for step in (0, 1):
            code = torch.zeros_like(x)
            for i, v in enumerate(_shift_neighbours(x)):
                code |= v << i
            x = x & _ZHANG_SUEN_KEEP[step][code.long()]
        if torch.equal(x, before):
            break
    return x.float()


def dilate(ink: torch.Tensor, width: int) -> torch.Tensor:
    """Thicken a binary ink mask to strokes `width` pixels wide (a width x width max filter)."""
    if width <= 1:
        return ink
    lo = (width - 1) // 2
    return F.max_pool2d(F.pad(ink, (lo, width - 1 - lo, lo, width - 1 - lo)), kernel_size=width, stride=1)


def stroke_width_for(size: int) -> int:
    """Canonical stroke width: 1 px at 128 px and below, 2 px at 256 (about HED's width)."""
    return max(1, size // 128)


def normalize_sketch(gray: torch.Tensor, threshold: float = 0.7, width: int = 1) -> torch.Tensor:
    """Any line drawing -> the canonical form: ink where darker than `threshold`, thinned, re-drawn.

    gray: (B, 1, H, W) in [0, 1], white paper. Returns the same shape with lines `width` px wide.
    """
    return 1.0 - dilate(thin(ink_mask(gray, threshold).float()), width)


def outline_mask(gray: torch.Tensor, margin: int = 2, feather: int = 1) -> torch.Tensor | None:
    """Where the drawn object may be: the convex hull of the strokes, grown by `margin` px, as a
    soft (1, 1, H, W) mask in [0, 1]; None when there is too little ink or the hull fills the image.

    Used to keep the paper white around a doodle: the model, trained on photos on white, often
    smears colour below a sparse sole. A convex hull never cuts into the object (a flood fill of
    the outline does, wherever the outline has a gap), at the price of leaving concave spaces,
    such as the arch under a heel, to the model.
    """
    from PIL import ImageDraw

    ink = (gray[0, 0] < 0.5).cpu().numpy()
    ys, xs = np.nonzero(ink)
    if len(xs) < 10:
        return None
    hull = _convex_hull(np.unique(np.stack([xs, ys], 1), axis=0))
    h, w = ink.shape
    canvas = Image.new("L", (w, h), 0)
    ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in hull], fill=1, outline=1)
    m = torch.from_numpy(np.asarray(canvas, dtype=np.float32))[None, None]
    if m.mean() > 0.9:
        return None
    m = dilate(m, 2 * margin + 1)
    if feather:
        m = F.avg_pool2d(F.pad(m, [feather] * 4, mode="replicate"), 2 * feather + 1, 1)
    return m.to(gray.device)


def _convex_hull(points: np.ndarray) -> list[tuple[int, int]]:
    """Andrew's monotone chain on unique (x, y) points sorted by x, then y."""
    def half(pts):
        out: list = []
        for p in pts:
            while len(out) >= 2 and (out[-1][0] - out[-2][0]) * (p[1] - out[-2][1]) - \
                    (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0]) <= 0:
                out.pop()
            out.append((int(p[0]), int(p[1])))
        return out

    lower, upper = half(points), half(points[::-1])
    return lower[:-1] + upper[:-1]


def box_of(mask: torch.Tensor) -> tuple[float, float, float, float] | None:
    """Centre x, centre y, width and height in pixels of the bounding box of an (H, W) mask's
    nonzero pixels; None when fewer than 10 are set (too little to place)."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    if len(xs) < 10:
        return None
    x0, x1, y0, y1 = xs.min().item(), xs.max().item(), ys.min().item(), ys.max().item()
    return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0 + 1, y1 - y0 + 1


def boxes_agree(a: tuple, b: tuple, side: int, tolerance: float = 0.04) -> bool:
    """Whether two boxes (as `box_of` gives them) agree within `tolerance` of the image's side in
    every coordinate. An edge map's ink box and its photo's shoe box differ by 1-2 px at 128-144 px:
    how the two are measured, not where the sketch was drawn."""
    return max(abs(u - v) for u, v in zip(a, b)) <= tolerance * side


def move_box(gray: torch.Tensor, src: tuple, dst: tuple) -> torch.Tensor:
    """(B, 1, H, W) drawing on white paper, stretched and shifted so that box `src` lands on box
    `dst` (boxes as `box_of` gives them); paper fills what comes in from outside."""
    (cxs, cys, ws, hs), (cxd, cyd, wd, hd) = src, dst
    n_y, n_x = gray.shape[-2:]
    x = (torch.arange(n_x, device=gray.device) - cxd) * ws / wd + cxs  # where each output pixel reads
    y = (torch.arange(n_y, device=gray.device) - cyd) * hs / hd + cys
    gy, gx = torch.meshgrid(y / (n_y - 1) * 2 - 1, x / (n_x - 1) * 2 - 1, indexing="ij")
    grid = torch.stack([gx, gy], -1)[None].float().expand(gray.shape[0], -1, -1, -1)
    return 1 - F.grid_sample(1 - gray.float(), grid, align_corners=True)


def ink_mask(gray: torch.Tensor, threshold: float = 0.7) -> torch.Tensor:
    """(B, 1, H, W) bool: where a drawing has ink (darker than `threshold`, after `darkness`'s
    stretch), as `normalize_sketch` binarises it."""
    return darkness(gray) > 1.0 - threshold


def darkness(gray: torch.Tensor) -> torch.Tensor:
    """Ink darkness in [0, 1], stretched so each image's darkest line counts as black.

    Thin lines shrunk to a small size turn light grey; this keeps them. A nearly blank image
    is not stretched more than 4x, so JPEG noise on white paper stays paper.
    """
    d = 1.0 - gray
    return (d / d.amax(dim=(1, 2, 3), keepdim=True).clamp_min(0.25)).clamp(0, 1)


def augment_sketch(gray: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Make training edge maps look like a person's drawing before normalisation.

    Per image: a random binarisation threshold (a high one keeps only strong edges: sparser),
    random stroke thickening (thick pen strokes thin to slightly different skeletons), and
    random removal of blobs of strokes (people leave out detail).
    """
    b, _, h, w = gray.shape
    dev = gray.device
    # random numbers come from a CPU generator (reproducible across devices), then move
    thr = (0.2 + 0.4 * torch.rand(b, 1, 1, 1, generator=generator)).to(dev)
    ink = (darkness(gray) > thr).float()
    widths = torch.randint(1, 4 + h // 64, (b,), generator=generator).tolist()
    ink = torch.cat([dilate(ink[i:i + 1], k) for i, k in enumerate(widths)])
    # a smooth random mask that deletes about 0-20% of the strokes in blobs
    keep = torch.rand(b, 1, 4, 4, generator=generator).to(dev)
    keep = F.interpolate(keep, size=(h, w), mode="bilinear", align_corners=False)
    drop = (0.2 * torch.rand(b, 1, 1, 1, generator=generator)).to(dev)
    ink = ink * (keep > drop).float()
    return 1.0 - ink


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))


def canny(gray: torch.Tensor, sigma: float = 1.0, high: float = 0.2, low: float = 0.08) -> torch.Tensor:
    """Canny edges (B, 1, H, W) in {0, 1}: blur, Sobel, non-maximum suppression, hysteresis.

    Thresholds are fractions of each image's largest gradient, so they work across exposures.
    """
    g = _gaussian_blur(gray, sigma)
    sx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], device=g.device).view(1, 1, 3, 3)
    gp = F.pad(g, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(gp, sx), F.conv2d(gp, sx.transpose(2, 3))
    mag = torch.hypot(gx, gy)
    mag = mag / mag.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    # quantise the gradient direction to 0, 45, 90, 135 degrees and keep local maxima along it
    angle = torch.rad2deg(torch.atan2(gy, gx)) % 180
    sector = (((angle + 22.5) // 45) % 4).long()
    n = _shift_neighbours(mag)  # N, NE, E, SE, S, SW, W, NW
    pairs = [(n[2], n[6]), (n[3], n[7]), (n[0], n[4]), (n[1], n[5])]  # along 0, 45, 90, 135 degrees
    is_max = torch.zeros_like(mag, dtype=torch.bool)
    for s, (p, q) in enumerate(pairs):
        is_max |= (sector == s) & (mag >= p) & (mag >= q)
    nms = mag * is_max
    strong, weak = nms >= high, nms >= low
    edges = strong
    for _ in range(max(gray.shape[-2:])):  # hysteresis: grow strong edges through connected weak ones
        grown = _grow(edges) & weak
        if torch.equal(grown, edges):
            break
        edges = grown
    return edges.float()


def _grow(mask: torch.Tensor) -> torch.Tensor:
    """A bool mask grown by one pixel in the 8 directions: a 3x3 max filter as ORs of shifted
    views. Hysteresis runs it once per pixel of its longest weak chain (often 50-100 times a
    batch); on a CPU it is ~50x quicker than max_pool2d on a float mask."""
    p = F.pad(mask, (1, 1, 1, 1))
    rows = p[..., :-2, :] | p[..., 1:-1, :] | p[..., 2:, :]
    return rows[..., :-2] | rows[..., 1:-1] | rows[..., 2:]


def edge_sigma(size: int) -> float:
    """Canny's blur for an image of this size: the edge scale follows the image scale."""
    return max(1.0, size / 256 * 1.5)


def edges_of_photos(photos: torch.Tensor) -> torch.Tensor:
    """Photos (B, 3 or 1, H, W) in [-1, 1] -> edge maps (B, 1, H, W) in [0, 1], black on white.

    How the training loop makes a sketch for a photo that has none (a photo-only data source);
    `photo_to_edges` draws the same edges for one image.
    """
    x = to_unit(photos.float())
    if x.shape[1] == 3:
        x = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    edges = canny(x, sigma=edge_sigma(min(x.shape[-2:])))
    # Canny loses the silhouette where a pale shoe meets the white page; HED edges (edges2shoes)
    # always have it. So the outline of everything that is not paper is drawn as well.
    thing = (_gaussian_blur(x, 1.0) < 0.93).float()
    thing = -F.max_pool2d(-F.max_pool2d(thing, 5, 1, 2), 5, 1, 2)  # closing: fill pin-holes and gaps
    outline = F.max_pool2d(thing, 3, 1, 1) - thing
    edges = edges * (1 - F.max_pool2d(outline, 7, 1, 3))  # Canny's own trace of it would double the line
    return 1.0 - torch.maximum(edges, outline)


def photo_to_edges(photo, size: int | None = None, sigma: float | None = None) -> Image.Image:
    """A photo (path, PIL, numpy) -> a black-on-white edge map (PIL "L"), e.g. to make paired data.

    size: resize the longer side first (the edge scale follows the image scale).
    """
    img = open_image(photo, "L")
    if size is not None:
        img = img.resize((size, size), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)[None, None]
    if sigma is None:
        sigma = edge_sigma(min(img.size))
    edges = canny(x, sigma=sigma)
    width = stroke_width_for(min(img.size))
    out = 1.0 - dilate(edges, width)
    return Image.fromarray((out[0, 0].numpy() * 255).astype(np.uint8), mode="L")
