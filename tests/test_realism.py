"""The realism measures (i2i/realism.py) separate what they should, on real edges2shoes photos.

Photos at 64 px from ../shared/data/edges2shoes/train; each degraded set (blurred, flat colour,
one hue for every shoe) must be told from the real photos, and the real photos from themselves
must not. The thresholds sit well clear of what was measured (given in the comments).
"""
from __future__ import annotations

import math

import pytest
import torch

from conftest import ROOT, data_dir
from i2i.data import load_aligned
from i2i.realism import (c2st, c2st_suite, gaussian_blur, lab_to_srgb, latent_measures, mean_lab, realism_measures,
                         sharpness, shoe_mask, srgb_to_lab)

SIZE = 64


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    """600 real shoe photos, (600, 3, 64, 64) in [0, 1]."""
    pairs = load_aligned(data_dir("edges2shoes", "train"), load_size=SIZE, input_nc=1, output_nc=3, limit=600)
    return pairs.b.float() / 255


def flat_colour(x: torch.Tensor) -> torch.Tensor:
    """Each shoe region filled with its own mean colour (the paper stays as it is)."""
    mask = shoe_mask(x)
    mean = (x * mask).sum((2, 3), keepdim=True) / mask.sum((2, 3), keepdim=True)
    return x * (1 - mask) + mean * mask


def all_brown(x: torch.Tensor) -> torch.Tensor:
    """Every shoe recoloured to one brown (a* = 12, b* = 25), keeping each pixel's L*."""
    lab = srgb_to_lab(x)
    lab[:, 1], lab[:, 2] = 12.0, 25.0
    mask = shoe_mask(x)
    return x * (1 - mask) + lab_to_srgb(lab) * mask


def test_lab_of_known_colours():
    rgb = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]]).view(4, 3, 1, 1)
    lab = srgb_to_lab(rgb).view(4, 3)
    expected = torch.tensor([[100.0, 0.0, 0.0], [53.24, 80.09, 67.20], [32.30, 79.19, -107.86], [53.39, 0.0, 0.0]])
    assert torch.allclose(lab, expected, atol=0.02)


def test_shoe_mask_finds_the_shoe_not_the_paper(photos):
    mask = shoe_mask(photos[:50])
    share = mask.mean((1, 2, 3))
    assert 0.15 < float(share.mean()) < 0.8  # shoes fill part of the frame
    assert float(mask[:, :, 0, :].mean()) < 0.1  # the top row is paper
    blank = shoe_mask(torch.ones(2, 3, SIZE, SIZE))
    assert bool((blank == 1).all()), "an image with no shoe falls back to the whole frame"


def test_c2st_separates_degraded_photos_and_not_real_ones(photos):
    """Real vs real stays near 0.5; blurred and flat-colour photos are told from real ones.

    200 images per class at 64 px, 80 steps (a smaller budget than evaluate's 200, for speed).
    Seeds 0, 1, 2 gave real vs real 0.48 / 0.52 / 0.44, blurred 0.98 / 0.98 / 0.98, flat colour
    0.80 / 0.87 / 0.79 (the accuracy of 400 held-out guesses has a standard error of ~0.025).
    """
    real, fake = photos[:400], flat_colour(photos[400:600])
    out = c2st_suite(fake, real, seed=0, steps=80)
    assert out["c2st_images_per_class"] == 200
    assert out["c2st_real_vs_real"] < 0.62, out
    assert out["c2st_blurred"] > 0.85, out
    assert out["c2st"] > 0.7, out


def test_c2st_is_deterministic_and_leaves_the_global_rng_alone(photos):
    a, b = photos[:40], gaussian_blur(photos[40:80], 1.0)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    first = c2st(a, b, seed=5, steps=10)
    assert torch.equal(torch.rand(3), before), "c2st must not move the global RNG"
    assert c2st(a, b, seed=5, steps=10) == first
    assert c2st_suite(photos[:10], photos[:30], min_per_class=20)["c2st"] is None  # too few images to test


