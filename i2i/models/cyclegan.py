"""CycleGAN (Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", ICCV 2017).

Symbols: G: A -> B and F: B -> A (the paper's G: X -> Y and F: Y -> X); D_B judges B images,
D_A judges A images. The objective, with LSGAN:

    L = L_GAN(G, D_B) + L_GAN(F, D_A)
        + lambda_cyc * (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)                       (cycle)
        + lambda_idt * lambda_cyc * (|G(b) - b|_1 + |F(a) - a|_1)              (identity)

D_A and D_B see fakes drawn from a pool of the last 50 generated images, and their loss is
halved (the official code's choice, slowing D relative to G).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError, check_common
from ..losses import ImagePool, gan_loss
from ..networks import init_weights, patch_discriminator, resnet_generator

Logs = dict[str, torch.Tensor]


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
    # what a continued run (train --init-from) may change: they weigh the objective, no network's shape
    loss_fields: ClassVar[tuple[str, ...]] = ("lambda_cyc", "lambda_idt")
    uses_z: ClassVar[bool] = False       # no latent code
    has_encoder: ClassVar[bool] = False
    even_batch: ClassVar[bool] = False   # any batch size

    def __post_init__(self) -> None:
        if self.model != "cyclegan":
            raise ConfigError(f"CycleGANConfig.model must be 'cyclegan', got {self.model!r}")
        if self.n_blocks is None:
            self.n_blocks = 9 if self.size >= 256 else 6
        check_common(self)


class CycleGAN(nn.Module):
    Config = CycleGANConfig
    variants = ("cyclegan",)  # the names its config's `model` takes
    paired = False            # trains and is evaluated on unaligned trainA/trainB folders
    phases = ("G", "D")

    def __init__(self, cfg: CycleGANConfig):
        super().__init__()
        self.cfg = cfg
        disc = lambda c: init_weights(patch_discriminator(input_nc=c, ndf=cfg.ndf, n_layers=cfg.d_layers,  # noqa: E731
                                                          norm=cfg.norm), cfg.init)
        nets = self.inference_modules(cfg)
        self.G, self.F = init_weights(nets["G"], cfg.init), init_weights(nets["F"], cfg.init)
        self.D_A, self.D_B = disc(cfg.input_nc), disc(cfg.output_nc)
        self.pool_A, self.pool_B = ImagePool(cfg.pool_size), ImagePool(cfg.pool_size)

    @staticmethod
    def inference_modules(cfg: CycleGANConfig) -> dict[str, nn.Module]:
        """G: A -> B and F: B -> A."""
        kw = dict(ngf=cfg.ngf, n_blocks=cfg.n_blocks, norm=cfg.norm, dropout=cfg.dropout)
        return {"G": resnet_generator(input_nc=cfg.input_nc, output_nc=cfg.output_nc, **kw),
                "F": resnet_generator(input_nc=cfg.output_nc, output_nc=cfg.input_nc, **kw)}

    def param_groups(self) -> dict[str, list[nn.Module]]:
        return {"G": [self.G, self.F], "D": [self.D_A, self.D_B]}

    def release_modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "F": self.F}

    def extra_state(self) -> dict:
        return {"pool_A": self.pool_A.state_dict(), "pool_B": self.pool_B.state_dict()}

    def load_extra_state(self, state: dict, device: torch.device) -> None:
        self.pool_A.load_state_dict(state["pool_A"], device)
        self.pool_B.load_state_dict(state["pool_B"], device)

    def forward_train(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        fake_b, fake_a = self.G(a), self.F(b)
        return {"a": a, "b": b, "fake_b": fake_b, "fake_a": fake_a, "rec_a": self.F(fake_b), "rec_b": self.G(fake_a)}

    def loss(self, phase: str, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        return self.loss_G(out) if phase == "G" else self.loss_D(out)

    def loss_G(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        cfg = self.cfg
        a, b = out["a"].float(), out["b"].float()
        logs: Logs = {
            "G_GAN": gan_loss(self.D_B(out["fake_b"]), True, cfg.gan_mode),
            "F_GAN": gan_loss(self.D_A(out["fake_a"]), True, cfg.gan_mode),
            "cycle_A": cfg.lambda_cyc * F.l1_loss(out["rec_a"].float(), a),
            "cycle_B": cfg.lambda_cyc * F.l1_loss(out["rec_b"].float(), b),
        }
        if cfg.lambda_idt > 0 and cfg.input_nc == cfg.output_nc:
            logs["idt_B"] = cfg.lambda_idt * cfg.lambda_cyc * F.l1_loss(self.G(out["b"]).float(), b)
            logs["idt_A"] = cfg.lambda_idt * cfg.lambda_cyc * F.l1_loss(self.F(out["a"]).float(), a)
        return sum(logs.values()), logs

    def loss_D(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        cfg = self.cfg
        fake_b, fake_a = self.pool_B.query(out["fake_b"]), self.pool_A.query(out["fake_a"])
        logs: Logs = {
            "D_B": 0.5 * (gan_loss(self.D_B(out["b"]), True, cfg.gan_mode) + gan_loss(self.D_B(fake_b), False, cfg.gan_mode)),
            "D_A": 0.5 * (gan_loss(self.D_A(out["a"]), True, cfg.gan_mode) + gan_loss(self.D_A(fake_a), False, cfg.gan_mode)),
        }
        return sum(logs.values()), logs

    @torch.no_grad()
    def sample_rows(self, a: torch.Tensor, b: torch.Tensor, z: torch.Tensor | None = None) -> list[list[torch.Tensor]]:
        """Rows: a, G(a), F(G(a)), b, F(b)."""
        fake_b, fake_a = self.G(a), self.F(b)
        rec_a = self.F(fake_b)
        return [[a[i], fake_b[i], rec_a[i], b[i], fake_a[i]] for i in range(a.shape[0])]
