"""BicycleGAN (Zhu et al., "Toward Multimodal Image-to-Image Translation", NeurIPS 2017).

Symbols: A the input (edges), B the target (photo), z the latent code (nz = 8), G the U-Net
generator, E the encoder, D / D2 the discriminators of the two halves.

    cVAE-GAN  (B -> z -> B^):  z ~ E(B);  B^ = G(A, z)
        L = L_GAN(G, D) + lambda_L1 * |B - B^|_1 + lambda_KL * KL(E(B) || N(0, I))
    cLR-GAN   (z -> B^ -> z^): z ~ N(0, I);  B^ = G(A, z);  z^ = mu(E(B^))
        L = L_GAN(G, D2) + lambda_z * |z - z^|_1
    BicycleGAN = both, on the two halves of each batch (the first half encoded, the second random).
    Distillation (teacher, lambda_teacher): + lambda_T * |G(A, z) - T(A, z)|_1 on both paths, where T
    is a trained release's G and E is T's encoder, frozen (load_teacher).
    Encoder refit (refit_encoder): G and the discriminators stay fixed and E alone learns the
    cVAE-GAN terms and the latent term, for a trained G whose E uses few of z's dimensions.

Variants selectable by name (the paper's ablations; VARIANTS gives each as the flags of its
objective, which forward_train and the losses follow):
    bicyclegan  both halves; the latent term updates G only (official code)
    cvaegan     the whole batch through the cVAE-GAN path
    clrgan      the whole batch through the cLR-GAN path; the latent term trains G and E
                (E has no other signal here)
    pix2pix     pix2pix + noise: B^ = G(A, z), z ~ N(0, I), L = L_GAN + lambda_L1 |B - B^|, no E;
                the paper shows G learns to ignore z (mode collapse)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import ClassVar, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..config import ConfigError, check_common
from ..diffaug import check_policy, diff_augment
from ..distributed import randint_shard, randn_shard
from ..losses import CodeQueue, code_spread_loss, colour_layout_loss, gan_loss, kl_loss, mode_seeking_loss
from ..networks import Encoder, MultiScaleDiscriminator, UNetGenerator, init_weights, reparameterize

Logs = dict[str, torch.Tensor]
MS_STEP = 2.0  # how far mode seeking moves one dimension of z


def move_one_dimension(z: torch.Tensor) -> torch.Tensor:
    """z with one random dimension per row moved by MS_STEP towards and past 0 (0.5 -> -1.5,
    -3 -> -1), so the moved code stays where N(0, I) puts its mass."""
    k = randint_shard(0, z.shape[1], z.shape[0], device=z.device)
    rows = torch.arange(z.shape[0], device=z.device)
    moved = z.clone()
    moved[rows, k] -= MS_STEP * torch.where(z[rows, k] >= 0, 1.0, -1.0).to(z.dtype)
    return moved


@dataclass(frozen=True)
class Objective:
    """Which parts of the objective a variant trains, and in which order its phases run."""
    encoded: bool                 # the cVAE-GAN path: z ~ E(B), B^ = G(A, z); GAN (D), L1 to B, KL
    random: bool                  # the random path: z ~ N(0, I), B^ = G(A, z)
    split: bool = False           # both paths on the two halves of each batch; D2 judges the random half
    random_l1: bool = False       # the random path's B^ is pulled to B by L1 and judged by D (pix2pix)
    latent_l1: bool = False       # the cLR-GAN term |z - mu(E(B^))| on the random path
    latent_trains_e: bool = False  # that term updates E as well (E has no other signal), else G alone
    phases: tuple[str, ...] = ("G", "D")
    lambda_l1: float = 10.0       # the L1 weight unless the config sets one


VARIANTS: dict[str, Objective] = {
    # the latent term updates G only (official code)
    "bicyclegan": Objective(encoded=True, random=True, split=True, latent_l1=True),
    "cvaegan": Objective(encoded=True, random=False),
    "clrgan": Objective(encoded=False, random=True, latent_l1=True, latent_trains_e=True),
    # pix2pix updates D first, then G, and weighs L1 by 100 (its paper)
    "pix2pix": Objective(encoded=False, random=True, random_l1=True, phases=("D", "G"), lambda_l1=100.0),
}


@dataclass
class BicycleGANConfig:
    """BicycleGAN and its ablations (the paper's defaults unless noted).

    model: the variant, whose objective VARIANTS spells out as flags (`objective`): bicyclegan,
    cvaegan, clrgan, pix2pix (+noise).
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
    kl_free: float = 0.0            # free bits: a z dimension's KL (batch mean, nats) below this costs nothing; 0 = the paper
    lambda_ms: float = 0.0          # mode seeking on one z dimension at a time (losses.mode_seeking_loss); 0 = the paper
    lambda_colour: float = 0.0      # L1 of 16 px cell means on the cVAE path (losses.colour_layout_loss); 0 = the paper
    lambda_code: float = 0.0        # E's codes of photos spread along every axis (losses.code_spread_loss); 0 = the paper
    teacher: str = ""               # a release whose G this one learns to copy (distillation; see load_teacher)
    lambda_teacher: float = 0.0     # L1 between G(A, z) and the teacher's G(A, z), on both paths; 0: no teacher
    latent_trains_e: Optional[bool] = None  # the latent term also updates E; None: as the variant's objective says
    refit_encoder: bool = False     # only E learns; G and the discriminators stay as they are (an encoder refit to a trained G)
    diffaug: str = ""               # DiffAugment policy for every D input, e.g. "translation,cutout" (diffaug.py)
    init: str = "xavier"            # the official BicycleGAN init (xavier, gain 0.02)
    sketch_norm: bool = False       # binarise + thin + re-draw edge inputs (see edges.normalize_sketch)
    # what a continued run (train --init-from) may change: they weigh the objective, no network's shape
    loss_fields: ClassVar[tuple[str, ...]] = ("lambda_gan", "lambda_gan2", "lambda_l1", "lambda_kl", "kl_free",
                                              "lambda_z", "lambda_ms", "lambda_colour", "lambda_code", "latent_trains_e",
                                              "diffaug", "teacher", "lambda_teacher", "refit_encoder")

    def __post_init__(self) -> None:
        if self.model not in VARIANTS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(VARIANTS)}")
        if self.lambda_l1 is None:
            self.lambda_l1 = self.objective.lambda_l1
        if self.d_layers is None:
            self.d_layers = 3 if self.size >= 256 else 2
        if self.sketch_norm and self.input_nc != 1:
            raise ConfigError("sketch_norm needs a one-channel (edge map) input: set input_nc=1")
        if self.kl_reduction not in ("mean", "sum"):
            raise ConfigError(f"kl_reduction must be mean or sum, got {self.kl_reduction!r}")
        if self.kl_free < 0:
            raise ConfigError(f"kl_free is a number of nats per dimension, >= 0; got {self.kl_free}")
        # the terms that live on one path: a weight >= 0, and > 0 only for a variant with that path
        for name, has_path, path in (("lambda_ms", self.objective.random, "random-z path's mode seeking"),
                                     ("lambda_colour", self.objective.encoded, "encoded (cVAE) path's colour"),
                                     ("lambda_code", self.objective.encoded, "encoded (cVAE) path's code spread")):
            value = getattr(self, name)
            if value < 0 or (value > 0 and not has_path):
                raise ConfigError(f"{name} weighs the {path} term: >= 0, and only for a variant with that path "
                                  f"(not {self.model}); got {value}")
        if self.lambda_teacher < 0 or (self.lambda_teacher > 0) != bool(self.teacher):
            raise ConfigError(f"a teacher needs lambda_teacher > 0 and lambda_teacher > 0 needs a teacher; "
                              f"got teacher={self.teacher!r}, lambda_teacher={self.lambda_teacher}")
        if self.refit_encoder:
            # G is frozen: the terms that train G alone would cost compute and change nothing
            if not self.objective.encoded or self.lambda_teacher > 0 or self.lambda_ms > 0 or self.latent_trains_e is False:
                raise ConfigError("refit_encoder trains E alone against a fixed G: it needs the encoded (cVAE) path "
                                  f"(not {self.model}), no teacher (a student's E is its teacher's), lambda_ms 0 "
                                  f"(got {self.lambda_ms}) and the latent term on E (latent_trains_e not false)")
        try:
            check_policy(self.diffaug)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        check_common(self)

    @property
    def uses_z(self) -> bool:
        return True

    @property
    def objective(self) -> Objective:
        o = VARIANTS[self.model]
        if self.latent_trains_e is not None and o.latent_l1:
            o = replace(o, latent_trains_e=self.latent_trains_e)
        if self.refit_encoder:  # G fixed: E learns from both paths, and the discriminators have nothing new to judge
            o = replace(o, latent_trains_e=o.latent_l1, phases=("G",))
        return o

    @property
    def has_encoder(self) -> bool:
        return self.objective.encoded or self.objective.latent_l1

    @property
    def even_batch(self) -> bool:
        """Whether each batch is split in two halves (so its size must be even)."""
        return self.objective.split




