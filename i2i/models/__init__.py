"""The model registry: each family is one entry, its model class, which brings its config class
(`Model.Config`), the variant names that config takes (`Model.variants`) and whether it learns
from aligned pairs (`Model.paired`).

Adding a family: one module here (its config dataclass and its model class) and its line in
FAMILIES. The CLI's --model choices, the app's list, training, evaluation and checkpoint loading
all read this registry.
"""
from __future__ import annotations

import typing
from typing import Any

from torch import nn

from ..config import FORMAT_VERSION, ConfigError, from_dict
from .bicyclegan import BicycleGAN, BicycleGANConfig
from .cyclegan import CycleGAN, CycleGANConfig

__all__ = ["FAMILIES", "BicycleGANConfig", "CycleGANConfig", "ModelConfig", "build_inference_modules", "build_model",
           "family", "model_config", "model_config_from_dict", "model_names"]

FAMILIES: dict[str, type[nn.Module]] = {
    "bicyclegan": BicycleGAN,  # with its ablations as variants: cvaegan, clrgan, pix2pix (+noise)
    "cyclegan": CycleGAN,
}

ModelConfig = typing.Union[tuple(cls.Config for cls in FAMILIES.values())]  # any family's config


def model_names() -> list[str]:
    """Every name a model config (and --model) takes, family by family."""
    return [name for family in FAMILIES.values() for name in family.variants]


def family(model: str) -> type[nn.Module]:
    """The model class whose family has the variant `model`."""
    for cls in FAMILIES.values():
        if model in cls.variants:
            return cls
    raise ConfigError(f"unknown model {model!r}; choose one of {', '.join(model_names())}")


def model_config(model: str, **overrides: Any) -> ModelConfig:
    """The config for a model name with the given fields changed."""
    return from_dict(family(model).Config, {"model": model, **overrides})


def model_config_from_dict(d: dict) -> ModelConfig:
    """Rebuild a model config from its JSON form (the `config.json` of a checkpoint)."""
    if not isinstance(d, dict) or "model" not in d:
        raise ConfigError("config.json must be an object with a 'model' field")
    d = dict(d)
    version = d.pop("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ConfigError(f"config.json has format_version {version}; this i2i reads version {FORMAT_VERSION}")
    return model_config(d.pop("model"), **d)


def build_model(cfg: ModelConfig) -> nn.Module:
    """The training model (generators, encoder, discriminators) for a config."""
    return family(cfg.model)(cfg)


def build_inference_modules(cfg: ModelConfig) -> dict[str, nn.Module]:
    """Only the networks a release holds (G and E, or G and F), uninitialised."""
    return family(cfg.model).inference_modules(cfg)
