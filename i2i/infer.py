"""Inference: `Translator.load(folder_or_repo_id)`, then `generate`, `encode`, `translate`.

Inputs are PIL images, numpy arrays, paths or bytes of any size and mode; outputs are PIL
images at the model's size. Seed k always maps to the same z, and all seeds of a call run in
one batched forward pass. A seed's image is the same bytes from one call to the next; alone or
in a batch of another size it agrees to 1e-4 (at most one grey level), since CPU kernels sum in
another order for another batch size (tested in test_checkpoint_infer.py).
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .checkpoint import load_into, load_release
from .device import pick_device
from .edges import box_of, ink_mask, normalize_sketch, outline_mask, stroke_width_for
from .engine import autocast, choose_engine
from .images import ImageLike, from_unit, open_image, to_pil, to_tensor, to_unit
from .models import ModelConfig, build_inference_modules

log = logging.getLogger(__name__)

MAX_Z = 10.0  # |z| beyond this is far outside N(0, I): almost surely a mistake, not a style
MAX_BATCH = 64


class LatentError(ValueError):
    """A latent code of the wrong length, or with NaN/inf/absurd values."""


def z_for_seed(seed: int, nz: int) -> torch.Tensor:
    """The latent code of a seed: N(0, I) from a generator seeded with it (independent of batch)."""
    return torch.randn(nz, generator=torch.Generator().manual_seed(int(seed)))


def interpolate(z0: Sequence[float], z1: Sequence[float], k: int) -> np.ndarray:
    """k codes evenly spaced on the line from z0 to z1 (both ends included): (k, nz)."""
    a, b = np.asarray(z0, dtype=np.float32), np.asarray(z1, dtype=np.float32)
    if a.shape != b.shape:
        raise LatentError(f"cannot interpolate between codes of lengths {a.size} and {b.size}")
    t = np.linspace(0.0, 1.0, max(2, int(k)), dtype=np.float32)[:, None]
    return (1 - t) * a + t * b


def fit_sketch(img: Image.Image, margin: float = 0.04) -> Image.Image:
    """Centre a drawing and scale it to span the frame's width, as edges2shoes objects do.

    People draw small, off-centre shoes on a big canvas; the model was trained on objects that
    fill the frame. Blank images are returned as they are.
    """
    gray = torch.from_numpy(np.asarray(img.convert("L"), dtype=np.float32) / 255.0)[None, None]
    ink_box = box_of(ink_mask(gray)[0, 0])
    if ink_box is None:
        return img
    side = int(max(ink_box[2], ink_box[3]) / (1 - 2 * margin)) + 1
    cx, cy = int(ink_box[0] + 0.5), int(ink_box[1] + 0.5)
    box = (cx - side // 2, cy - side // 2, cx - side // 2 + side, cy - side // 2 + side)
    fill = 255 if img.mode == "L" else (255, 255, 255)
    canvas = Image.new(img.mode, (side, side), fill)
    canvas.paste(img.crop((max(box[0], 0), max(box[1], 0), min(box[2], img.width), min(box[3], img.height))),
                 (max(0, -box[0]), max(0, -box[1])))
    return canvas


class Translator:
    """A loaded release, ready to translate. Thread-safe: forward passes are serialised."""

    def __init__(self, cfg: ModelConfig, modules: dict[str, torch.nn.Module], device: torch.device,
                 engine: str = "auto", source: str = ""):
        self.cfg, self.device, self.source = cfg, device, source
        self.G = modules["G"].to(device).eval()
        self.E = modules["E"].to(device).eval() if "E" in modules else None
        self.F = modules["F"].to(device).eval() if "F" in modules else None
        self._lock = threading.Lock()  # forward passes
        self._cache_lock = threading.Lock()  # the prepared-input cache, shared by request threads
        self._inputs: OrderedDict[str, list] = OrderedDict()  # prepared inputs and masks (slider drags)
        self.engine = choose_engine(self.G, cfg, device, engine)  # how G runs (engine.py); E and F run eager
        log.info("i2i: %s on %s, engine %s (%s)", cfg.model, device, self.engine.name, self.engine.reason)

    @classmethod
    def load(cls, path_or_repo: str | os.PathLike, *, device: str = "auto", engine: str = "auto",
             revision: str | None = None) -> "Translator":
        """Load a release folder or Hugging Face Hub repo id (see checkpoint.resolve).

        engine: how G runs, "fp32", "bf16", "onnx", or "auto" (measured here; engine.py).
        """
        cfg, weights = load_release(path_or_repo, revision)
        modules = build_inference_modules(cfg)
        load_into(modules, weights, str(path_or_repo))
        return cls(cfg, modules, pick_device(device), engine, source=str(path_or_repo))

    @property
    def uses_z(self) -> bool:
        return self.cfg.uses_z

    @property
    def nz(self) -> int:
        return self.cfg.nz if self.cfg.uses_z else 0

    @property
    def size(self) -> int:
        return self.cfg.size

    @property
    def has_encoder(self) -> bool:
        return self.E is not None

    def _autocast(self):
        """For the networks that always run eager (E, CycleGAN's G and F): bf16 where the engine is."""
        return autocast(self.device, self.engine.name)

    # -- inputs ------------------------------------------------------------------------------
    def prepare(self, image: ImageLike, fit: bool = False) -> torch.Tensor:
        """Any input image -> (1, C, size, size) in [-1, 1], normalised like the training inputs."""
        return self._prepared(image, fit)[0]

    def _prepared(self, image: ImageLike, fit: bool,
                  with_mask: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(input tensor, outline mask or None), cached by content: a slider drag re-sends the same sketch."""
        mode = "L" if self.cfg.input_nc == 1 else "RGB"
        img = open_image(image, mode)
        key = hashlib.blake2b(img.tobytes() + bytes([fit]) + str(img.size).encode(), digest_size=16).hexdigest()
        with self._cache_lock:
            cached = self._inputs.get(key)
            if cached is not None:
                self._inputs.move_to_end(key)
        if cached is None:
            if fit:
                img = fit_sketch(img)
            img = img.resize((self.size, self.size), Image.BILINEAR if self.cfg.sketch_norm else Image.BICUBIC)
            x = to_tensor(img, self.cfg.input_nc)[None]
            if self.cfg.sketch_norm:
                x = from_unit(normalize_sketch(to_unit(x), width=stroke_width_for(self.size)))
            cached = [x, None, False]  # tensor, mask, mask computed
        if with_mask and not cached[2]:
            cached = [cached[0], outline_mask(to_unit(cached[0])) if self.cfg.input_nc == 1 else None, True]
        with self._cache_lock:
            self._inputs[key] = cached
            if len(self._inputs) > 16:
                self._inputs.popitem(last=False)
        return cached[0], cached[1]

    def latents(self, z=None, seeds: Sequence[int] | None = None, n: int = 8) -> torch.Tensor:
        """(k, nz) codes from explicit z (one code or k codes), or from seeds, or seeds 0..n-1."""
        if not self.uses_z:
            raise LatentError(f"{self.cfg.model} has no latent code")
        if z is not None:
            arr = np.asarray(z, dtype=np.float64)
            if arr.ndim == 1:
                arr = arr[None]
            if arr.ndim != 2 or arr.shape[1] != self.nz:
                raise LatentError(f"z must have {self.nz} values per code, got shape {tuple(np.shape(z))}")
            if not np.isfinite(arr).all():
                raise LatentError("z contains NaN or infinite values")
            if np.abs(arr).max() > MAX_Z:
                raise LatentError(f"z values must lie within +-{MAX_Z:g} (N(0, I) codes rarely pass +-3); "
                                  f"got {np.abs(arr).max():.3g}")
            codes = torch.from_numpy(arr.astype(np.float32))
        else:
            seeds = list(range(n)) if seeds is None else [int(s) for s in seeds]
            codes = torch.stack([z_for_seed(s, self.nz) for s in seeds]) if seeds else torch.empty(0, self.nz)
        if not 1 <= codes.shape[0] <= MAX_BATCH:
            raise LatentError(f"between 1 and {MAX_BATCH} codes per call, got {codes.shape[0]}")
        return codes

    # -- forward passes ----------------------------------------------------------------------
    def _forward(self, x: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        with self._lock:
            return self.engine.forward(x, z)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None, reverse: bool = False) -> torch.Tensor:
        """G on prepared inputs, batched (for evaluation): x (B, input_nc, size, size) in [-1, 1] as
        `prepare` gives, z (B, nz) or None -> (B, output_nc, size, size) in [-1, 1], float32 on the CPU.

        reverse: F instead of G (CycleGAN's B -> A generator), x (B, output_nc, H, W).
        """
        if not reverse:
            y = self._forward(x.to(self.device), None if z is None else z.to(self.device))
        elif self.F is None:
            raise LatentError(f"{self.cfg.model} has no reverse generator")
        else:
            with self._lock, torch.inference_mode(), self._autocast():
                y = self.F(x.to(self.device))
        return y.float().cpu().clamp(-1, 1)

    def encode_batch(self, photos: torch.Tensor) -> torch.Tensor:
        """mu of E for a batch (for evaluation): photos (B, output_nc, size, size) in [-1, 1] ->
        (B, nz), float32 on the CPU."""
        if self.E is None:
            raise LatentError(f"{self.cfg.model} has no encoder")
        with self._lock, torch.inference_mode(), self._autocast():
            mu, _ = self.E(photos.to(self.device))
        return mu.float().cpu()

    def generate(self, image: ImageLike, z=None, seeds: Sequence[int] | None = None, n: int = 8,
                 fit: bool = False, clean: bool = False) -> list[Image.Image]:
        """One output per code: G(A, z_k). Codes from `z`, else `seeds`, else seeds 0..n-1.

        clean: white paper outside a closed outline (edges.outline_mask); a post-process, so the
        raw model output is what `clean=False` and `evaluate` show.
        """
        codes = self.latents(z, seeds, n)
        x, mask = self._prepared(image, fit, with_mask=clean)
        y = self._forward(x.to(self.device).expand(codes.shape[0], -1, -1, -1), codes.to(self.device))
        if clean and mask is not None:
            mask = mask.to(y.device)
            y = y * mask + (1 - mask)  # 1 = white in [-1, 1]
        return [to_pil(t) for t in y]

    def translate(self, image: ImageLike, reverse: bool = False) -> Image.Image:
        """A model without z (CycleGAN): G(a), or F(b) with reverse=True."""
        if self.uses_z:
            return self.generate(image, seeds=[0])[0]
        net = self.F if reverse else self.G
        mode = "L" if (self.cfg.output_nc if reverse else self.cfg.input_nc) == 1 else "RGB"
        img = open_image(image, mode)
        # fully convolutional: keep the aspect ratio (shorter side = the training size, longer
        # side at most twice that, both multiples of 4 for the two down-samplings)
        w, h = img.size
        scale = self.size / min(w, h)
        size = [max(4, min(2 * self.size, round(v * scale / 4) * 4)) for v in (w, h)]
        img = img.resize(tuple(size), Image.BICUBIC)
        x = to_tensor(img, 1 if mode == "L" else 3)[None].to(self.device)
        with self._lock, torch.inference_mode(), self._autocast():
            return to_pil(net(x)[0])

    def encode(self, photo: ImageLike) -> np.ndarray:
        """The latent code of a photo's style: mu of E(B) (the mean, as the official test code)."""
        if self.E is None:
            raise LatentError(f"{self.cfg.model} has no encoder: it cannot take a style from a photo")
        mode = "L" if self.cfg.output_nc == 1 else "RGB"
        img = open_image(photo, mode).resize((self.size, self.size), Image.BICUBIC)
        x = to_tensor(img, self.cfg.output_nc)[None].to(self.device)
        with self._lock, torch.inference_mode(), self._autocast():
            mu, _ = self.E(x)
        return mu[0].float().cpu().numpy()
