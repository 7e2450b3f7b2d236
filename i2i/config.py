"""Typed configuration: one dataclass per model family and one for training.

A model config holds everything needed to rebuild the networks; it is saved as `config.json`
beside the weights. Unknown keys and wrong types are errors, never silently ignored.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Optional

from .diffaug import check_policy

FORMAT_VERSION = 1
BICYCLE_VARIANTS = ("pix2pix", "cvaegan", "clrgan", "bicyclegan")


class ConfigError(ValueError):
    """A config that cannot describe a model: unknown key, wrong type or bad value."""


@dataclass
class BicycleGANConfig:
    """BicycleGAN and its ablations (the paper's defaults unless noted).

    model: which objective (see models/bicyclegan.py): pix2pix (+noise), cvaegan, clrgan, bicyclegan.
    """
    model: str = "bicyclegan"
    size: int = 256
    input_nc: int = 3
    output_nc: int = 3
    nz: int = 8
    ngf: int = 64
    nef: int = 64
    ndf: int = 64
    where_add: str = "all"          # z at the input only ("input") or at every down level ("all")
    encoder: str = "resnet"         # the paper's better encoder; "conv" is the plain one
    upsample: str = "basic"         # transposed conv as in the official code; "bilinear" is smoother
    norm: str = "instance"
    dropout: bool = False
    n_scales: int = 2               # two discriminator scales, as the official *_multi nets
    d_layers: Optional[int] = None  # PatchGAN depth; None: 3 at >= 256 px, 2 below (official basic_128)
    conditional_d: bool = False     # D sees (A, B) instead of B alone
    gan_mode: str = "lsgan"
    lambda_gan: float = 1.0         # cVAE-GAN half (D)
    lambda_gan2: float = 1.0        # cLR-GAN half (D2)
    lambda_l1: Optional[float] = None  # None: 100 for pix2pix (its paper), 10 for the others
    lambda_kl: float = 0.01
    kl_reduction: str = "mean"      # KL summed over z's dimensions, then: "mean" over images, or "sum" (see losses.kl_loss)
    lambda_z: float = 0.5
    diffaug: str = ""               # DiffAugment policy for every D input, e.g. "translation,cutout" (diffaug.py)
    init: str = "xavier"            # the official BicycleGAN init (xavier, gain 0.02)
    sketch_norm: bool = False       # binarise + thin + re-draw edge inputs (see edges.normalize_sketch)

    def __post_init__(self) -> None:
        if self.model not in BICYCLE_VARIANTS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(BICYCLE_VARIANTS)}")
        if self.lambda_l1 is None:
            self.lambda_l1 = 100.0 if self.model == "pix2pix" else 10.0
        if self.d_layers is None:
            self.d_layers = 3 if self.size >= 256 else 2
        if self.sketch_norm and self.input_nc != 1:
            raise ConfigError("sketch_norm needs a one-channel (edge map) input: set input_nc=1")
        if self.kl_reduction not in ("mean", "sum"):
            raise ConfigError(f"kl_reduction must be mean or sum, got {self.kl_reduction!r}")
        try:
            check_policy(self.diffaug)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        _check_common(self)

    @property
    def uses_z(self) -> bool:
        return True

    @property
    def has_encoder(self) -> bool:
        return self.model != "pix2pix"


@dataclass
class CycleGANConfig:
    """CycleGAN (Zhu et al., ICCV 2017): G: A -> B, F: B -> A, D_A, D_B."""
    model: str = "cyclegan"
    size: int = 256
    input_nc: int = 3
    output_nc: int = 3
    ngf: int = 64
    ndf: int = 64
    n_blocks: Optional[int] = None  # None: 9 residual blocks at >= 256 px, 6 below (the paper)
    d_layers: int = 3               # the 70x70 PatchGAN
    norm: str = "instance"
    dropout: bool = False
    gan_mode: str = "lsgan"
    lambda_cyc: float = 10.0
    lambda_idt: float = 0.5         # identity weight, as a fraction of lambda_cyc
    pool_size: int = 50
    init: str = "normal"
    sketch_norm: bool = False

    def __post_init__(self) -> None:
        if self.model != "cyclegan":
            raise ConfigError(f"CycleGANConfig.model must be 'cyclegan', got {self.model!r}")
        if self.n_blocks is None:
            self.n_blocks = 9 if self.size >= 256 else 6
        _check_common(self)

    @property
    def uses_z(self) -> bool:
        return False

    @property
    def has_encoder(self) -> bool:
        return False


ModelConfig = typing.Union[BicycleGANConfig, CycleGANConfig]


def _check_common(cfg: Any) -> None:
    if cfg.size < 32 or cfg.size & (cfg.size - 1):
        raise ConfigError(f"size must be a power of two >= 32 (64, 128, 256), got {cfg.size}")
    if cfg.gan_mode not in ("lsgan", "vanilla"):
        raise ConfigError(f"gan_mode must be lsgan or vanilla, got {cfg.gan_mode!r}")
    for name in ("input_nc", "output_nc"):
        if getattr(cfg, name) not in (1, 3):
            raise ConfigError(f"{name} must be 1 or 3, got {getattr(cfg, name)}")


def model_config(model: str, **overrides: Any) -> ModelConfig:
    """The config for a model name with the given fields changed."""
    cls = CycleGANConfig if model == "cyclegan" else BicycleGANConfig
    if model != "cyclegan" and model not in BICYCLE_VARIANTS:
        raise ConfigError(f"unknown model {model!r}; choose one of {', '.join(BICYCLE_VARIANTS + ('cyclegan',))}")
    return from_dict(cls, {"model": model, **overrides})


def model_config_from_dict(d: dict) -> ModelConfig:
    """Rebuild a model config from its JSON form (the `config.json` of a checkpoint)."""
    if not isinstance(d, dict) or "model" not in d:
        raise ConfigError("config.json must be an object with a 'model' field")
    d = dict(d)
    version = d.pop("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ConfigError(f"config.json has format_version {version}; this i2i reads version {FORMAT_VERSION}")
    return model_config(d.pop("model"), **d)


def to_dict(cfg: Any) -> dict:
    return {"format_version": FORMAT_VERSION, **dataclasses.asdict(cfg)}


def from_dict(cls: type, d: dict) -> Any:
    """Build dataclass `cls` from `d`, rejecting unknown keys and values of the wrong type."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
    for key, value in d.items():
        if not _type_ok(value, hints[key]):
            raise ConfigError(f"{cls.__name__}.{key} should be {_type_name(hints[key])}, got {value!r}")
        if hints[key] in (float, Optional[float]) and isinstance(value, int):
            d = {**d, key: float(value)}
    return cls(**d)


def _type_ok(value: Any, hint: Any) -> bool:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Union:
        return any(_type_ok(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    args = typing.get_args(hint)
    return " or ".join(_type_name(a) for a in args) if args else getattr(hint, "__name__", str(hint))
