"""Datasets: aligned A|B pairs (pix2pix/BicycleGAN layout) and unaligned trainA/trainB (CycleGAN).

Images are decoded once into uint8 tensors kept in memory (1,099 edges2shoes pairs at 144 px
take about 140 MB), so training never waits on JPEG decoding; batches are cut from them with
one random crop shared by A and B (they must stay aligned).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .images import ImageError, open_image, uint8_to_float

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


class DataError(ValueError):
    """A dataset folder that cannot be used; the message names the folder or file."""


def list_images(folder: Path) -> list[Path]:
    """Image files directly in `folder`, in natural order (2_AB.jpg before 10_AB.jpg)."""
    if not folder.is_dir():
        raise DataError(f"dataset folder not found: {folder}")
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        raise DataError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return sorted(files, key=lambda p: (len(p.stem), p.stem))


def split_folder(root: str | Path, split: str) -> Path:
    """`root/split` when it exists (a dataset folder), else `root` itself (a split folder)."""
    root = Path(root)
    return root / split if (root / split).is_dir() else root


def _load(path: Path, mode: str) -> Image.Image:
    try:
        return open_image(path, mode)
    except ImageError as e:
        raise DataError(f"{path}: {e}") from None


def _as_uint8(img: Image.Image) -> torch.Tensor:
    a = np.asarray(img, dtype=np.uint8)
    t = torch.from_numpy(a.copy())
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1)


def _mode(channels: int) -> str:
    return "L" if channels == 1 else "RGB"


@dataclass
class PairedImages:
    """A, B as uint8 tensors (N, C, L, L); `load_size` >= the training size leaves room to crop."""
    a: torch.Tensor
    b: torch.Tensor
    files: list[str]

    def __len__(self) -> int:
        return self.a.shape[0]

    def to(self, device: torch.device) -> "PairedImages":
        return PairedImages(self.a.to(device), self.b.to(device), self.files)


def load_aligned(folder: str | Path, *, load_size: int, direction: str = "AtoB", input_nc: int = 3,
                 output_nc: int = 3, limit: int | None = None) -> PairedImages:
    """Read a folder of A|B images (width = 2 x height), each half resized to load_size^2.

    direction "BtoA" swaps the halves (facades are photo|labels, so labels -> photo is BtoA).
    """
    if direction not in ("AtoB", "BtoA"):
        raise DataError(f"direction must be AtoB or BtoA, got {direction!r}")
    files = list_images(Path(folder))[:limit]

    def one(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
        img = _load(path, "RGB")
        w, h = img.size
        if abs(w - 2 * h) > 2:
            raise DataError(f"{path}: expected A and B side by side (width = 2 x height), got {w}x{h}")
        left, right = img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, w, h))
        a, b = (left, right) if direction == "AtoB" else (right, left)
        size = (load_size, load_size)
        return (_as_uint8(a.convert(_mode(input_nc)).resize(size, Image.BICUBIC)),
                _as_uint8(b.convert(_mode(output_nc)).resize(size, Image.BICUBIC)))

    with ThreadPoolExecutor(max_workers=4) as pool:
        pairs = list(pool.map(one, files))
    return PairedImages(torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs]),
                        [str(f) for f in files])


def load_unaligned(root: str | Path, *, split: str = "train", load_size: int, input_nc: int = 3,
                   output_nc: int = 3, limit: int | None = None) -> PairedImages:
    """Read root/{split}A and root/{split}B (CycleGAN layout); the two sets need not match in size.

    The shorter set is repeated to the longer one's length so both index the same range; batches
    draw A and B indices independently.
    """
    root = Path(root)
    for s in ("A", "B"):
        if not (root / f"{split}{s}").is_dir():
            raise DataError(f"unaligned dataset needs {root / (split + 'A')} and {root / (split + 'B')}")

    def read(folder: Path, channels: int) -> list[torch.Tensor]:
        def one(p: Path) -> torch.Tensor:
            return _as_uint8(_load(p, _mode(channels)).resize((load_size, load_size), Image.BICUBIC))
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(one, list_images(folder)[:limit]))

    a, b = read(root / f"{split}A", input_nc), read(root / f"{split}B", output_nc)
    n = max(len(a), len(b))
    a, b = [a[i % len(a)] for i in range(n)], [b[i % len(b)] for i in range(n)]
    return PairedImages(torch.stack(a), torch.stack(b), [str(root / f"{split}A"), str(root / f"{split}B")])


def is_unaligned(root: str | Path) -> bool:
    return (Path(root) / "trainA").is_dir() or (Path(root) / "testA").is_dir()


def make_batch(data: PairedImages, a_idx: torch.Tensor, b_idx: torch.Tensor, *, size: int,
               generator: torch.Generator | None, flip: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a batch of size x size crops in [-1, 1] from the stored images.

    With a generator: a random crop per sample (one offset shared by A and B when the pair is
    aligned) and, if `flip`, a random horizontal flip; without: the full image resized to `size`.
    """
    a, b = data.a[a_idx], data.b[b_idx]
    load = a.shape[-1]
    if generator is None or load == size:
        if load != size:
            a = torch.nn.functional.interpolate(a.float(), size=(size, size), mode="area")
            b = torch.nn.functional.interpolate(b.float(), size=(size, size), mode="area")
        return uint8_to_float(a), uint8_to_float(b)
    n = a.shape[0]
    offs = torch.randint(0, load - size + 1, (n, 2), generator=generator).tolist()
    flips = (torch.rand(n, generator=generator) < 0.5).tolist() if flip else [False] * n
    crops_a, crops_b = [], []
    for i, ((y, x), f) in enumerate(zip(offs, flips)):
        ca, cb = a[i, :, y:y + size, x:x + size], b[i, :, y:y + size, x:x + size]
        crops_a.append(ca.flip(-1) if f else ca)
        crops_b.append(cb.flip(-1) if f else cb)
    return uint8_to_float(torch.stack(crops_a)), uint8_to_float(torch.stack(crops_b))
