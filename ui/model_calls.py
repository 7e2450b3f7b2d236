"""The only code that runs the networks for the page: under ZeroGPU these run on a GPU worker."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from i2i.infer import Translator

try:  # Hugging Face ZeroGPU: runs the decorated function on a GPU worker; a no-op elsewhere
    import spaces
    gpu = spaces.GPU
    ZERO_GPU = bool(os.environ.get("SPACES_ZERO_GPU"))  # set by Spaces on ZeroGPU hardware
except ImportError:
    ZERO_GPU = False

    def gpu(duration: int):
        return lambda fn: fn

# duration=: the most seconds a call may hold the GPU (a shorter one waits less in ZeroGPU's
# queue), sized above the slowest call of each kind on this project's 2-core CPU (a GPU runs
# them faster): generate's largest batch is 32 images, encode and translate one image.


@gpu(duration=10)
def run_generate(t: Translator, image, seeds: list[int] | None = None, z=None, fit: bool = True) -> list[Image.Image]:
    """fit: treat the input as a person's drawing: centre and scale it, and keep the paper white
    around it (Translator.generate's fit and clean)."""
    return t.generate(image, z=z, seeds=seeds, fit=fit, clean=fit)


@gpu(duration=10)
def run_translate(t: Translator, image, reverse: bool = False) -> Image.Image:
    return t.translate(image, reverse=reverse)


@gpu(duration=5)
def run_encode(t: Translator, photo) -> np.ndarray:
    return t.encode(photo)
