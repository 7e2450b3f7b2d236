import math

import pytest
import torch

from i2i.config import ConfigError, from_dict, to_dict
from i2i.models import BicycleGANConfig, build_model, model_config, model_config_from_dict
from i2i.losses import ImagePool, code_spread_loss, colour_layout_loss, gan_loss, kl_loss, mode_seeking_loss
from i2i.models.bicyclegan import MS_STEP, move_one_dimension


def test_lsgan_targets():
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    assert gan_loss(ones, True) == 0 and gan_loss(zeros, False) == 0
    assert gan_loss(zeros, True) == 1 and gan_loss(ones, False) == 1
    assert gan_loss([zeros, zeros], True) == 2  # multi-scale outputs are summed


def test_vanilla_gan_is_bce_on_logits():
    assert math.isclose(float(gan_loss(torch.zeros(3, 1, 2, 2), True, "vanilla")), math.log(2), rel_tol=1e-6)


def test_kl_is_summed_over_dims_and_averaged_or_summed_over_the_batch():
    mu, logvar = torch.zeros(4, 8), torch.zeros(4, 8)
    assert kl_loss(mu, logvar) == 0
    # KL(N(1, 1) || N(0, 1)) = 1/2 per dimension
    assert math.isclose(float(kl_loss(torch.ones(4, 8), logvar)), 0.5 * 8, rel_tol=1e-6)
    assert math.isclose(float(kl_loss(torch.ones(4, 8), logvar, "sum")), 0.5 * 32, rel_tol=1e-6)


def test_free_bits_stop_pushing_a_dimension_below_the_floor():
    mu = torch.zeros(4, 2)
    mu[:, 0] = 2.0  # dimension 0: KL 2 nats, above the floor; dimension 1: KL 0.125, below it
    mu[:, 1] = 0.5
    mu.requires_grad_(True)
    loss = kl_loss(mu, torch.zeros(4, 2), free=0.5)
    assert math.isclose(loss.item(), 2.0 + 0.5, rel_tol=1e-6)  # the floor counts for dimension 1
    loss.backward()
    assert (mu.grad[:, 0] > 0).all() and (mu.grad[:, 1] == 0).all()  # only the dimension above is pulled to 0
    assert math.isclose(kl_loss(mu, torch.zeros(4, 2), "sum", free=0.5).item(), 4 * 2.5, rel_tol=1e-6)


def test_mode_seeking_moves_one_dimension_and_weighs_the_inverse_change():
    torch.manual_seed(0)
    z = torch.randn(64, 8)
    moved = move_one_dimension(z)
    diff = moved - z
    assert ((diff != 0).sum(1) == 1).all() and torch.allclose(diff.abs().sum(1), torch.full((64,), MS_STEP))
    assert (moved.abs() <= torch.maximum(z.abs(), torch.tensor(MS_STEP)) + 1e-6).all()  # towards and past 0
    assert len(set(diff.nonzero()[:, 1].tolist())) == 8  # every dimension gets its turn
    fake = torch.zeros(2, 3, 4, 4)
    # image 0 changes by 0.2 per pixel, image 1 by 0.4: per unit of z 0.1 and 0.2 -> mean(10, 5)
    moved_fake = torch.cat([fake[:1] + 0.2, fake[1:] + 0.4])
    assert math.isclose(float(mode_seeking_loss(fake, moved_fake, 2.0)), 7.5, rel_tol=1e-3)
    assert float(mode_seeking_loss(fake, fake, 2.0)) > 1e4  # an ignored dimension costs the most


def test_image_pool_history_and_state():
    pool = ImagePool(3)
    first = pool.query(torch.arange(3.0).view(3, 1, 1, 1))
    assert torch.equal(first.flatten(), torch.tensor([0.0, 1, 2]))
    torch.manual_seed(1)
    out = pool.query(torch.full((8, 1, 1, 1), 9.0))
    assert (out != 9).any(), "a full pool should hand back some older images"
    fresh = ImagePool(3)
    fresh.load_state_dict(pool.state_dict(), torch.device("cpu"))
    assert all(torch.equal(a, b) for a, b in zip(pool.images, fresh.images))


def test_paper_defaults():
    b = model_config("bicyclegan")
    assert (b.nz, b.lambda_l1, b.lambda_kl, b.lambda_z, b.gan_mode, b.n_scales) == (8, 10.0, 0.01, 0.5, "lsgan", 2)
    assert model_config("pix2pix").lambda_l1 == 100.0
    c = model_config("cyclegan")
    assert (c.lambda_cyc, c.lambda_idt, c.pool_size, c.n_blocks) == (10.0, 0.5, 50, 9)
    assert model_config("cyclegan", size=128).n_blocks == 6


