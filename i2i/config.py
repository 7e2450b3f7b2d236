"""Typed configuration: what every config dataclass shares.

Each model family's config dataclass lives beside its model (models/bicyclegan.py,
models/cyclegan.py) and the registry (models/__init__.py) maps names to them; training's is
train.TrainConfig. A model config holds everything needed to rebuild the networks; it is saved
as `config.json` beside the weights. Unknown keys and wrong types are errors, never silently
ignored.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Optional

FORMAT_VERSION = 1


class ConfigError(ValueError):
    """A config that cannot describe a model: unknown key, wrong type or bad value."""


def check_common(cfg: Any) -> None:
    """The checks every family's config shares: size, GAN loss, channel counts."""
    if cfg.size < 32 or cfg.size & (cfg.size - 1):
        raise ConfigError(f"size must be a power of two >= 32 (64, 128, 256), got {cfg.size}")
    if cfg.gan_mode not in ("lsgan", "vanilla"):
        raise ConfigError(f"gan_mode must be lsgan or vanilla, got {cfg.gan_mode!r}")
    for name in ("input_nc", "output_nc"):
        if getattr(cfg, name) not in (1, 3):
            raise ConfigError(f"{name} must be 1 or 3, got {getattr(cfg, name)}")


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
