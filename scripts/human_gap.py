"""How much of the gap between human sketches and edge maps lies in the data, not the model.

Issue 14 asks that no measure be more than 10 % worse on QMUL's human sketches than on edges2shoes'
edge maps. Its ratios divide by each set's own photos, and C2ST compares both with edges2shoes
photos. This prints, for the two held-out sets, what the real photos and drawings alone give:
- the sharpness and a*b* spread of each set's photos (the denominators of the ratios);
- where the drawings sit in the frame (box centre and bottom edge) against the photos' shoes;
- the best-of-n floor (realism.placement_l1: each photo moved onto its sketch's box);
- C2ST of edges2shoes training photos shifted, size kept, to the centres of the human training
  sketches' boxes, against unshifted ones: what framing alone gives away.

    python scripts/human_gap.py [--data ../shared/data] [--size 128]
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from i2i.data import load_aligned
from i2i.edges import box_of, move_box
from i2i.realism import (c2st_suite, colour_spread, mean_lab, placement_l1, real_pairs, sharpness, shoe_mask,
                         sketch_boxes)


def load(root: Path, name: str, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = load_aligned(root / name / split, load_size=size, input_nc=1, output_nc=3)
    return pairs.a.float() / 255, pairs.b.float() / 255


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data", help="folder holding edges2shoes/ and human_sketch_shoes/")
    ap.add_argument("--size", type=int, default=128)
    args = ap.parse_args()
    root = Path(args.data)

    for name in ("edges2shoes", "human_sketch_shoes"):
        sketches, photos = load(root, name, "val", args.size)
        mask = shoe_mask(photos)
        ink = sketch_boxes(sketches)
        shoe = [box_of(m[0]) for m in mask]
        centre = statistics.median(b[1] for b in ink if b)
        bottom = statistics.median(b[1] + b[3] / 2 for b in ink if b)
        shoe_bottom = statistics.median(b[1] + b[3] / 2 for b in shoe if b)
        pair = (photos - photos[real_pairs(len(photos))]).abs().mean()
        print(f"{name} val ({len(photos)} pairs):")
        print(f"  photos: sharpness {sharpness(photos, mask).mean():.3f}, "
              f"a*b* spread {colour_spread(mean_lab(photos, mask))['ab']:.1f}")
        print(f"  drawings' boxes: centre y {centre:.1f}, bottom {bottom:.1f} of {args.size} px "
              f"(photos' shoes: bottom {shoe_bottom:.1f})")
        print(f"  best-of-n floor (photo moved onto its sketch's box): "
              f"{float(placement_l1(sketches, photos).mean() / pair):.2f}")

    _, ref = load(root, "edges2shoes", "train", args.size)
    human, _ = load(root, "human_sketch_shoes", "train", args.size)
    centres = [b for b in sketch_boxes(human) if b]
    half = len(ref) // 2
    moved = ref[:half].clone()
    for i in range(half):
        src = box_of(shoe_mask(moved[i:i + 1])[0, 0])
        if src is not None:
            cx, cy = centres[i % len(centres)][:2]
            moved[i:i + 1] = move_box(moved[i:i + 1], src, (cx, cy, src[2], src[3]))
    same = c2st_suite(ref[:half], ref[half:])
    shifted = c2st_suite(moved, ref[half:])
    print(f"C2ST against edges2shoes training photos {half + 1}-{len(ref)} ({shifted['c2st_images_per_class']} a class; "
          f"real vs real {same['c2st_real_vs_real']:.2f}, blurred {same['c2st_blurred']:.2f}):")
    print(f"  photos 1-{half} as they are {same['c2st']:.2f}; shifted to the human sketches' centres "
          f"{shifted['c2st']:.2f}")


if __name__ == "__main__":
    main()
