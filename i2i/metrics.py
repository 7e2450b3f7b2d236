"""Weight-free evaluation metrics (LPIPS and FID need pretrained networks we cannot download).

All image distances are on [0, 1] pixel values.
- recon_l1:  mean |G(A, E(B)) - B|: does E carry B's style through z?
- diversity: mean pairwise L1 between outputs for the same A under K random z (0 = mode collapse)
- fidelity:  edge F-score between the edges of the output (edges.photo_to_edges) and the input
             sketch, with a 2-pixel tolerance: does the output respect the outline?
- realism:   sliced Wasserstein distance between 7x7 patches of Laplacian pyramids of generated
             and real photos (Karras et al., 2018; x1e3, lower is better), and NDB/JSD: real
             training photos are clustered with k-means, and the bin proportions of generated
             images are compared with those of real held-out ones (Richardson & Weiss, 2018).
- realism.py: measures a poor model fails, for the BicycleGAN family: C2ST (with its real-vs-real
             and blurred controls), sharpness, colour spread (across shoes and within one
             sketch's samples), best-of-n L1, and the latent measures (style from a photo, the
             spread of E's codes, the effect of each latent dimension).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import load_aligned
from .images import to_unit, uint8_to_float
from .models import family
from .edges import canny, dilate
from .realism import c2st_suite, latent_measures, realism_measures

# -- realism: sliced Wasserstein distance on Laplacian pyramid patches ------------------------


def _laplacian_pyramid(x: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    levels = []
    while x.shape[-1] > min_size:
        down = F.avg_pool2d(x, 2)
        levels.append(x - F.interpolate(down, scale_factor=2, mode="bilinear", align_corners=False))
        x = down
    levels.append(x)
    return levels


def _patches(x: torch.Tensor, n: int, g: torch.Generator, k: int = 7) -> torch.Tensor:
    """n random k x k patches per image, flattened, normalised per channel over the whole set."""
    b, c, h, w = x.shape
    ys = torch.randint(0, h - k + 1, (b, n), generator=g)
    xs = torch.randint(0, w - k + 1, (b, n), generator=g)
    off = torch.arange(k)
    rows = (ys[..., None] + off)[..., :, None].expand(b, n, k, k)
    cols = (xs[..., None] + off)[..., None, :].expand(b, n, k, k)
    bi = torch.arange(b)[:, None, None, None].expand(b, n, k, k)
    p = x.permute(0, 2, 3, 1)[bi, rows, cols]  # (b, n, k, k, c)
    p = p.reshape(b * n, k * k, c)
    p = (p - p.mean(dim=(0, 1), keepdim=True)) / p.std(dim=(0, 1), keepdim=True).clamp_min(1e-8)
    return p.reshape(b * n, -1)


def sliced_wasserstein(fake: torch.Tensor, real: torch.Tensor, *, seed: int = 0, patches: int = 64,
                       directions: int = 256, repeats: int = 4) -> float:
    """SWD (x1e3) between patch distributions of two image sets (N, C, H, W) in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    dists = []
    for lf, lr in zip(_laplacian_pyramid(fake.float()), _laplacian_pyramid(real.float())):
        a, b = _patches(lf, patches, g), _patches(lr, patches, g)
        n = min(len(a), len(b))
        a, b = a[torch.randperm(len(a), generator=g)[:n]], b[torch.randperm(len(b), generator=g)[:n]]
        level = []
        for _ in range(repeats):
            d = torch.randn(a.shape[1], directions, generator=g)
            d = d / d.norm(dim=0, keepdim=True)
            pa, _ = torch.sort(a @ d, dim=0)
            pb, _ = torch.sort(b @ d, dim=0)
            level.append((pa - pb).abs().mean())
        dists.append(torch.stack(level).mean())
    return float(torch.stack(dists).mean()) * 1e3


# -- realism: number of statistically different bins ------------------------------------------


def _kmeans(x: torch.Tensor, k: int, g: torch.Generator, iters: int = 30) -> torch.Tensor:
    centres = x[torch.randperm(len(x), generator=g)[:k]].clone()
    for _ in range(iters):
        assign = torch.cdist(x, centres).argmin(1)
        for j in range(k):
            members = x[assign == j]
            if len(members):
                centres[j] = members.mean(0)
    return centres


