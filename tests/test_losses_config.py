import math

import pytest
import torch

from i2i.config import ConfigError, from_dict, to_dict
from i2i.models import BicycleGANConfig, model_config, model_config_from_dict
from i2i.losses import ImagePool, gan_loss, kl_loss, mode_seeking_loss
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