def load_teacher(model: "BicycleGAN") -> nn.Module:
    """The teacher's G (cfg.teacher, a release), frozen, for distillation into a smaller G.

    The student starts from what of the teacher fits it: the teacher's E, kept frozen, so a
    student encodes a photo to the same z as its teacher and the teacher term compares the two
    generators on the same codes; and, when the teacher can be continued, its discriminators,
    which already know the real photos.
    """
    from ..checkpoint import CheckpointError, load_continuation, load_into, load_release

    cfg = model.cfg
    tcfg, weights = load_release(cfg.teacher)
    shared = ("size", "input_nc", "output_nc", "nz", "sketch_norm", "nef", "encoder", "norm")
    if tcfg.model not in VARIANTS or not tcfg.has_encoder or not cfg.has_encoder:
        raise ConfigError(f"teacher {cfg.teacher} must be a BicycleGAN with an encoder (it is {tcfg.model}), "
                          f"and so must the student (it is {cfg.model})")
    differ = [f"{k} {getattr(cfg, k)} (teacher {getattr(tcfg, k)})" for k in shared if getattr(cfg, k) != getattr(tcfg, k)]
    if differ:
        raise ConfigError(f"a student must match its teacher {cfg.teacher} in {', '.join(shared)}; "
                          f"this one differs in {'; '.join(differ)}")
    nets = BicycleGAN.inference_modules(tcfg)
    load_into(nets, weights, cfg.teacher)
    load_into({"E": model.E}, {"E": weights["E"]}, cfg.teacher)
    model.E.requires_grad_(False)
    try:
        _, cont = load_continuation(cfg.teacher)
        load_into({k: m for k, m in (("D", model.D), ("D2", model.D2)) if m is not None}, cont, cfg.teacher)
    except CheckpointError as e:  # no continuation, or discriminators of another shape: they start afresh
        logging.getLogger(__name__).info("discriminators start afresh: %s", e)
    return nets["G"].eval().requires_grad_(False)


