"""A training recipe read from the data: what a dataset folder's images say about the model to
train on them (channels, size, widths, sketch handling, direction), never its name.

The CLI (`train --recipe data`, the default) fills the settings a user did not give from it, and
the app's Train tab proposes it for the folder picked.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import DataError, is_photo_folder, is_unaligned, list_images, parse_sources, split_folder
from .device import pick_device
from .images import ImageError, open_image
from .models import family

SAMPLE = 16           # images looked at per folder (the first ones, in natural order)
LINES_PAPER = 0.8     # a line drawing: at least this share of near-white pixels...
LINES_CHROMA = 4.0    # ...and no colour (mean |channel - grey| on 0..255)
LABELS_SATURATION = 150.0  # a label map: flat synthetic colours (mean max-min channel); photos stay far below
GREY_CHROMA = 2.0     # a grey image: one channel is enough


@dataclass
class Recipe:
    """A proposed set-up for one dataset; `why` says what in the images led to each choice."""
    input_nc: int = 3
    output_nc: int = 3
    size: int = 256
    width: int = 64                 # ngf, ndf and nef
    sketch_norm: bool = False       # binarise + thin + re-draw line-drawing inputs (edges.normalize_sketch)
    sketch_aug: bool = False        # stroke-width / sparsity augmentation of line-drawing inputs
    direction: str = "AtoB"
    why: list[str] = field(default_factory=list)

    def model_fields(self, model: str) -> dict:
        """The fields of `model`'s config this recipe sets (a family without E has no nef)."""
        names = {f.name for f in dataclasses.fields(family(model).Config)}
        fields = dict(input_nc=self.input_nc, output_nc=self.output_nc, size=self.size, ngf=self.width,
                      ndf=self.width, nef=self.width, sketch_norm=self.sketch_norm)
        return {k: v for k, v in fields.items() if k in names}

    def train_fields(self) -> dict:
        return dict(direction=self.direction, sketch_aug=self.sketch_aug)

    def summary(self) -> str:
        return "; ".join(self.why)


def image_kind(img: np.ndarray) -> str:
    """"lines" (dark strokes on white paper, no colour), "labels" (a map of flat synthetic
    colours, e.g. facade labels) or "photo", for an (H, W, 3) uint8 image."""
    x = img.astype(np.float32)
    grey = x.mean(2)
    chroma = float(np.abs(x - grey[..., None]).mean())
    if chroma < LINES_CHROMA and float((grey > 200).mean()) >= LINES_PAPER:
        return "lines"
    if float((x.max(2) - x.min(2)).mean()) > LABELS_SATURATION:
        return "labels"
    return "photo"


def is_grey(img: np.ndarray) -> bool:
    x = img.astype(np.float32)
    return float(np.abs(x - x.mean(2, keepdims=True)).mean()) < GREY_CHROMA


def _sample(folder: Path, recursive: bool = False) -> list[np.ndarray]:
    images = []
    for path in list_images(folder, recursive=recursive)[:SAMPLE]:
        try:
            images.append(np.asarray(open_image(path, "RGB")))
        except ImageError:
            continue  # an unreadable image says nothing about the others
    if not images:
        raise DataError(f"no readable image among the first {SAMPLE} in {folder}")
    return images


def _majority(kinds: list[str]) -> str:
    return max(set(kinds), key=kinds.count)


def propose_recipe(data: str | Path, *, cuda: bool | None = None) -> Recipe:
    """The recipe for a dataset (a folder, or a mix "PATH@W,..." read from its first source).

    - Channels: an input side of line drawings gets one channel with sketch normalisation and
      augmentation; a grey output side gets one channel. A folder of photos alone has sketches
      drawn from them, so its input is lines too.
    - Direction: the side that is drawn (lines or a label map) is the input; BtoA when that is
      the right half of the pairs.
    - Size: the images' own side (64, 128 or 256 px, the largest not above it), at most 128 px
      on a CPU.
    - Widths: the papers' 64 on a GPU, 32 on a CPU (about a quarter of the work per step).
    cuda: whether training will run on a GPU (default: as device "auto" picks).
    """
    root = parse_sources(str(data))[0].path
    cuda = pick_device().type == "cuda" if cuda is None else cuda
    r = Recipe()
    if is_unaligned(root):
        a_imgs, b_imgs = _sample(split_folder(root, "trainA")), _sample(split_folder(root, "trainB"))
        a_kind = _majority([image_kind(i) for i in a_imgs])
        r.why.append(f"unaligned trainA/trainB; A looks like {a_kind}")
    elif is_photo_folder(root):
        b_imgs = _sample(root, recursive=True)
        a_imgs, a_kind = [], "lines"
        r.why.append("photos alone: line drawings are made from them on the fly")
    else:
        pairs = _sample(next((root / s for s in ("train", "val") if (root / s).is_dir()), root))
        lefts = [p[:, :p.shape[1] // 2] for p in pairs]
        rights = [p[:, p.shape[1] // 2:] for p in pairs]
        left, right = _majority([image_kind(i) for i in lefts]), _majority([image_kind(i) for i in rights])
        if right != "photo" and left == "photo":
            r.direction, a_imgs, b_imgs, a_kind = "BtoA", rights, lefts, right
            r.why.append(f"A|B pairs whose right half is {right}: BtoA")
        else:
            a_imgs, b_imgs, a_kind = lefts, rights, left
            r.why.append(f"A|B pairs whose left half is {left}")
    if a_kind == "lines":
        r.input_nc, r.sketch_norm, r.sketch_aug = 1, True, True
        r.why.append("line-drawing input: 1 channel, sketch normalisation and augmentation")
    if all(is_grey(i) for i in b_imgs):
        r.output_nc = 1
        r.why.append("grey outputs: 1 channel")
    side = min(min(i.shape[:2]) for i in (a_imgs or b_imgs) + b_imgs)
    cap = 256 if cuda else 128
    r.size = max(64, min(cap, 1 << (max(side, 1).bit_length() - 1)))
    r.width = 64 if cuda else 32
    r.why.append(f"{side} px images: size {r.size}" + ("" if cuda else " (at most 128 on a CPU)"))
    r.why.append(f"widths {r.width}" + (" (the papers')" if cuda else " (a CPU)"))
    return r
