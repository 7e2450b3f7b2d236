"""BicycleGAN (Zhu et al., "Toward Multimodal Image-to-Image Translation", NeurIPS 2017).

Symbols: A the input (edges), B the target (photo), z the latent code (nz = 8), G the U-Net
generator, E the encoder, D / D2 the discriminators of the two halves.

    cVAE-GAN  (B -> z -> B^):  z ~ E(B);  B^ = G(A, z)
        L = L_GAN(G, D) + lambda_L1 * |B - B^|_1 + lambda_KL * KL(E(B) || N(0, I))
    cLR-GAN   (z -> B^ -> z^): z ~ N(0, I);  B^ = G(A, z);  z^ = mu(E(B^))
        L = L_GAN(G, D2) + lambda_z * |z - z^|_1
    BicycleGAN = both, on the two halves of each batch (the first half encoded, the second random).

Variants selectable by name (the paper's ablations):
    bicyclegan  both halves; the latent term updates G only (official code)
    cvaegan     the whole batch through the cVAE-GAN path
    clrgan      the whole batch through the cLR-GAN path; the latent term trains G and E
                (E has no other signal here)
    pix2pix     pix2pix + noise: B^ = G(A, z), z ~ N(0, I), L = L_GAN + lambda_L1 |B - B^|, no E;
                the paper shows G learns to ignore z (mode collapse)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..config import BicycleGANConfig
from ..diffaug import diff_augment
from ..distributed import randn_shard
from ..losses import gan_loss, kl_loss
from ..networks import Encoder, MultiScaleDiscriminator, UNetGenerator, init_weights, reparameterize

Logs = dict[str, torch.Tensor]


class BicycleGAN(nn.Module):
    Config = BicycleGANConfig

    def __init__(self, cfg: BicycleGANConfig):
        super().__init__()
        self.cfg = cfg
        nets = self.inference_modules(cfg)
        self.G = init_weights(nets["G"], cfg.init)
        self.E = init_weights(nets["E"], cfg.init) if "E" in nets else None
        d_in = cfg.output_nc + (cfg.input_nc if cfg.conditional_d else 0)
        make_d = lambda: init_weights(MultiScaleDiscriminator(  # noqa: E731
            input_nc=d_in, ndf=cfg.ndf, n_layers=cfg.d_layers, n_scales=cfg.n_scales, norm=cfg.norm), cfg.init)
        self.D = make_d()
        self.D2 = make_d() if cfg.model == "bicyclegan" else None

    @staticmethod
    def inference_modules(cfg: BicycleGANConfig) -> dict[str, nn.Module]:
        """G, and E when the variant has one: what a release stores and inference runs."""
        nets: dict[str, nn.Module] = {"G": UNetGenerator(
            input_nc=cfg.input_nc, output_nc=cfg.output_nc, size=cfg.size, nz=cfg.nz, ngf=cfg.ngf,
            where_add=cfg.where_add, norm=cfg.norm, dropout=cfg.dropout, upsample=cfg.upsample)}
        if cfg.has_encoder:
            nets["E"] = Encoder(input_nc=cfg.output_nc, size=cfg.size, nz=cfg.nz, nef=cfg.nef, kind=cfg.encoder,
                                norm=cfg.norm)
        return nets

    # pix2pix updates D first, then G (its paper); BicycleGAN updates G and E first (official code)
    @property
    def phases(self) -> tuple[str, ...]:
        return ("D", "G") if self.cfg.model == "pix2pix" else ("G", "D")

    def param_groups(self) -> dict[str, list[nn.Module]]:
        """Which networks each phase's optimiser updates."""
        return {"G": [m for m in (self.G, self.E) if m is not None],
                "D": [m for m in (self.D, self.D2) if m is not None]}

    def release_modules(self) -> dict[str, nn.Module]:
        """The networks inference needs (stored in model.safetensors)."""
        return {"G": self.G, **({"E": self.E} if self.E is not None else {})}

    def _d_input(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """What D judges: B (or A and B together), through DiffAugment when it is on."""
        x = torch.cat([a, b], 1) if self.cfg.conditional_d else b
        return diff_augment(x, self.cfg.diffaug) if self.cfg.diffaug else x

    def forward_train(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        """One batch through the generator(s); the phases below turn it into losses."""
        m, nz = self.cfg.model, self.cfg.nz
        if m == "bicyclegan":
            if a.shape[0] < 2 or a.shape[0] % 2:
                raise ValueError(f"bicyclegan splits each batch in two halves: batch size must be even, got {a.shape[0]}")
            half = a.shape[0] // 2
            a_enc, b_enc, a_rand, b_rand = a[:half], b[:half], a[half:], b[half:]
        else:
            a_enc = b_enc = a_rand = b_rand = None
        out: dict[str, torch.Tensor] = {}
        if m in ("bicyclegan", "cvaegan"):
            a_enc = a if a_enc is None else a_enc
            b_enc = b if b_enc is None else b_enc
            mu, logvar = self.E(b_enc)
            out.update(a_enc=a_enc, b_enc=b_enc, mu=mu, logvar=logvar,
                       fake_enc=self.G(a_enc, reparameterize(mu, logvar)))
        if m in ("bicyclegan", "clrgan", "pix2pix"):
            # as in the official code, the random-z fakes are drawn from the encoded half's A,
            # while D2's real examples are the other half's (A, B) pairs
            a_src = a if m != "bicyclegan" else a_enc
            # z is this rank's shard of the global batch's draw: with the batch sharded as
            # distributed.shard_rows(groups=2) does, each rank's encoded and random halves are its
            # slices of the global halves, and z matches the single-process run's
            z = randn_shard(a_src.shape[0], nz, device=a.device)
            out.update(a_src=a_src, z_random=z, fake_rand=self.G(a_src, z),
                       a_real=a if a_rand is None else a_rand, b_real=b if b_rand is None else b_rand)
        return out

    def loss(self, phase: str, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        return self.loss_G(out) if phase == "G" else self.loss_D(out)

    def loss_G(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        cfg, m = self.cfg, self.cfg.model
        logs: Logs = {}
        if "fake_enc" in out:  # cVAE-GAN: GAN + L1 reconstruction + KL
            logs["G_GAN"] = cfg.lambda_gan * gan_loss(self.D(self._d_input(out["a_enc"], out["fake_enc"])), True, cfg.gan_mode)
            logs["G_L1"] = cfg.lambda_l1 * F.l1_loss(out["fake_enc"].float(), out["b_enc"].float())
            logs["KL"] = cfg.lambda_kl * kl_loss(out["mu"], out["logvar"], cfg.kl_reduction)
        if m == "pix2pix":
            logs["G_GAN"] = cfg.lambda_gan * gan_loss(self.D(self._d_input(out["a_src"], out["fake_rand"])), True, cfg.gan_mode)
            logs["G_L1"] = cfg.lambda_l1 * F.l1_loss(out["fake_rand"].float(), out["b_real"].float())
        elif "fake_rand" in out:  # cLR-GAN: GAN + latent regression
            d = self.D2 if self.D2 is not None else self.D
            logs["G_GAN2"] = cfg.lambda_gan2 * gan_loss(d(self._d_input(out["a_src"], out["fake_rand"])), True, cfg.gan_mode)
            if m == "bicyclegan":
                # The latent term |z - E(G(A, z))| updates G only: E runs with detached weights,
                # so the gradient reaches G through B^ and never E's parameters (official code).
                frozen = {k: v.detach() for k, v in self.E.named_parameters()}
                mu2, _ = functional_call(self.E, frozen, (out["fake_rand"],))
            else:  # clrgan: E learns only from this term
                mu2, _ = self.E(out["fake_rand"])
            logs["z_L1"] = cfg.lambda_z * F.l1_loss(mu2.float(), out["z_random"].float())
        return sum(logs.values()), logs

    def loss_D(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        """real -> 1, fake -> 0 for D (encoded half) and D2 (random half); fakes are detached."""
        cfg, m = self.cfg, self.cfg.model
        logs: Logs = {}
        if "fake_enc" in out:
            logs["D_real"] = gan_loss(self.D(self._d_input(out["a_enc"], out["b_enc"])), True, cfg.gan_mode)
            logs["D_fake"] = gan_loss(self.D(self._d_input(out["a_enc"], out["fake_enc"].detach())), False, cfg.gan_mode)
        if "fake_rand" in out:
            d, suffix = (self.D2, "2") if m == "bicyclegan" else (self.D, "")
            logs["D_real" + suffix] = gan_loss(d(self._d_input(out["a_real"], out["b_real"])), True, cfg.gan_mode)
            logs["D_fake" + suffix] = gan_loss(d(self._d_input(out["a_src"], out["fake_rand"].detach())), False, cfg.gan_mode)
        return sum(logs.values()), logs

    @torch.no_grad()
    def sample_rows(self, a: torch.Tensor, b: torch.Tensor, z: torch.Tensor) -> list[list[torch.Tensor]]:
        """Rows of the sample grid: A, B, G(A, E(B)) when there is an E, then G(A, z_k) per fixed z_k."""
        rows = []
        for i in range(a.shape[0]):
            ai = a[i:i + 1].expand(z.shape[0], -1, -1, -1)
            row = [a[i], b[i]]
            if self.E is not None:
                row.append(self.G(a[i:i + 1], self.E(b[i:i + 1])[0])[0])
            row += list(self.G(ai, z))
            rows.append(row)
        return rows