class BicycleGAN(nn.Module):
    Config = BicycleGANConfig
    variants = tuple(VARIANTS)  # the names its config's `model` takes
    paired = True               # trains and is evaluated on aligned A|B pairs

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
        self.D2 = make_d() if cfg.objective.split else None
        if cfg.refit_encoder:  # outside every optimiser group, and no gradients computed for them
            for m in (self.G, self.D, self.D2):
                if m is not None:
                    m.requires_grad_(False)
        self.code_queue = CodeQueue() if cfg.lambda_code > 0 else None
        # In a list, so the teacher is no child of this module: it is not trained, saved in the
        # training state or exported; a resumed run reads it again from cfg.teacher.
        self.teachers = [load_teacher(self)] if cfg.lambda_teacher > 0 else []

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

    @property
    def phases(self) -> tuple[str, ...]:
        return self.cfg.objective.phases

    def param_groups(self) -> dict[str, list[nn.Module]]:
        """Which networks each phase's optimiser updates (a student's E is its teacher's, frozen;
        an encoder refit trains E alone)."""
        if self.cfg.refit_encoder:
            return {"G": [self.E]}
        return {"G": [m for m in (self.G, None if self.teachers else self.E) if m is not None],
                "D": [m for m in (self.D, self.D2) if m is not None]}

    def release_modules(self) -> dict[str, nn.Module]:
        """The networks inference needs (stored in model.safetensors)."""
        return {"G": self.G, **({"E": self.E} if self.E is not None else {})}

    def extra_state(self) -> dict:
        return {"code_queue": self.code_queue.state_dict()} if self.code_queue is not None else {}

    def load_extra_state(self, state: dict, device: torch.device) -> None:
        if self.code_queue is not None and "code_queue" in state:
            self.code_queue.load_state_dict(state["code_queue"], device)

    def _d_input(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """What D judges: B (or A and B together), through DiffAugment when it is on."""
        x = torch.cat([a, b], 1) if self.cfg.conditional_d else b
        return diff_augment(x, self.cfg.diffaug) if self.cfg.diffaug else x

    def forward_train(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        """One batch through the generator along the paths of the variant's objective; the phases
        below turn it into losses."""
        o, n = self.cfg.objective, a.shape[0]
        if o.split:
            if n < 2 or n % 2:
                raise ValueError(f"{self.cfg.model} splits each batch in two halves: batch size must be even, got {n}")
            a_enc, b_enc, a_real, b_real = a[:n // 2], b[:n // 2], a[n // 2:], b[n // 2:]
        else:
            a_enc, b_enc, a_real, b_real = a, b, a, b
        out: dict[str, torch.Tensor] = {}
        if o.encoded:
            mu, logvar = self.E(b_enc)
            z_enc = reparameterize(mu, logvar)
            out.update(a_enc=a_enc, b_enc=b_enc, mu=mu, logvar=logvar, z_enc=z_enc, fake_enc=self.G(a_enc, z_enc))
            if self.cfg.lambda_code > 0:  # the codes of every photo in the batch, for their spread
                out["mu_batch"] = torch.cat([mu, self.E(b_real)[0]]) if o.split else mu
        if o.random:
            # as in the official code, the random-z fakes are drawn from the encoded half's A,
            # while D2's real examples are the other half's (A, B) pairs
            # z is this rank's shard of the global batch's draw: with the batch sharded as
            # distributed.shard_rows(groups=2) does, each rank's encoded and random halves are its
            # slices of the global halves, and z matches the single-process run's
            z = randn_shard(a_enc.shape[0], self.cfg.nz, device=a.device)
            out.update(a_src=a_enc, z_random=z, fake_rand=self.G(a_enc, z), a_real=a_real, b_real=b_real)
            if self.cfg.lambda_ms > 0:
                # Deviation from the paper, against the collapse of single dimensions that the
                # latent probe found (docs/recipe.md): the same A with one dimension of z moved,
                # so G is pushed to respond to every dimension, not just the few E encodes.
                out["fake_moved"] = self.G(a_enc, move_one_dimension(z))
        if self.teachers:  # what the teacher draws for the same A and z, on each path
            teacher = self.teachers[0].to(a.device)
            with torch.no_grad():
                if o.encoded:
                    out["teacher_enc"] = teacher(a_enc, out["z_enc"])
                if o.random:
                    out["teacher_rand"] = teacher(a_enc, z)
        return out

    def loss(self, phase: str, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        return self.loss_G(out) if phase == "G" else self.loss_D(out)

    def loss_G(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        cfg, o = self.cfg, self.cfg.objective
        logs: Logs = {}
        if o.encoded:  # cVAE-GAN: GAN + L1 reconstruction + KL
            logs["G_GAN"] = cfg.lambda_gan * gan_loss(self.D(self._d_input(out["a_enc"], out["fake_enc"])), True, cfg.gan_mode)
            logs["G_L1"] = cfg.lambda_l1 * F.l1_loss(out["fake_enc"].float(), out["b_enc"].float())
            logs["KL"] = cfg.lambda_kl * kl_loss(out["mu"], out["logvar"], cfg.kl_reduction, cfg.kl_free)
            if cfg.lambda_colour > 0:  # deviation from the paper: see losses.colour_layout_loss
                logs["G_colour"] = cfg.lambda_colour * colour_layout_loss(out["fake_enc"], out["b_enc"])
            if self.code_queue is not None:  # deviation from the paper: see losses.code_spread_loss
                codes = self.code_queue.with_batch(out["mu_batch"])
                if len(codes) >= 4 * cfg.nz:  # enough codes for a covariance of full rank
                    logs["E_spread"] = cfg.lambda_code * code_spread_loss(codes)
        if o.random:
            d = self.D2 if o.split else self.D
            adv = gan_loss(d(self._d_input(out["a_src"], out["fake_rand"])), True, cfg.gan_mode)
            if o.random_l1:  # pix2pix + noise: G(A, z) is pulled to B whatever z is
                logs["G_GAN"] = cfg.lambda_gan * adv
                logs["G_L1"] = cfg.lambda_l1 * F.l1_loss(out["fake_rand"].float(), out["b_real"].float())
            else:  # cLR-GAN
                logs["G_GAN2"] = cfg.lambda_gan2 * adv
            if "fake_moved" in out:
                logs["G_MS"] = cfg.lambda_ms * mode_seeking_loss(out["fake_rand"], out["fake_moved"], MS_STEP)
        if o.latent_l1:
            if o.latent_trains_e:
                mu2, _ = self.E(out["fake_rand"])
            else:
                # The latent term |z - E(G(A, z))| updates G only: E runs with detached weights,
                # so the gradient reaches G through B^ and never E's parameters (official code).
                frozen = {k: v.detach() for k, v in self.E.named_parameters()}
                mu2, _ = functional_call(self.E, frozen, (out["fake_rand"],))
            logs["z_L1"] = cfg.lambda_z * F.l1_loss(mu2.float(), out["z_random"].float())
        if self.teachers:  # distillation: the teacher's image for the same A and z
            pairs = [(out[f"fake_{k}"], out[f"teacher_{k}"]) for k in ("enc", "rand") if f"teacher_{k}" in out]
            logs["G_teacher"] = cfg.lambda_teacher * sum(
                F.l1_loss(f.float(), t.float()) for f, t in pairs) / len(pairs)
        return sum(logs.values()), logs

    def loss_D(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        """real -> 1, fake -> 0 for D (encoded path) and D2 (random half); fakes are detached."""
        cfg, o = self.cfg, self.cfg.objective
        logs: Logs = {}
        if o.encoded:
            logs["D_real"] = gan_loss(self.D(self._d_input(out["a_enc"], out["b_enc"])), True, cfg.gan_mode)
            logs["D_fake"] = gan_loss(self.D(self._d_input(out["a_enc"], out["fake_enc"].detach())), False, cfg.gan_mode)
        if o.random:
            d, suffix = (self.D2, "2") if o.split else (self.D, "")
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
