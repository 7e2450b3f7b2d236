"""DiffAugment (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training",
NeurIPS 2020): the same kind of random, differentiable transform is applied to every image the
discriminator sees, real and fake, in D's update and in G's. With a few thousand photos a
discriminator otherwise memorises the training set and stops giving G a useful gradient.

Images are (B, C, H, W) in [-1, 1]; randomness comes from the global torch RNG, which the
training loop re-seeds from (seed, step); each draw is made for the global batch and sliced
to this rank's rows (distributed.rand_shard), so several processes augment as one would.
"""
from __future__ import annotations

import torch

from .distributed import rand_shard, randint_shard

POLICIES = ("color", "translation", "cutout")


def check_policy(policy: str) -> list[str]:
    """"translation,cutout" -> ["translation", "cutout"]; an unknown name is an error."""
    names = [p for p in policy.split(",") if p]
    bad = [p for p in names if p not in POLICIES]
    if bad:
        raise ValueError(f"unknown DiffAugment policy {', '.join(bad)}; choose from {', '.join(POLICIES)}")
    return names


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    for name in check_policy(policy):
        x = {"color": _color, "translation": _translation, "cutout": _cutout}[name](x)
    return x


def _color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness (+-0.5 of the [0, 1] range), saturation (x0..2) and contrast (x0.5..1.5)."""
    b = x.shape[0]
    r = lambda: rand_shard(b, 1, 1, 1, device=x.device, dtype=x.dtype)  # noqa: E731
    x = x + (r() - 0.5) * 2
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (r() * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (r() + 0.5) + mean


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to 1/8 of its size; the uncovered border is white paper."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = randint_shard(-sh, sh + 1, b, 1, 1, device=x.device)
    tx = randint_shard(-sw, sw + 1, b, 1, 1, device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = (gy[None] + ty + 1).clamp(0, h + 1)
    gx = (gx[None] + tx + 1).clamp(0, w + 1)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), value=1.0).permute(0, 2, 3, 1)
    return padded[torch.arange(b, device=x.device)[:, None, None], gy, gx].permute(0, 3, 1, 2).contiguous(
        memory_format=torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Blank (to 0, mid-grey) one square of half the image's size at a random place per image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = randint_shard(0, h + (1 - ch % 2), b, 1, 1, device=x.device)
    ox = randint_shard(0, w + (1 - cw % 2), b, 1, 1, device=x.device)
    gy, gx = torch.meshgrid(torch.arange(ch, device=x.device), torch.arange(cw, device=x.device), indexing="ij")
    gy = (gy[None] + oy - ch // 2).clamp(0, h - 1)
    gx = (gx[None] + ox - cw // 2).clamp(0, w - 1)
    mask = torch.ones(b, h, w, device=x.device, dtype=x.dtype)
    mask[torch.arange(b, device=x.device)[:, None, None], gy, gx] = 0
    return x * mask[:, None]