def ndb_jsd(fake: torch.Tensor, real_test: torch.Tensor, real_train: torch.Tensor, *, k: int = 10,
            seed: int = 0, alpha: float = 0.05) -> tuple[int, float]:
    """NDB (bins whose share of fakes differs from the real test share, two-proportion z-test at
    `alpha`) and the JSD between the two bin histograms. Images are compared at 32x32."""
    def flat(x):
        return F.interpolate(x.float(), size=(32, 32), mode="area").flatten(1)
    g = torch.Generator().manual_seed(seed)
    centres = _kmeans(flat(real_train), k, g)
    hist = lambda x: torch.bincount(torch.cdist(flat(x), centres).argmin(1), minlength=k).double()  # noqa: E731
    hf, hr = hist(fake), hist(real_test)
    nf, nr = hf.sum(), hr.sum()
    pf, pr = hf / nf, hr / nr
    pooled = (hf + hr) / (nf + nr)
    se = torch.sqrt(pooled * (1 - pooled) * (1 / nf + 1 / nr)).clamp_min(1e-12)
    zcrit = math.sqrt(2) * torch.erfinv(torch.tensor(1 - alpha, dtype=torch.float64))
    ndb = int(((pf - pr).abs() / se > zcrit).sum())
    m = (pf + pr) / 2
    kl = lambda p, q: float((p[p > 0] * torch.log(p[p > 0] / q[p > 0])).sum())  # noqa: E731
    return ndb, 0.5 * kl(pf, m) + 0.5 * kl(pr, m)


# -- fidelity and diversity ----------------------------------------------------------------------


def edge_fscore(photos: torch.Tensor, sketches: torch.Tensor, tolerance: int = 2) -> float:
    """Mean F-score between Canny edges of photos (N, C, H, W) and sketches (N, 1, H, W), in [0, 1]."""
    gray = photos.float().mean(1, keepdim=True) if photos.shape[1] == 3 else photos.float()
    out_edges = canny(gray, sigma=max(1.0, photos.shape[-1] / 256 * 1.5))
    sk = (sketches.float() < 0.5).float()
    near_sk, near_out = dilate(sk, 2 * tolerance + 1), dilate(out_edges, 2 * tolerance + 1)
    p = (out_edges * near_sk).sum((1, 2, 3)) / out_edges.sum((1, 2, 3)).clamp_min(1)
    r = (sk * near_out).sum((1, 2, 3)) / sk.sum((1, 2, 3)).clamp_min(1)
    return float((2 * p * r / (p + r).clamp_min(1e-8)).mean())


def pairwise_l1(outputs: torch.Tensor) -> float:
    """Mean L1 between all pairs of K outputs (K, C, H, W) of one input."""
    k = outputs.shape[0]
    d = [(outputs[i] - outputs[j]).abs().mean() for i in range(k) for j in range(i + 1, k)]
    return float(torch.stack(d).mean())


