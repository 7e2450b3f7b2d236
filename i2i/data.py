"""Datasets: aligned A|B pairs (pix2pix/BicycleGAN layout), unaligned trainA/trainB (CycleGAN),
and folders of photos alone, whose edge maps the training loop draws on the fly.

Images are decoded once into uint8 tensors kept in memory (1,099 edges2shoes pairs at 144 px
take about 140 MB), so training never waits on JPEG decoding; batches are cut from them with
one random crop shared by A and B (they must stay aligned).

A training `data` setting may mix sources with a weight each: "PATH@W,PATH@W" (see
`parse_sources`); the weight is the share of each batch drawn from that source.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from .images import ImageError, open_image, to_uint8, uint8_to_float

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


class DataError(ValueError):
    """A dataset folder that cannot be used; the message names the folder or file."""


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files in `folder` (and its subfolders if `recursive`), in natural order (2_AB.jpg
    before 10_AB.jpg; subfolders in name order)."""
    if not folder.is_dir():
        raise DataError(f"dataset folder not found: {folder}")
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = [p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        raise DataError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return sorted(files, key=lambda p: (str(p.parent), len(p.stem), p.stem))


def split_folder(root: str | Path, split: str) -> Path:
    """`root/split` when it exists (a dataset folder), else `root` itself (a split folder)."""
    root = Path(root)
    return root / split if (root / split).is_dir() else root


def _read_all(files: list[Path], read, folder: Path) -> tuple[list, list[Path], list[str]]:
    """read(path) for every file, four at a time: (what was read, the files it came from, "file:
    reason" for each unreadable one, which is skipped).

    A folder in which no image can be read is an error (the message names the first failure).
    """
    def safe(path: Path):
        try:
            return read(path), None
        except _Unreadable as e:
            return None, f"{path.name}: {e}"
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(safe, files))
    items = [r for r, _ in results if r is not None]
    kept = [f for f, (r, _) in zip(files, results) if r is not None]
    skipped = [err for _, err in results if err is not None]
    if not items:
        raise DataError(f"no readable image in {folder} (skipped {len(skipped)}: {skipped[0]})")
    return items, kept, skipped


class _Unreadable(Exception):
    """One image file that cannot be decoded: skipped, counted, and the run goes on."""


def _load_or_skip(path: Path, mode: str) -> Image.Image:
    try:
        return open_image(path, mode)
    except ImageError as e:
        raise _Unreadable(str(e)) from None


def _mode(channels: int) -> str:
    return "L" if channels == 1 else "RGB"


@dataclass
class PairedImages:
    """A, B as uint8 tensors (N, C, L, L); `load_size` >= the training size leaves room to crop.

    has_a: (N,) bool, False where A is blank and must be drawn from B (a photo-only source).
    source: (N,) int, which source of a mix each image came from (0 for a single folder).
    skipped: "file: reason" for every unreadable image that was left out.
    moved: how many sketches `align_sketches` moved onto their photos.
    """
    a: torch.Tensor
    b: torch.Tensor
    files: list[str]
    has_a: torch.Tensor | None = None
    source: torch.Tensor | None = None
    skipped: list[str] = field(default_factory=list)
    moved: int = 0

    def __post_init__(self) -> None:
        n = self.a.shape[0]
        if self.has_a is None:
            self.has_a = torch.ones(n, dtype=torch.bool)
        if self.source is None:
            self.source = torch.zeros(n, dtype=torch.long)

    def __len__(self) -> int:
        return self.a.shape[0]

    def to(self, device: torch.device) -> "PairedImages":
        return dataclasses.replace(self, a=self.a.to(device), b=self.b.to(device), has_a=self.has_a.to(device))


def load_aligned(folder: str | Path, *, load_size: int, direction: str = "AtoB", input_nc: int = 3,
                 output_nc: int = 3, limit: int | None = None) -> PairedImages:
    """Read a folder of A|B images (width = 2 x height), each half resized to load_size^2.

    direction "BtoA" swaps the halves (facades are photo|labels, so labels -> photo is BtoA).
    """
    if direction not in ("AtoB", "BtoA"):
        raise DataError(f"direction must be AtoB or BtoA, got {direction!r}")
    files = list_images(Path(folder))[:limit]

    def one(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
        img = _load_or_skip(path, "RGB")
        w, h = img.size
        if abs(w - 2 * h) > 2:
            raise DataError(f"{path}: expected A and B side by side (width = 2 x height), got {w}x{h}")
        left, right = img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, w, h))
        a, b = (left, right) if direction == "AtoB" else (right, left)
        size = (load_size, load_size)
        return (to_uint8(a.convert(_mode(input_nc)).resize(size, Image.BICUBIC)),
                to_uint8(b.convert(_mode(output_nc)).resize(size, Image.BICUBIC)))

    pairs, kept, skipped = _read_all(files, one, Path(folder))
    return PairedImages(torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs]),
                        [str(f) for f in kept], skipped=skipped)