def test_sharpness_ratio_falls_for_blurred_photos(photos):
    real = photos[:200]
    same = realism_measures(real[:, None], real)
    assert same["sharpness_ratio"] == pytest.approx(1.0)
    # measured 0.26 (sigma 1 px at 64 px; 0.67 for sigma 0.5)
    blurred = realism_measures(gaussian_blur(real, 1.0)[:, None], real)
    assert blurred["sharpness_ratio"] < 0.5, blurred["sharpness_ratio"]
    assert float(sharpness(torch.full((1, 3, SIZE, SIZE), 0.5))[0]) == 0.0


def test_colour_spread_falls_when_every_shoe_is_brown(photos):
    real = photos[:200]
    same = realism_measures(real[:, None], real)
    assert same["colour_spread_ab_ratio"] == pytest.approx(1.0)
    assert same["colour_spread_L_ratio"] == pytest.approx(1.0)
    brown = realism_measures(all_brown(real)[:, None], real)
    # measured: a*b* 0.19, L* 0.99 (L* is kept)
    assert brown["colour_spread_ab_ratio"] < 0.4, brown["colour_spread_ab_ratio"]
    assert brown["colour_spread_L_ratio"] > 0.8, brown["colour_spread_L_ratio"]
    # within one sketch: the same image twice has no spread; four different real shoes per
    # "sketch" have nearly as much as real shoes across the set (measured 0.76; 0.66 with two)
    assert realism_measures(torch.stack([real, real], 1), real)["within_sketch_ab_ratio"] == pytest.approx(0.0)
    others = torch.stack([real.roll(i, 0) for i in range(4)], 1)
    assert realism_measures(others, real)["within_sketch_ab_ratio"] > 0.5


def test_best_of_n_l1_is_zero_when_a_sample_is_the_photo(photos):
    real = photos[:200]
    hit = realism_measures(torch.stack([real.roll(1, 0), real, real.roll(2, 0)], 1), real)
    assert hit["best_of_n_l1"] == 0.0 and hit["best_of_n_l1_ratio"] == 0.0
    # one other photo per sketch, far away in the file order (neighbours are alike: roll(1) gave
    # 0.74), is as far as the random real pairs: measured 1.00 (roll 50), 1.05 (roll 100)
    miss = realism_measures(real.roll(50, 0)[:, None], real)
    assert 0.8 < miss["best_of_n_l1_ratio"] < 1.2, miss["best_of_n_l1_ratio"]
    assert miss["real_pair_l1"] > 0.05


def test_placement_floor_is_zero_for_a_sketch_in_place_and_grows_as_it_moves(photos):
    real = photos[:100]
    in_place = 1 - shoe_mask(real)  # ink exactly where each photo's shoe is
    assert realism_measures(real[:, None], real)["placement_l1_ratio"] is None
    assert realism_measures(real[:, None], real, sketches=in_place)["placement_l1_ratio"] < 0.01
    # the same drawings shifted right by 2, 4 and 8 px: within 4 % of the side (2.6 px) a drawing
    # counts as in place; past it the photos must move with them (measured 0.004, 0.15, 0.24)
    shifts = [realism_measures(real[:, None], real, sketches=torch.roll(in_place, d, dims=3))["placement_l1_ratio"]
              for d in (2, 4, 8)]
    assert shifts[0] < 0.02 and 0.08 < shifts[1] < shifts[2] < 0.5, shifts


def test_latent_measures_on_the_shipped_model():
    from i2i.infer import Translator

    t = Translator.load(ROOT / "checkpoints" / "edges2shoes", engine="fp32")
    pairs = load_aligned(data_dir("edges2shoes", "val"), load_size=t.size, input_nc=1, output_nc=3, limit=6)
    sketches = torch.cat([t.prepare(a[0].numpy()) for a in pairs.a])
    photos = pairs.b.float() / 255
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        samples = torch.stack([(t.forward(s[None].expand(2, -1, -1, -1), torch.randn(2, t.nz, generator=g)) + 1) / 2
                               for s in sketches])
    out = latent_measures(t, sketches, photos, samples, effect_sketches=2)
    assert len(out["code_std"]) == t.nz and len(out["dim_effect"]) == t.nz
    numbers = [v for k, v in out.items() if not isinstance(v, list)] + out["code_std"] + out["dim_effect"]
    assert all(math.isfinite(v) for v in numbers), out
    assert 0 < out["recon_l1"] < 0.3 and out["style_colour_error_encoded"] > 0
    assert out["dim_effect_min"] == min(out["dim_effect"]) and out["code_std_min"] == min(out["code_std"])
    axes, std = torch.tensor(out["code_axes"]), torch.tensor(out["code_std"])
    assert len(axes) == t.nz and (axes[:-1] >= axes[1:]).all(), "largest first"
    assert torch.isclose((axes ** 2).sum(), (std ** 2).sum(), rtol=1e-3), "a rotation keeps the total variance"
    assert mean_lab(photos).shape == (6, 3)


