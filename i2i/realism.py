"""Measures of realism that a poor model fails (metrics.evaluate reports them beside the others).

Images are (N, 3, H, W) tensors in [0, 1] (sRGB); shoes lie on white paper.

- c2st:        held-out accuracy of a small CNN trained to tell two image sets apart (a classifier
               two-sample test, Lopez-Paz & Oquab, ICLR 2017): 0.5 = indistinguishable, 1 = always
               told apart. c2st_suite runs it for generated vs real, and as controls for real vs
               real (the floor) and blurred real vs real (the test's power).
- sharpness:   RMS of the Laplacian of luminance inside the shoe.
- colour:      the mean CIE Lab colour of each image's shoe region; its spread across images
               (L* and a*b* apart), and across the samples of one sketch.
- best_of_n_l1: how near the closest of n samples comes to the real photo of the sketch, beside
               its floor for a model that keeps to the drawing (placement_l1: the photo itself,
               moved onto the box where the sketch was drawn).

The shoe region (shoe_mask) is every pixel that is not near-white paper.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .edges import box_of, boxes_agree, ink_mask, move_box
from .images import from_unit, to_unit
from .losses import axis_variances

if TYPE_CHECKING:
    from .infer import Translator

PAPER = 0.92  # luminance (after a small blur) above which a pixel counts as white paper
C2ST_SIZE = 64  # the classifier sees images at this size: cheap, and enough to spot blur and artefacts


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), edges replicated; same shape out."""
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = (k / k.sum()).repeat(x.shape[1], 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(-1, 1, 1, 2 * r + 1), groups=x.shape[1])
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(-1, 1, 2 * r + 1, 1), groups=x.shape[1])


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Rec. 709 luma of (N, 3, H, W) in [0, 1] -> (N, 1, H, W) in [0, 1] (on the sRGB values)."""
    return 0.2126 * x[:, 0:1] + 0.7152 * x[:, 1:2] + 0.0722 * x[:, 2:3]


def shoe_mask(x: torch.Tensor, threshold: float = PAPER, min_share: float = 0.01) -> torch.Tensor:
    """(N, 1, H, W) in {0, 1}: 1 where the luminance, blurred (sigma max(0.5, H / 128) px), is under
    `threshold`: the shoe, not the white paper around it.

    An image with almost no shoe (under `min_share` of its pixels: a blank output) gets a mask
    of ones, so that means over the mask stay defined.
    """
    lum = gaussian_blur(luminance(x.float()), sigma=max(0.5, x.shape[-1] / 128))
    mask = (lum < threshold).float()
    empty = mask.mean((1, 2, 3)) < min_share
    mask[empty] = 1.0
    return mask


_WHITE = (0.95047, 1.0, 1.08883)  # D65, Y = 1


def _rgb_to_xyz(like: torch.Tensor) -> torch.Tensor:
    """Linear sRGB -> XYZ (D65), as a 3x3 matrix of like's dtype and device."""
    return torch.tensor([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]], dtype=like.dtype, device=like.device)


def srgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* (D65) of sRGB (N, 3, H, W) in [0, 1]: L* in [0, 100], a*, b* roughly +-100."""
    x = x.float().clamp(0, 1)
    lin = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,njhw->nihw", _rgb_to_xyz(lin), lin)
    t = xyz / torch.tensor(_WHITE, dtype=lin.dtype, device=lin.device).view(1, 3, 1, 1)
    eps = (6 / 29) ** 3
    f = torch.where(t > eps, t.clamp_min(eps) ** (1 / 3), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def lab_to_srgb(lab: torch.Tensor) -> torch.Tensor:
    """The inverse of srgb_to_lab: (N, 3, H, W) L*a*b* (D65) -> sRGB in [0, 1] (out-of-gamut clipped)."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    t = torch.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29))
    xyz = t * torch.tensor(_WHITE, dtype=lab.dtype, device=lab.device).view(1, 3, 1, 1)
    lin = torch.einsum("ij,njhw->nihw", torch.linalg.inv(_rgb_to_xyz(lab)), xyz).clamp(0, 1)
    return torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def mean_lab(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The mean Lab colour of each image's shoe region: (N, 3, H, W) in [0, 1] -> (N, 3) (L*, a*, b*)."""
    mask = shoe_mask(x) if mask is None else mask
    lab = srgb_to_lab(x)
    return (lab * mask).sum((2, 3)) / mask.sum((2, 3)).clamp_min(1)


def sharpness(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per image RMS of the 3x3 Laplacian of luminance inside the shoe region: (N, 3, H, W) -> (N,).

    The scale depends on the image size; compare sets of the same size only.
    """
    mask = shoe_mask(x) if mask is None else mask
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=x.device).view(1, 1, 3, 3)
    lap = F.conv2d(F.pad(luminance(x.float()), (1, 1, 1, 1), mode="replicate"), k)
    return ((lap ** 2 * mask).sum((1, 2, 3)) / mask.sum((1, 2, 3)).clamp_min(1)).sqrt()


def _ab_spread(lab: torch.Tensor) -> torch.Tensor:
    """sqrt(var a* + var b*) across K colours: (..., K, 3) mean Lab colours -> (...)."""
    return (lab[..., 1].var(-1) + lab[..., 2].var(-1)).sqrt()


def colour_spread(lab: torch.Tensor) -> dict:
    """Spread of (N, 3) mean Lab colours across images: {"L": std of L*, "ab": sqrt(var a* + var b*)}."""
    return {"L": float(lab[:, 0].std()), "ab": float(_ab_spread(lab))}


def real_pairs(n: int, seed: int = 0) -> torch.Tensor:
    """For each of n photos the index of one other (a seeded random cycle): the pairs whose mean
    L1 is the scale of best-of-n L1 (a random real shoe's distance)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    partner = torch.empty(n, dtype=torch.long)
    partner[order] = order.roll(-1)
    return partner


def sketch_boxes(sketches: torch.Tensor) -> list[tuple | None]:
    """The bounding box of each drawing's ink (edges.box_of), None where it has too little ink.
    sketches: (N, 1, H, W) in [0, 1], white paper."""
    return [box_of(m[0]) for m in ink_mask(sketches)]


def place_photos(photos: torch.Tensor, boxes: list[tuple | None], tolerance: float = 0.04) -> torch.Tensor:
    """Each photo's shoe stretched and shifted onto its box in `boxes`, paper filling around it:
    the photo as it would look drawn where, and as large as, its sketch was. A photo with no shoe
    found, a None box, or a box that agrees with the shoe's (edges.boxes_agree, as
    data.align_sketches decides it) stays as it is."""
    out = photos.float().clone()
    for i, dst in enumerate(boxes):
        src = box_of(shoe_mask(out[i:i + 1])[0, 0])
        if src is not None and dst is not None and not boxes_agree(src, dst, photos.shape[-1], tolerance):
            out[i:i + 1] = move_box(out[i:i + 1], src, dst)
    return out


def placement_l1(sketches: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Per pair, mean |photo moved onto the sketch's box - photo|: the best-of-n L1 of a model
    that draws the photo exactly, but where and as large as the sketch was drawn.

    People draw off-place (QMUL-Shoe); a model that keeps to the drawing cannot score below this.
    sketches: (N, 1, H, W) in [0, 1], white paper; real: (N, 3, H, W) in [0, 1].
    """
    return (place_photos(real, sketch_boxes(sketches)) - real.float()).abs().mean((1, 2, 3))


def realism_measures(samples: torch.Tensor, real: torch.Tensor, *, seed: int = 0,
                     sketches: torch.Tensor | None = None) -> dict:
    """Sharpness, colour spread and best-of-n L1 of generated samples against the real photos.

    samples: (N, K, 3, H, W) in [0, 1]: K samples for each of N sketches; real: (N, 3, H, W) in
    [0, 1], the real photo of each sketch. Ratios are generated / real (1 = as real photos):
    - sharpness_ratio: mean per-image Laplacian RMS (sharpness) of all N*K samples / of the N photos
    - colour_spread_L_ratio, colour_spread_ab_ratio: the std of the shoes' mean L*, and their
      sqrt(var a* + var b*), across all N*K samples / across the N photos
    - within_sketch_ab_ratio: for each sketch the a*b* spread across its K samples, averaged
      over sketches, / the photos' a*b* spread across shoes (needs K >= 2)
    - best_of_n_l1: mean over sketches of min over samples of mean |sample - photo|;
      real_pair_l1: mean |photo - another photo| (a seeded random cycle pairs each photo with
      one other); best_of_n_l1_ratio = best_of_n_l1 / real_pair_l1 (0: a sample is the photo)
    - placement_l1_ratio (with `sketches`, (N, 1, H, W)): the same ratio for `placement_l1`, the
      floor of best_of_n_l1_ratio for a model that keeps to where the sketch was drawn
    """
    n, k = samples.shape[:2]
    flat = samples.reshape(n * k, *samples.shape[2:]).float()
    real = real.float()
    fake_mask, real_mask = shoe_mask(flat), shoe_mask(real)
    sharp_fake, sharp_real = sharpness(flat, fake_mask).mean(), sharpness(real, real_mask).mean()
    lab_fake, lab_real = mean_lab(flat, fake_mask), mean_lab(real, real_mask)
    spread_fake, spread_real = colour_spread(lab_fake), colour_spread(lab_real)
    within = float(_ab_spread(lab_fake.view(n, k, 3)).mean()) if k > 1 else None
    best = (samples.float() - real[:, None]).abs().mean((2, 3, 4)).min(1).values.mean()
    pair = (real - real[real_pairs(n, seed)]).abs().mean() if n > 1 else torch.tensor(float("nan"))
    placed = None if sketches is None else placement_l1(sketches, real).mean()

    def ratio(a, b):
        return float(a) / float(b) if float(b) > 0 else None

    return {
        "sharpness": float(sharp_fake), "sharpness_real": float(sharp_real),
        "sharpness_ratio": ratio(sharp_fake, sharp_real),
        "colour_spread_L": spread_fake["L"], "colour_spread_L_real": spread_real["L"],
        "colour_spread_L_ratio": ratio(spread_fake["L"], spread_real["L"]),
        "colour_spread_ab": spread_fake["ab"], "colour_spread_ab_real": spread_real["ab"],
        "colour_spread_ab_ratio": ratio(spread_fake["ab"], spread_real["ab"]),
        "within_sketch_ab": within,
        "within_sketch_ab_ratio": None if within is None else ratio(within, spread_real["ab"]),
        "best_of_n_l1": float(best), "real_pair_l1": float(pair),
        "best_of_n_l1_ratio": ratio(best, pair),
        "placement_l1_ratio": None if placed is None else ratio(placed, pair),
    }


# -- classifier two-sample test ------------------------------------------------------------------


def _c2st_net(channels: int = 3) -> nn.Module:
    """Four strided 4x4 convolutions (64 -> 4 px) and a linear read-out: one logit per image."""
    w = (16, 32, 64, 64)
    layers, c = [], channels
    for out in w:
        layers += [nn.Conv2d(c, out, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        c = out
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * (C2ST_SIZE // 16) ** 2, 1))


def _shift(x: torch.Tensor, max_shift: int, g: torch.Generator) -> torch.Tensor:
    """Each image moved sideways by a random whole number of pixels in [-max_shift, max_shift]."""
    if max_shift == 0:
        return x
    n, c, h, w = x.shape
    off = torch.randint(0, 2 * max_shift + 1, (n,), generator=g)
    padded = F.pad(x, (max_shift, max_shift, 0, 0), mode="replicate")
    cols = (off[:, None] + torch.arange(w))[:, None, None, :].expand(n, c, h, w)
    return padded.gather(3, cols)


def _to_c2st(x: torch.Tensor) -> torch.Tensor:
    x = x.float()
    if x.shape[-1] != C2ST_SIZE:
        x = F.interpolate(x, size=(C2ST_SIZE, C2ST_SIZE), mode="area" if x.shape[-1] > C2ST_SIZE else "bilinear",
                          align_corners=None if x.shape[-1] > C2ST_SIZE else False)
    return from_unit(x)


def _halves(m: int, g: torch.Generator, groups: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded split of range(m) in two halves; with groups, whole groups on each side (cut at
    the group boundary nearest the middle)."""
    p = torch.randperm(m, generator=g)
    if groups is None:
        return p[:m // 2], p[m // 2:]
    _, ids = torch.unique(groups, return_inverse=True)
    rank = torch.randperm(int(ids.max()) + 1, generator=g)[ids]  # the groups in a random order
    p = p[torch.argsort(rank[p], stable=True)]
    starts = torch.nonzero(ids[p][1:] != ids[p][:-1]).flatten() + 1
    cut = int(starts[(starts - m // 2).abs().argmin()]) if len(starts) else m // 2
    return p[:cut], p[cut:]


def c2st(a: torch.Tensor, b: torch.Tensor, *, groups: torch.Tensor | None = None, seed: int = 0, steps: int = 200,
         batch_size: int = 32, lr: float = 2e-3, max_shift: int = 4) -> float:
    """Classifier two-sample test: held-out accuracy of a small CNN telling set a from set b.

    a, b: (M, 3, H, W) in [0, 1], the same M (the larger is cut to the smaller's size); images are
    resized to 64 px. Each class is split in half by a seeded permutation; the CNN (_c2st_net)
    trains on one half of each class and is scored on the other, then the halves swap (2-fold),
    so the result is the accuracy over all 2M held-out guesses: 0.5 means the CNN found nothing
    that tells the sets apart, 1.0 that it always can.
    groups: (M,) ints for b, e.g. the sketch of each generated image. Images of one group stay in
    one half (the halves may then differ by part of a group), so the CNN is never scored on a
    sample whose siblings (the same outline) it trained on: with 3-4 samples per sketch split at
    random, the shipped model's C2ST read 0.87 instead of 0.80.
    Training: Adam (lr, beta1 0.5), `steps` batches of `batch_size` per fold (a budget in steps,
    so a small set is not under-trained), each image shifted sideways by a random 0..max_shift px
    so the CNN cannot learn positions by heart. Deterministic for a given seed: it runs on one
    thread whatever the caller's setting (restored after; batches this small gain nothing from
    more), and it leaves the global RNG as it was.
    """
    m = min(len(a), len(b))
    if m < 4:
        raise ValueError(f"c2st needs at least 4 images per set, got {m}")
    x = torch.cat([_to_c2st(a[:m]), _to_c2st(b[:m])])
    y = torch.cat([torch.zeros(m), torch.ones(m)])
    g = torch.Generator().manual_seed(seed)
    halves = [_halves(m, g), _halves(m, g, None if groups is None else groups[:m])]
    halves[1] = (halves[1][0] + m, halves[1][1] + m)
    folds = [(torch.cat([halves[0][0], halves[1][0]]), torch.cat([halves[0][1], halves[1][1]]))]
    folds.append((folds[0][1], folds[0][0]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batches this small gain nothing from more; and the sums stay in one order
    try:
        correct = _c2st_folds(x, y, folds, seed=seed, steps=steps, batch_size=batch_size, lr=lr,
                              max_shift=max_shift, g=g)
    finally:
        torch.set_num_threads(threads)
    return correct / (2 * m)


def _c2st_folds(x: torch.Tensor, y: torch.Tensor, folds: list, *, seed: int, steps: int, batch_size: int,
                lr: float, max_shift: int, g: torch.Generator) -> int:
    """Train a fresh _c2st_net on each fold's training indices; the number of right held-out guesses."""
    correct = 0
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        for fold, (train, test) in enumerate(folds):
            torch.manual_seed(seed * 1000 + fold)  # the CNN's initial weights
            net = _c2st_net(x.shape[1])
            opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.999))
            order = torch.empty(0, dtype=torch.long)
            for _ in range(steps):
                if len(order) < batch_size:  # the next pass over the training half, reshuffled
                    order = torch.cat([order, train[torch.randperm(len(train), generator=g)]])
                idx, order = order[:batch_size], order[batch_size:]
                loss = F.binary_cross_entropy_with_logits(net(_shift(x[idx], max_shift, g))[:, 0], y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                pred = torch.cat([net(x[test[i:i + 256]])[:, 0] > 0 for i in range(0, len(test), 256)])
            correct += int((pred.float() == y[test]).sum())
    return correct


def c2st_suite(fake: torch.Tensor, real: torch.Tensor, *, groups: torch.Tensor | None = None, seed: int = 0,
               blur_sigma: float = 2.0, min_per_class: int = 20, **kw) -> dict:
    """C2ST of generated images against real photos, with its two controls, on equal terms.

    fake: (N, 3, H, W) generated images, real: (R, 3, H, W) real photos (the reference set),
    both in [0, 1] at the model's size; groups: (N,) the sketch of each generated image, or None.
    Each class has M = min(N, R // 2) images: a seeded permutation splits the real photos into two
    disjoint sets R1 and R2 of M photos, and M generated images are drawn at random (seeded,
    without replacement; with groups, spread evenly over the sketches: one sample of every sketch
    before a second of any), and the samples of one sketch stay on one side of C2ST's split.
    Three tests, each with the same CNN, budget, seed and real class R1:
    - c2st: R1 vs M generated images
    - c2st_real_vs_real: R1 vs R2 (the floor: ~0.5)
    - c2st_blurred: R1 vs R2 blurred with a Gaussian of sigma `blur_sigma` px at the model's size
      (the test's power: a mild blur should be caught, ~0.9 and up)
    With M < min_per_class the accuracies are None (too few images to mean anything).
    kw goes to c2st (steps, batch_size, lr, max_shift).
    """
    m = min(len(fake), len(real) // 2)
    out = {"c2st_images_per_class": m, "c2st": None, "c2st_real_vs_real": None, "c2st_blurred": None}
    if m < min_per_class:
        return out
    g = torch.Generator().manual_seed(seed)
    p = torch.randperm(len(real), generator=g)
    r1, r2 = real[p[:m]].float(), real[p[m:2 * m]].float()
    pick = torch.randperm(len(fake), generator=g)
    if groups is not None:  # the k-th sample drawn of each sketch before the (k+1)-th of any
        counts: dict[int, int] = {}
        nth = []
        for sketch in groups[pick].tolist():
            nth.append(counts.get(sketch, 0))
            counts[sketch] = nth[-1] + 1
        pick = pick[torch.argsort(torch.tensor(nth), stable=True)]
    pick = pick[:m]
    out["c2st"] = c2st(r1, fake[pick].float(), groups=None if groups is None else groups[pick], seed=seed, **kw)
    out["c2st_real_vs_real"] = c2st(r1, r2, seed=seed, **kw)
    out["c2st_blurred"] = c2st(r1, gaussian_blur(r2, blur_sigma), seed=seed, **kw)
    return out


# -- the latent code -----------------------------------------------------------------------------


def latent_measures(t: Translator, sketches: torch.Tensor, photos: torch.Tensor, samples: torch.Tensor, *,
                    effect_sketches: int = 16, step: float = 2.0, batch: int = 16) -> dict:
    """How the latent code shapes the output, for a Translator `t` with a z.

    sketches: (N, input_nc, S, S) in [-1, 1] (Translator.prepare); photos: (N, 3, S, S) in [0, 1],
    the real photo of each sketch; samples: (N, K, 3, S, S) in [0, 1], outputs under random z.
    With an encoder E (mu = the mean of E(photo), as at test time):
    - recon_l1: mean |G(sketch, mu) - photo|
    - style_colour_error_encoded: mean over sketches of the Lab distance (Euclidean, between the
      mean Lab colours of the shoe regions) from G(sketch, mu(E(photo))) to the photo;
      style_colour_error_random: the same for the K random-z samples (averaged over them);
      style_colour_error_ratio = encoded / random (small: E carries the photo's colour)
    - code_std: the std of each dimension of mu over the N photos (a list of nz); its min, mean
    - code_axes: the std of mu along the principal axes of its covariance, largest first: the
      dimensions can each vary while all of them move together (codes on a plane of two or
      three axes), which code_std cannot see and these show
    Always (with or without E):
    - dim_effect: for each dimension k, the mean |G(sketch, -step e_k) - G(sketch, +step e_k)|
      (pixels in [0, 1]) over the first `effect_sketches` sketches; dim_effect_min (a dimension
      that changes nothing is a wasted one)
    """
    n, nz = len(sketches), t.nz
    out: dict = {}
    if t.has_encoder:
        mus, recs = [], []
        for i in range(0, n, batch):
            mu = t.encode_batch(from_unit(photos[i:i + batch].float()))
            mus.append(mu)
            recs.append(to_unit(t.forward(sketches[i:i + batch], mu)))
        mu, rec = torch.cat(mus), torch.cat(recs)
        lab_photo = mean_lab(photos.float())
        lab_rec = mean_lab(rec)
        k = samples.shape[1]
        lab_rand = mean_lab(samples.reshape(n * k, *samples.shape[2:]).float()).view(n, k, 3)
        enc = float((lab_rec - lab_photo).norm(dim=1).mean())
        rand = float((lab_rand - lab_photo[:, None]).norm(dim=2).mean())
        std = mu.std(0) if n > 1 else torch.full((nz,), float("nan"))
        axes = code_axes(mu) if n > 1 else torch.full((nz,), float("nan"))
        out.update({
            "recon_l1": float((rec - photos.float()).abs().mean()),
            "style_colour_error_encoded": enc, "style_colour_error_random": rand,
            "style_colour_error_ratio": enc / rand if rand > 0 else None,
            "code_std": [float(v) for v in std], "code_std_min": float(std.min()), "code_std_mean": float(std.mean()),
            "code_axes": [float(v) for v in axes],
        })
    effect = dim_effects(t.forward, sketches[:effect_sketches], nz, step)
    out.update({"dim_effect": [float(v) for v in effect], "dim_effect_min": float(effect.min())})
    return out


def code_axes(codes: torch.Tensor) -> torch.Tensor:
    """The std of codes (n, nz) along the principal axes of their covariance, largest first."""
    return axis_variances(codes).clamp(min=0).sqrt().flip(0)


def dim_effects(generate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], sketches: torch.Tensor, nz: int,
                step: float = 2.0) -> torch.Tensor:
    """For each z dimension k alone, the mean |G(sketch, -step e_k) - G(sketch, +step e_k)| over
    the sketches, in pixels of [0, 1]: (nz,). generate(a, z) gives images in [-1, 1] (a
    Translator's forward, or a training model's G, as the latent probe and tests use it)."""
    codes = torch.zeros(2 * nz, nz)
    codes[torch.arange(nz) * 2, torch.arange(nz)] = -step
    codes[torch.arange(nz) * 2 + 1, torch.arange(nz)] = step
    effects = []
    with torch.inference_mode():
        for i in range(len(sketches)):
            y = to_unit(generate(sketches[i:i + 1].expand(2 * nz, -1, -1, -1), codes))
            effects.append((y[1::2] - y[0::2]).abs().mean((1, 2, 3)))
    return torch.stack(effects).mean(0)