def align_sketches(data: PairedImages, max_scale: float = 2.0, tolerance: float = 0.04) -> PairedImages:
    """Stretch and shift each pair's sketch so that its ink's bounding box is the photo's shoe's.

    People draw a shoe from memory of a photo, off-place and off-size (QMUL-Shoe's outlines
    overlap their photos' with an IoU of 0.77; with the boxes matched, 0.86: see
    scripts/sketch_alignment.py). Trained on such pairs, the L1 term asks G to paint shoe where
    the sketch has none. Only sketches (A of one channel) are moved; a pair is left as it is when
    its sketch or shoe cannot be found, when it would be scaled by more than `max_scale`, or when
    the boxes already agree within `tolerance` of the image's side.
    The result counts the sketches it moved in `moved`.
    """
    from .edges import box_of, boxes_agree, ink_mask, move_box
    from .realism import shoe_mask

    if data.a.shape[1] != 1:
        return data
    a = data.a.clone()
    moved = 0
    for i in torch.nonzero(data.has_a).flatten().tolist():
        gray, photo = data.a[i:i + 1].float() / 255, data.b[i:i + 1].float() / 255
        src = box_of(ink_mask(gray)[0, 0])
        shoe = shoe_mask(photo)[0, 0]
        dst = None if shoe.mean() > 0.95 else box_of(shoe)  # all ones: no shoe found on the paper
        if src is None or dst is None:
            continue
        scales = (dst[2] / src[2], dst[3] / src[3])
        if not all(1 / max_scale <= r <= max_scale for r in scales):
            continue
        if boxes_agree(src, dst, data.a.shape[-1], tolerance):
            continue  # in place already (edge maps, drawn from their photos, are within 3 px at 144)
        a[i] = (move_box(gray, src, dst)[0] * 255).round().clamp(0, 255).to(torch.uint8)
        moved += 1
    return dataclasses.replace(data, a=a, moved=data.moved + moved)


def load_photos(folder: str | Path, *, load_size: int, input_nc: int = 1, output_nc: int = 3,
                limit: int | None = None) -> PairedImages:
    """Read every photo under `folder` (subfolders too) as B, each stretched to load_size^2.

    Stretched, not padded: edges2shoes photos are UT-Zappos50K's 136x102 images stretched to a
    square, so stretching keeps these photos in the same geometry as the paired data. A is left
    blank (has_a False): the training loop draws it from B with i2i's edge extraction.
    """
    folder = Path(folder)
    files = list_images(folder, recursive=True)[:limit]
    size = (load_size, load_size)

    def one(path: Path) -> torch.Tensor:
        return to_uint8(_load_or_skip(path, _mode(output_nc)).resize(size, Image.BICUBIC))

    photos, _, skipped = _read_all(files, one, folder)
    b = torch.stack(photos)
    return PairedImages(torch.zeros(len(b), input_nc, load_size, load_size, dtype=torch.uint8), b, [str(folder)],
                        has_a=torch.zeros(len(b), dtype=torch.bool), skipped=skipped)


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

    def read(folder: Path, channels: int) -> tuple[list[torch.Tensor], list[str]]:
        def one(p: Path) -> torch.Tensor:
            return to_uint8(_load_or_skip(p, _mode(channels)).resize((load_size, load_size), Image.BICUBIC))
        images, _, skipped = _read_all(list_images(folder)[:limit], one, folder)
        return images, skipped

    (a, skip_a), (b, skip_b) = read(root / f"{split}A", input_nc), read(root / f"{split}B", output_nc)
    n = max(len(a), len(b))
    a, b = [a[i % len(a)] for i in range(n)], [b[i % len(b)] for i in range(n)]
    return PairedImages(torch.stack(a), torch.stack(b), [str(root / f"{split}A"), str(root / f"{split}B")],
                        skipped=skip_a + skip_b)


def is_unaligned(root: str | Path) -> bool:
    return (Path(root) / "trainA").is_dir() or (Path(root) / "testA").is_dir()


def is_photo_folder(root: str | Path) -> bool:
    """A folder of photos alone (e.g. shoe_photos/boot, /sandal, /shoe): no A|B pairs in it."""
    root = Path(root)
    if is_unaligned(root) or (root / "train").is_dir() or (root / "val").is_dir():
        return False
    direct = [p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES] if root.is_dir() else []
    if not direct:
        return root.is_dir() and any(p.is_dir() for p in root.iterdir())
    try:
        with Image.open(direct[0]) as img:
            w, h = img.size
    except OSError:
        return False
    return abs(w - 2 * h) > 2


@dataclass
class Source:
    """One training source of a mix: a folder and its share of each batch."""
    path: Path
    weight: float = 1.0


def parse_sources(spec: str) -> list[Source]:
    """"PATH" or "PATH@W,PATH@W,..." -> sources; every folder must exist (checked before training).

    e.g. "../shared/data/edges2shoes@1,../shared/data/shoe_photos@2" draws a third of each batch
    from the edges2shoes pairs and two thirds from the photos.
    """
    sources = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        path, _, weight = part.rpartition("@") if "@" in part else (part, "", "1")
        try:
            w = float(weight)
        except ValueError:
            raise DataError(f"bad weight {weight!r} in data source {part!r}: expected PATH@NUMBER") from None
        if not w > 0:
            raise DataError(f"the weight of data source {path} must be > 0, got {weight}")
        if not Path(path).is_dir():
            raise DataError(f"dataset folder not found: {path} (in data {spec!r})")
        sources.append(Source(Path(path), w))
    if not sources:
        raise DataError("no data source given")
    if len(sources) > 1 and any(is_unaligned(s.path) for s in sources):
        raise DataError("an unaligned (trainA/trainB) dataset cannot be mixed with other sources")
    return sources


def concat(parts: list[PairedImages]) -> PairedImages:
    """One dataset from several (all stored at the same load size); `source` tells them apart."""
    if len(parts) == 1:
        return parts[0]
    return PairedImages(torch.cat([p.a for p in parts]), torch.cat([p.b for p in parts]),
                        [f for p in parts for f in p.files], has_a=torch.cat([p.has_a for p in parts]),
                        source=torch.cat([torch.full((len(p),), i, dtype=torch.long) for i, p in enumerate(parts)]),
                        skipped=[s for p in parts for s in p.skipped], moved=sum(p.moved for p in parts))


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
