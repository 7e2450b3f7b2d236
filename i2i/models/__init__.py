"""The model registry: a literal map from model name to class."""
from __future__ import annotations

from torch import nn

from ..config import ModelConfig
from .bicyclegan import BicycleGAN
from .cyclegan import CycleGAN

MODELS: dict[str, type[nn.Module]] = {
    "pix2pix": BicycleGAN,
    "cvaegan": BicycleGAN,
    "clrgan": BicycleGAN,
    "bicyclegan": BicycleGAN,
    "cyclegan": CycleGAN,
}


def build_model(cfg: ModelConfig) -> nn.Module:
    """The training model (generators, encoder, discriminators) for a config."""
    if cfg.model not in MODELS:
        raise ValueError(f"unknown model {cfg.model!r}; choose one of {', '.join(MODELS)}")
    return MODELS[cfg.model](cfg)


def build_inference_modules(cfg: ModelConfig) -> dict[str, nn.Module]:
    """Only the networks a release holds (G and E, or G and F), uninitialised."""
    if cfg.model not in MODELS:
        raise ValueError(f"unknown model {cfg.model!r}; choose one of {', '.join(MODELS)}")
    return MODELS[cfg.model].inference_modules(cfg)