def test_config_round_trip_and_strictness():
    cfg = model_config("cvaegan", size=64, ngf=16)
    assert model_config_from_dict(to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="unknown BicycleGANConfig field"):
        model_config("bicyclegan", lamda_l1=3.0)
    with pytest.raises(ConfigError, match="should be int"):
        from_dict(BicycleGANConfig, {"ngf": "64"})
    with pytest.raises(ConfigError, match="unknown model"):
        model_config("stylegan")
    with pytest.raises(ConfigError, match="power of two"):
        model_config("bicyclegan", size=100)


def test_diffaugment_is_random_differentiable_and_checked():
    from i2i.diffaug import diff_augment
    x = (torch.rand(4, 3, 32, 32) * 2 - 1).requires_grad_()
    torch.manual_seed(1)
    y = diff_augment(x, "color,translation,cutout")
    torch.manual_seed(1)
    assert torch.equal(y, diff_augment(x, "color,translation,cutout"))  # the step seed fixes it
    assert y.shape == x.shape and not torch.equal(y, x)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # cutout blanks a quarter of each image (a half-size square, clipped at the border)
    cut = diff_augment(torch.ones(8, 1, 32, 32), "cutout")
    assert all(64 <= int((c == 0).sum()) <= 256 for c in cut)
    # a shift uncovers white paper, never wraps the shoe around
    moved = diff_augment(-torch.ones(16, 1, 32, 32), "translation")
    assert moved.max() == 1.0 and ((moved == 1) | (moved == -1)).all()
    with pytest.raises(ConfigError, match="DiffAugment policy"):
        model_config("bicyclegan", diffaug="translation,rotate")
    with pytest.raises(ConfigError, match="kl_reduction"):
        model_config("bicyclegan", kl_reduction="max")


def test_colour_layout_loss_sees_colour_not_texture():
    """Two textures of the same colour cost ~nothing; the same texture in another colour costs the
    colour difference, where per-pixel L1 scores both about the same."""
    g = torch.Generator().manual_seed(0)
    red = torch.tensor([0.6, -0.6, -0.6]).view(1, 3, 1, 1)
    noise = lambda: (torch.rand(1, 1, 64, 64, generator=g) - 0.5) * 0.8  # noqa: E731
    a, b = red + noise(), red + noise()
    brown = red + torch.tensor([-0.2, 0.3, 0.0]).view(1, 3, 1, 1)
    c = brown + (a - red)
    assert colour_layout_loss(a, b) < 0.02 < 0.1 < colour_layout_loss(a, c)
    assert torch.nn.functional.l1_loss(a, c) < 2 * torch.nn.functional.l1_loss(a, b)


def test_colour_term_trains_e_and_needs_the_encoded_path():
    torch.manual_seed(0)
    m = build_model(model_config("bicyclegan", size=32, lambda_colour=10.0, ngf=8, nef=8, ndf=8))
    _, logs = m.loss_G(m.forward_train(torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1))
    logs["G_colour"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.E.parameters())
    with pytest.raises(ConfigError, match="encoded"):
        model_config("clrgan", lambda_colour=1.0)


def test_code_spread_loss_sees_codes_on_a_plane():
    """Codes whose dimensions all vary but move together (a plane of 2 in 8-D) cost far more than
    independent N(0, I) codes, and descending the term spreads them over every axis."""
    g = torch.Generator().manual_seed(0)
    indep = torch.randn(64, 8, generator=g)
    plane = torch.randn(64, 2, generator=g) @ torch.randn(2, 8, generator=g)
    assert code_spread_loss(indep) < 0.05 < 1.0 < code_spread_loss(plane)
    codes = (plane + 0.01 * torch.randn(64, 8, generator=g)).requires_grad_()
    axes = lambda: torch.linalg.eigvalsh(torch.cov(codes.detach().T)).sqrt()  # noqa: E731  smallest first
    before = axes()
    opt = torch.optim.Adam([codes], lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        code_spread_loss(codes).backward()
        opt.step()
    after = axes()
    assert after[0] > 0.3 > 10 * before[0], (before, after)


def test_code_spread_term_trains_e_from_a_queue_of_codes_that_resumes():
    torch.manual_seed(0)
    m = build_model(model_config("bicyclegan", size=32, lambda_code=1.0, ngf=8, nef=8, ndf=8))
    for step in range(6):  # 6 photos a step; the term starts once 4 x nz = 32 codes are queued
        out = m.forward_train(torch.rand(6, 3, 32, 32) * 2 - 1, torch.rand(6, 3, 32, 32) * 2 - 1)
        assert out["mu_batch"].shape == (6, 8)  # the encoded half's codes and the other half's
        logs = m.loss_G(out)[1]
        assert ("E_spread" in logs) == (step >= 5)
    logs["E_spread"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.E.parameters())
    m2 = build_model(m.cfg)
    m2.load_extra_state(m.extra_state(), torch.device("cpu"))
    assert torch.equal(m2.code_queue.codes, m.code_queue.codes) and len(m.code_queue.codes) == 36
    with pytest.raises(ConfigError, match="encoded"):
        model_config("clrgan", lambda_code=1.0)
