"""Image I/O: the one place where pixels become tensors in [-1, 1] and back.

Everything that reads a user's image goes through `open_image`, so the size limit, the
decompression-bomb guard and the mode conversions (RGBA, P, L, I;16, CMYK, animated GIF) are
enforced once.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's own guard raises DecompressionBombError above 2x this; we check the header size
# ourselves before decoding, so a 10,000 x 10,000 upload is refused without allocating it.
MAX_PIXELS = 25_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

ImageLike = Union[str, os.PathLike, bytes, Image.Image, np.ndarray]


class ImageError(ValueError):
    """An input image that cannot be used; the message says why in words a user understands."""


def open_image(source: ImageLike, mode: str = "RGB", max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open a path, bytes, PIL image or numpy array as a PIL image of `mode` ("RGB" or "L").

    Transparent pixels become white (a sketch drawn on a transparent layer is black on white),
    16-bit images are scaled to 8 bits, and only the first frame of an animation is used.
    """
    if isinstance(source, np.ndarray):
        img = _from_array(source)
    elif isinstance(source, Image.Image):
        img = source
    else:
        try:
            img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else Path(source))
        except FileNotFoundError:
            raise ImageError(f"image file not found: {source}") from None
        except IsADirectoryError:
            raise ImageError(f"expected an image file, got a folder: {source}") from None
        except UnidentifiedImageError:
            raise ImageError("this file is not an image Pillow can read (PNG, JPEG, WebP, GIF, ...)") from None
        except Image.DecompressionBombError as e:
            raise ImageError(f"image is too large: the limit is {max_pixels / 1e6:.0f} MP ({e})") from None
    w, h = img.size
    if w * h > max_pixels:
        raise ImageError(f"image is {w}x{h} ({w * h / 1e6:.0f} MP); the limit is {max_pixels / 1e6:.0f} MP")
    if w < 8 or h < 8:
        raise ImageError(f"image is {w}x{h}; it must be at least 8x8 pixels")
    try:
        img.seek(0)  # first frame of an animated GIF/WebP
        img.load()
        img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"image file is truncated or corrupt ({e})") from None
    return _convert(img, mode)


def _from_array(a: np.ndarray) -> Image.Image:
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise ImageError(f"expected an HxW, HxWx3 or HxWx4 array, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.asarray(a, dtype=np.float64)
        if not np.isfinite(a).all():
            raise ImageError("image array contains NaN or infinite values")
        scale = 255.0 if a.max(initial=0) <= 1.0 else 1.0
        a = np.clip(a * scale, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return Image.fromarray(a)


def _convert(img: Image.Image, mode: str) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if a.max(initial=0) > 255 else 255.0
        img = Image.fromarray(np.clip(a / hi * 255.0, 0, 255).astype(np.uint8))
    elif img.mode == "F":
        a = np.nan_to_num(np.asarray(img, dtype=np.float64))
        img = Image.fromarray(np.clip(a * (255.0 if a.max(initial=0) <= 1 else 1), 0, 255).astype(np.uint8))
    if img.mode == "P" or img.mode == "LA" or (img.mode == "RGB" and "transparency" in img.info):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    return img.convert(mode)


def to_tensor(img: Image.Image, channels: int) -> torch.Tensor:
    """PIL image -> float tensor (channels, H, W) in [-1, 1]."""
    return uint8_to_float(to_uint8(img.convert("L" if channels == 1 else "RGB")))


def to_uint8(img: Image.Image) -> torch.Tensor:
    """PIL image (L or RGB) -> uint8 tensor (C, H, W), as the datasets keep images in memory."""
    t = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy())
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1)


def uint8_to_float(t: torch.Tensor) -> torch.Tensor:
    """uint8 in [0, 255] -> float in [-1, 1] (the range every network here uses)."""
    return t.float().div(127.5).sub(1.0)


def to_unit(t: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1]: the range of the edge and sketch operations and of the measures."""
    return (t + 1) / 2


def from_unit(t: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1]."""
    return t * 2 - 1


def to_pil(t: torch.Tensor) -> Image.Image:
    """Tensor (C, H, W) in [-1, 1] -> PIL image (L for 1 channel, RGB for 3)."""
    a = ((t.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    if a.shape[0] == 1:
        return Image.fromarray(a[0].numpy(), mode="L")
    return Image.fromarray(a.permute(1, 2, 0).numpy(), mode="RGB")


def grid(rows: list[list[Image.Image]], cell: int, pad: int = 2) -> Image.Image:
    """Paste rows of images into one RGB sheet, each resized to cell x cell."""
    ncols = max(len(r) for r in rows)
    sheet = Image.new("RGB", (ncols * (cell + pad) + pad, len(rows) * (cell + pad) + pad), "white")
    for i, row in enumerate(rows):
        for j, im in enumerate(row):
            sheet.paste(im.convert("RGB").resize((cell, cell)), (pad + j * (cell + pad), pad + i * (cell + pad)))
    return sheet