def evaluate(checkpoint: str, data: str, *, n_z: int = 10, samples: int = 8, limit: int | None = None,
             seed: int = 0, direction: str = "AtoB", reference: str | None = None) -> dict:
    """All metrics of a checkpoint on a folder of held-out A|B pairs (CycleGAN: evaluate_unpaired).

    Each sketch gets max(n_z, samples) random z (seeded; the same for every checkpoint): the
    first n_z outputs give `diversity`, the first `samples` give the realism measures of
    realism.py (sharpness, colour spread, best-of-n L1, the latent measures; 8 by default) and
    C2ST, and the first output of each sketch gives fidelity, realism_swd and NDB/JSD.
    C2ST runs only with a `reference` folder: generated images, real vs real and blurred real vs
    real, against the reference photos (realism.c2st_suite); without one its keys are None.
    The generator runs in fp32 (not the engine the host's timing would pick), so that the numbers
    are the same from run to run.
    """
    from .infer import Translator

    t = Translator.load(checkpoint, engine="fp32")
    if not Path(data).is_dir():
        raise ValueError(f"held-out data folder not found: {data}")
    if not family(t.cfg.model).paired:
        return evaluate_unpaired(t, data, limit=limit, seed=seed)
    if n_z < 2 or samples < 1:
        raise ValueError(f"evaluate needs n_z >= 2 (diversity compares pairs) and samples >= 1; got {n_z}, {samples}")
    pairs = load_aligned(data, load_size=t.size, direction=direction, input_nc=t.cfg.input_nc,
                         output_nc=t.cfg.output_nc, limit=limit)
    to01 = lambda x: x.float() / 255.0  # noqa: E731
    real = to01(pairs.b)
    inputs, sketches, diversity, outputs = [], [], [], []
    k = max(n_z, samples)
    g = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        for i in range(len(pairs)):
            a = t.prepare(pairs.a[i].permute(1, 2, 0).squeeze(-1).numpy())
            inputs.append(a[0])
            sketches.append(to_unit(a[0]))
            ys = to_unit(t.forward(a.expand(k, -1, -1, -1), torch.randn(k, t.nz, generator=g)))
            diversity.append(pairwise_l1(ys[:n_z]))
            outputs.append(ys[:samples])
    out = torch.stack(outputs)  # (N, samples, 3, S, S)
    fake = out[:, 0]
    sk = torch.stack(sketches)
    drawings = sk if sk.shape[1] == 1 else None  # line drawings: where they were drawn matters (realism.py)
    latent = latent_measures(t, torch.stack(inputs), real, out)
    result = {
        "checkpoint": str(checkpoint), "model": t.cfg.model, "size": t.size, "pairs": len(pairs), "n_z": n_z,
        "samples": samples,
        "recon_l1": latent.pop("recon_l1", None),
        "diversity": float(np.mean(diversity)),
        "fidelity": edge_fscore(fake, sk),
        **realism_measures(out, real, seed=seed, sketches=drawings),
        **latent,
    }
    c2st_keys = {"c2st_images_per_class": None, "c2st": None, "c2st_real_vs_real": None, "c2st_blurred": None}
    if reference:
        # the whole reference set for C2ST; its first 4 x N photos for SWD and NDB
        train = load_aligned(reference, load_size=t.size, direction=direction, input_nc=t.cfg.input_nc,
                             output_nc=t.cfg.output_nc)
        ref_all = to01(train.b)
        ref = ref_all[:len(pairs) * 4]
        result["realism_swd"] = sliced_wasserstein(fake, ref, seed=seed)
        result["ndb"], result["jsd"] = ndb_jsd(fake, real, ref, seed=seed)
        result["real_vs_real"] = {"realism_swd": sliced_wasserstein(real, ref, seed=seed),
                                  "fidelity": edge_fscore(real, sk),
                                  "ndb": ndb_jsd(real, real, ref, seed=seed)[0]}
        sketch_of = torch.arange(len(out)).repeat_interleave(out.shape[1])  # the sketch of each sample
        c2st_keys = c2st_suite(out.flatten(0, 1), ref_all, groups=sketch_of, seed=seed)
    result.update(c2st_keys)
    return result


def evaluate_unpaired(t, data: str, *, limit: int | None = None, seed: int = 0) -> dict:
    """CycleGAN on held-out unpaired images (data/testA, data/testB; data/trainA, data/trainB as
    the reference): does G move A images towards domain B, and F move B images towards A?

    realism_swd of G(testA) against trainB, next to testA itself (doing nothing: the ceiling)
    and testB (real B: the floor); the same for F; cycle_l1 = mean |F(G(a)) - a|.
    """
    from .data import load_unaligned

    root = Path(data)
    if not ((root / "testA").is_dir() and (root / "testB").is_dir() and (root / "trainB").is_dir()):
        raise ValueError(f"{t.cfg.model} checkpoints are evaluated on an unaligned dataset folder with "
                         f"testA/, testB/, trainA/ and trainB/; {data} has not got them")
    test = load_unaligned(root, split="test", load_size=t.size, limit=limit)
    train = load_unaligned(root, split="train", load_size=t.size, limit=len(test) * 4)

    a, b = uint8_to_float(test.a), uint8_to_float(test.b)
    fake_b = torch.cat([t.forward(a[i:i + 8]) for i in range(0, len(a), 8)])
    fake_a = torch.cat([t.forward(b[i:i + 8], reverse=True) for i in range(0, len(b), 8)])
    cycle = torch.cat([t.forward(fake_b[i:i + 8], reverse=True) for i in range(0, len(a), 8)])

    def swd(x, ref):
        return sliced_wasserstein(to_unit(x.float().cpu().clamp(-1, 1)), ref.float() / 255.0, seed=seed)

    return {"checkpoint": str(t.source), "model": t.cfg.model, "images": len(test),
            "A_to_B": {"realism_swd": swd(fake_b, train.b), "input_unchanged": swd(a, train.b),
                       "real_B": swd(b, train.b)},
            "B_to_A": {"realism_swd": swd(fake_a, train.a), "input_unchanged": swd(b, train.a),
                       "real_A": swd(a, train.a)},
            "cycle_l1": float(((cycle.float() - a.float()).abs().mean() / 2).cpu())}