def test_evaluate_reports_every_measure_and_a_second_table():
    from i2i.metrics import evaluate, markdown_table

    val = data_dir("edges2shoes", "val")
    r = evaluate(str(ROOT / "checkpoints" / "edges2shoes"), str(val), n_z=2, samples=3, limit=3, reference=str(val))
    keys = {"sharpness_ratio", "colour_spread_L_ratio", "colour_spread_ab_ratio", "within_sketch_ab_ratio",
            "best_of_n_l1_ratio", "placement_l1_ratio", "style_colour_error_ratio", "code_std", "code_axes", "dim_effect_min", "c2st",
            "c2st_real_vs_real", "c2st_blurred", "c2st_images_per_class"}
    assert keys <= set(r) and r["samples"] == 3
    assert r["c2st"] is None and r["c2st_images_per_class"] == 9  # 3 sketches x 3 samples: too few for a C2ST
    first, second = markdown_table([r]).split("\n\n")
    assert len(first.splitlines()) == 4 and len(second.splitlines()) == 3
    assert "C2ST blurred" in second and "best-of-3 L1" in second and "checkpoints/edges2shoes" in second
    assert f"| {sum(v >= 0.3 for v in r['code_axes'])} of 8 |" in second
    assert f"{r['best_of_n_l1_ratio']:.2f} ({r['placement_l1_ratio']:.2f})" in second  # the floor beside it


def test_c2st_keeps_the_samples_of_one_sketch_on_one_side():
    from i2i.realism import _halves

    groups = torch.arange(40).repeat_interleave(8)[:301]  # 8 samples per sketch, the last sketch cut short
    first, second = _halves(len(groups), torch.Generator().manual_seed(0), groups)
    assert not set(groups[first].tolist()) & set(groups[second].tolist())
    assert abs(len(first) - len(second)) <= 8 and len(first) + len(second) == 301


def test_sketch_alignment_sees_edge_maps_fit_and_a_shifted_photo_not(tmp_path):
    """scripts/sketch_alignment.py: an edge map outlines its own photo; the same photo moved a
    quarter of the frame, or shrunk, does not, until the sketch's box is moved onto the photo's
    (which undoes a shrink but not the part of the shoe that moved out of the frame)."""
    import importlib.util

    from PIL import Image

    spec = importlib.util.spec_from_file_location("sketch_alignment", ROOT / "scripts" / "sketch_alignment.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    pair = Image.open(sorted(data_dir("edges2shoes", "val").glob("*"))[0]).convert("RGB")
    w, h = pair.size
    moved, shrunk = Image.new("RGB", (w, h), "white"), Image.new("RGB", (w, h), "white")
    for img in (moved, shrunk):
        img.paste(pair.crop((0, 0, w // 2, h)), (0, 0))
    moved.paste(pair.crop((w // 2, 0, w - w // 8, h)), (w // 2 + w // 8, 0))
    shrunk.paste(pair.crop((w // 2, 0, w, h)).resize((w // 4, h // 2)), (w // 2 + w // 16, h // 8))
    found = {}
    for name, img in (("same", pair), ("moved", moved), ("shrunk", shrunk)):
        (tmp_path / name).mkdir()
        img.save(tmp_path / name / f"{name}.png")
        iou, iou_boxes, _ = mod.alignment(tmp_path / name)
        found[name] = float(iou[0]), float(iou_boxes[0])
    assert found["same"][0] > 0.9 and found["same"][1] > 0.9, found
    assert found["moved"][0] < 0.8 and found["shrunk"][0] < 0.5, found
    assert found["shrunk"][1] > 0.9, found
