"""Loss terms shared by the models, named as in the papers."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import distributed


def gan_loss(preds: torch.Tensor | list[torch.Tensor], real: bool, mode: str = "lsgan") -> torch.Tensor:
    """Adversarial loss of discriminator outputs against an all-real or all-fake target.

    lsgan:   mean (D(x) - t)^2 with t = 1 (real) or 0 (fake)   (Mao et al., 2017)
    vanilla: binary cross-entropy on logits                       (Goodfellow et al., 2014)
    A list of outputs (multi-scale D) gives the sum over scales, as the official code does.
    """
    if isinstance(preds, (list, tuple)):
        return sum(gan_loss(p, real, mode) for p in preds)
    target = torch.ones_like(preds) if real else torch.zeros_like(preds)
    if mode == "lsgan":
        return F.mse_loss(preds.float(), target.float())
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(preds.float(), target.float())
    raise ValueError(f"unknown gan_mode {mode!r}; choose lsgan or vanilla")


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) of each latent dimension, averaged over the batch: (nz,)."""
    mu, logvar = mu.float(), logvar.float()
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).mean(0)


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "mean", free: float = 0.0) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar)), per image.

    Summed over latent dimensions, then averaged over the batch ("mean") or summed ("sum").
    The official BicycleGAN code sums over both, but at its batch size of 2 the encoded half is
    one image, so "mean" keeps lambda_KL = 0.01 meaning what it meant there at any batch size.
    "sum" at batch 8 weighs KL 4x against the (averaged) L1 term: enough to push E's codes to 0.

    free: free bits (Kingma et al., 2016, "Improved variational inference with inverse
    autoregressive flow"): each dimension's KL, averaged over the batch, counts as at least
    `free` nats, so a dimension carrying less than that is not pushed further towards the prior.
    Against posterior collapse: with free = 0 the shipped encoder kept 3 of its 8 dimensions.
    """
    per_dim = kl_per_dim(mu, logvar)
    if free > 0:
        per_dim = per_dim.clamp(min=free)
    per_image = per_dim.sum()
    return per_image if reduction == "mean" else per_image * mu.shape[0]


def mode_seeking_loss(fake: torch.Tensor, fake_moved: torch.Tensor, dz: float, eps: float = 1e-5) -> torch.Tensor:
    """Mode seeking (Mao et al., CVPR 2019, "MSGAN"): 1 / (image change per unit of z change).

    fake and fake_moved are G(A, z) and G(A, z') for the same inputs, with |z' - z| = dz along
    the dimension that was moved. Per image, as the mean absolute pixel change divided by dz,
    then averaged over the batch (MSGAN divides batch means; per image, a dimension G ignores
    is not hidden by the batch's other images, which move dimensions G already uses). Small
    while G responds, large and steep where it does not: a push against ignored dimensions.
    """
    per_image = (fake_moved.float() - fake.float()).abs().flatten(1).mean(1) / dz
    return (1.0 / (per_image + eps)).mean()


def colour_layout_loss(fake: torch.Tensor, real: torch.Tensor, cell: int = 16) -> torch.Tensor:
    """L1 between the two images averaged over cells of `cell` x `cell` pixels: the colour of each
    region of the shoe, with the texture averaged out.

    Per-pixel L1 is as content with a texture of the right shades as with the right colour; on
    the cVAE path this term asks G(A, E(B)) for B's colours region by region, which only an E
    that encodes them can give (the default model's E gives a red and a brown shoe nearly the
    same code: docs/recipe.md).
    """
    return F.l1_loss(F.avg_pool2d(fake.float(), cell), F.avg_pool2d(real.float(), cell))


def axis_variances(codes: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """The variance of codes (n, nz) along each principal axis of their covariance, smallest
    first (its eigenvalues), in fp32 whatever autocast says: the small ones are the point."""
    with torch.autocast(codes.device.type, enabled=False):
        cov = torch.cov(codes.float().T)
        return torch.linalg.eigvalsh(cov + eps * torch.eye(cov.shape[0], device=cov.device))


def code_spread_loss(codes: torch.Tensor, target_std: float = 0.5, eps: float = 1e-6) -> torch.Tensor:
    """A hinge on the spread of E's codes along each principal axis of their covariance: zero once
    every axis has a std of `target_std`, log(target^2 / variance) below (mean over axes).

    Against a collapse the KL of each photo cannot see: every dimension of mu may vary while all
    of them move together, the codes of real photos on a plane of two or three of the eight axes
    (scripts/latent_probe.py); random z off that plane asks G for images no photo encodes to. The
    log makes the push strongest along the axes with the least spread: a hinge on each dimension
    alone (or on their correlations) is met by stretching the plane. `codes` (n, nz) need n well
    above nz for a full-rank estimate: CodeQueue adds recent batches' codes.
    """
    var = axis_variances(codes, eps)
    return F.relu(2 * math.log(target_std) - var.clamp(min=eps).log()).mean()


class CodeQueue:
    """The last `size` codes of E (detached), so that code_spread_loss sees a full-rank sample from
    batches of a few photos (as MoCo's queue of keys). Part of the training state; under several
    processes it holds every rank's codes (the global batch's), as ImagePool does."""

    def __init__(self, size: int = 256):
        self.size = size
        self.codes: torch.Tensor | None = None

    def with_batch(self, codes: torch.Tensor) -> torch.Tensor:
        """This batch's codes (with their graph) and the stored ones; then stores this batch's."""
        out = codes if self.codes is None else torch.cat([codes, self.codes.to(codes.dtype)])
        new = distributed.all_gather_rows(codes.detach())
        self.codes = (new if self.codes is None else torch.cat([new, self.codes.to(new.dtype)]))[:self.size]
        return out

    def state_dict(self) -> dict:
        return {"codes": None if self.codes is None else self.codes.cpu()}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.codes = None if state["codes"] is None else state["codes"].to(device)


class ImagePool:
    """History of generated images for the discriminator (Shrivastava et al., 2017; CycleGAN).

    Each query returns, per image, either the new image or (with probability 1/2 once the pool is
    full) a stored older one that the new one replaces. The pool is part of the training state
    (`state_dict`), so a resumed run sees the same history.
    """

    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Uses the global torch RNG, which the training loop re-seeds from (seed, step).

        Under several processes the pool is global: every rank gathers all ranks' fakes (the
        global batch), runs the same query with the same random state, and keeps its own rows.
        So each rank's pool holds the same images a single process would, and rank 0's
        checkpoint stores the pool every rank resumes from.
        """
        if self.size == 0:
            return images
        out = []
        for img in distributed.all_gather_rows(images.detach()):
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand(()).item() < 0.5:
                i = int(torch.randint(len(self.images), ()))
                out.append(self.images[i].clone())
                self.images[i] = img.clone()
            else:
                out.append(img)
        return distributed.my_rows(torch.stack(out))

    def state_dict(self) -> dict:
        return {"images": torch.stack(self.images).cpu() if self.images else torch.empty(0)}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        imgs = state["images"]
        self.images = [im.to(device) for im in imgs] if imgs.numel() else []