def markdown_table(results: list[dict]) -> str:
    """Two Markdown tables: the classic metrics (the real-vs-real floor, then one row per
    checkpoint), and below them the realism measures that a poor model fails (realism.py).

    The floor depends on the image size (SWD compares Laplacian pyramids, with one more fine
    level at 256 px than at 128), so checkpoints of different sizes each get their size's floor.
    The second table has a row per BicycleGAN-family checkpoint; its ratios are generated / real
    (1 = as real photos) and its C2ST controls come from each checkpoint's own run.
    """
    def cell(v, fmt="{:.3f}"):
        return "-" if v is None else fmt.format(v)

    rows = ["| | recon_l1 | diversity | fidelity | realism_swd | NDB | JSD |", "|---|---|---|---|---|---|---|"]
    floors = {r.get("size"): r["real_vs_real"] for r in results if r.get("real_vs_real")}
    for size, floor in floors.items():
        name = "real vs real" if len(floors) == 1 else f"real vs real, {size} px"
        rows.append(f"| {name} | - | - | {cell(floor['fidelity'])} | {cell(floor['realism_swd'], '{:.1f}')} | "
                    f"{floor['ndb']} | - |")
    for r in results:
        rows.append(f"| {r['model']} (`{r['checkpoint']}`) | {cell(r['recon_l1'])} | {cell(r['diversity'])} | "
                    f"{cell(r['fidelity'])} | {cell(r.get('realism_swd'), '{:.1f}')} | {r.get('ndb', '-')} | "
                    f"{cell(r.get('jsd'))} |")
    latent = [r for r in results if "sharpness_ratio" in r]
    if latent:
        n = "/".join(sorted({str(r["samples"]) for r in latent}))
        rows += ["", f"| (ratios: generated / real) | C2ST | C2ST real vs real | C2ST blurred | sharpness | colour spread L* | a*b* | "
                     f"within-sketch a*b* | best-of-{n} L1 (its floor) | style colour error: encoded / random | "
                     f"E code std min | E code axes >= 0.3 | min dim effect |", "|---|" + "---|" * 12]
        for r in latent:
            enc, rand = r.get("style_colour_error_encoded"), r.get("style_colour_error_random")
            style = "-" if enc is None else f"{cell(r['style_colour_error_ratio'], '{:.2f}')} ({enc:.1f} / {rand:.1f})"
            best = cell(r['best_of_n_l1_ratio'], '{:.2f}')
            if r.get("placement_l1_ratio") is not None:
                best += f" ({r['placement_l1_ratio']:.2f})"
            axes = "-" if "code_axes" not in r else f"{sum(v >= 0.3 for v in r['code_axes'])} of {len(r['code_axes'])}"
            rows.append(
                f"| {r['model']} (`{r['checkpoint']}`) | {cell(r.get('c2st'))} | {cell(r.get('c2st_real_vs_real'))} | "
                f"{cell(r.get('c2st_blurred'))} | {cell(r['sharpness_ratio'], '{:.2f}')} | "
                f"{cell(r['colour_spread_L_ratio'], '{:.2f}')} | {cell(r['colour_spread_ab_ratio'], '{:.2f}')} | "
                f"{cell(r['within_sketch_ab_ratio'], '{:.2f}')} | {best} | "
                f"{style} | {cell(r.get('code_std_min'))} | {axes} | {cell(r['dim_effect_min'])} |")
    return "\n".join(rows)
