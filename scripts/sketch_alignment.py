"""How closely each pair's sketch outlines its photo: the IoU of two convex hulls, the sketch's ink
(normalised as at inference) and the photo's shoe (realism.shoe_mask, as `evaluate` finds it), at 128 px.

A property of the data, not of a model. It bounds what `evaluate`'s best-of-n L1 can reach on a
set: a sample that follows the sketch cannot come near a photo whose shoe has another outline.
Edge maps are drawn from their photos (IoU near 1); the QMUL human sketches were drawn from
memory of a photo (see docs/recipe.md). It also prints the IoU after stretching each sketch so
that its hull's bounding box is the photo's: what is left is a difference of shape, not of
placement and size.

    python scripts/sketch_alignment.py ../shared/data/edges2shoes/val ../shared/data/human_sketch_shoes/val
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from i2i.data import list_images  # noqa: E402
from i2i.edges import box_of, move_box, normalize_sketch, outline_mask  # noqa: E402
from i2i.images import to_tensor, to_unit  # noqa: E402
from i2i.realism import shoe_mask  # noqa: E402

SIZE = 128


def hull(gray: torch.Tensor) -> np.ndarray | None:
    """(1, 1, H, W) in [0, 1], dark = ink -> the convex hull of the ink as a bool mask."""
    m = outline_mask(gray, margin=0, feather=0)
    return None if m is None else m[0, 0].numpy() > 0.5


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def alignment(folder: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """IoU per A|B pair as drawn and with the sketch's box moved onto the photo's, and how many
    pairs had too little ink for a hull."""
    ious, moved, skipped = [], [], 0
    for path in list_images(folder):
        ab = Image.open(path).convert("RGB")
        w, h = ab.size
        sketch = ab.crop((0, 0, w // 2, h)).convert("L").resize((SIZE, SIZE), Image.BILINEAR)
        photo = to_unit(to_tensor(ab.crop((w // 2, 0, w, h)).resize((SIZE, SIZE), Image.BICUBIC), 3)[None])
        gray = to_unit(to_tensor(sketch, 1)[None])
        shoe = 1 - shoe_mask(photo)  # the shoe as ink: dark
        hs, hp = hull(normalize_sketch(gray)), hull(shoe)
        if hs is None or hp is None:
            skipped += 1
            continue
        ious.append(iou(hs, hp))
        moved_sketch = move_box(gray, box_of(torch.from_numpy(hs)), box_of(torch.from_numpy(hp)))
        hm = hull(normalize_sketch(moved_sketch))
        moved.append(0.0 if hm is None else iou(hm, hp))
    return np.array(ious), np.array(moved), skipped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path, help="folders of A|B pairs (sketch | photo)")
    args = ap.parse_args()
    for folder in args.folders:
        ious, moved, skipped = alignment(folder)
        if not len(ious):
            print(f"{folder}: no pair with enough ink")
            continue
        print(f"{folder}: {len(ious)} pairs ({skipped} without a hull): outline IoU mean {ious.mean():.3f}, "
              f"median {np.median(ious):.3f}, 10th percentile {np.quantile(ious, 0.1):.3f}; with the sketch's box "
              f"moved onto the photo's: mean {moved.mean():.3f}, 10th percentile {np.quantile(moved, 0.1):.3f}")


if __name__ == "__main__":
    main()
