"""Encoder refit (--refit-encoder): E alone learns, against a trained G that stays as it is."""
import pytest
import torch

from i2i.checkpoint import load_continuation, load_release, load_state
from i2i.config import ConfigError
from i2i.models import build_model, model_config
from i2i.train import TrainConfig, train
from conftest import TINY


def test_one_refit_step_reaches_e_and_nothing_else():
    cfg = model_config("bicyclegan", size=32, input_nc=1, nz=4, refit_encoder=True, lambda_ms=0.0, **TINY)
    m = build_model(cfg)
    assert m.phases == ("G",) and m.param_groups() == {"G": [m.E]}
    assert cfg.objective.latent_trains_e  # with G fixed, the latent term can only teach E
    a, b = torch.randn(4, 1, 32, 32), torch.rand(4, 3, 32, 32) * 2 - 1
    loss, logs = m.loss("G", m.forward_train(a, b))
    loss.backward()
    assert {"G_L1", "KL", "z_L1", "G_GAN"} <= set(logs)
    assert all(p.grad is not None for p in m.E.parameters() if p.ndim > 1)
    assert all(p.grad is None for net in (m.G, m.D, m.D2) for p in net.parameters())


def test_a_refit_run_changes_e_and_keeps_g_and_the_discriminators(tmp_path, shoes):
    from i2i.__main__ import main
    mcfg = model_config("bicyclegan", size=64, **TINY)
    first = TrainConfig(data=str(shoes), out=str(tmp_path / "first"), limit=4, batch_size=2, iters=3,
                        sample_every=0, checkpoint_every=1000, log_every=1)
    list(train(mcfg, first))
    release = tmp_path / "release"
    assert main(["export", first.out, str(release), "--half", "--continuation"]) == 0
    out = tmp_path / "refit"
    assert main(["train", "--init-from", str(release), "--out", str(out), "--iters", "6", "--lr", "0.01",
                 "--refit-encoder", "true", "--lambda-ms", "0", "--log-every", "1", "--sample-every", "0"]) == 0
    assert main(["export", str(out), str(tmp_path / "refitted"), "--half", "--continuation"]) == 0
    _, before = load_release(release)
    _, after = load_release(tmp_path / "refitted")
    assert all(torch.equal(v, after["G"][k]) for k, v in before["G"].items())
    assert not all(torch.equal(v, after["E"][k]) for k, v in before["E"].items())
    _, d_before = load_continuation(release)
    _, d_after = load_continuation(tmp_path / "refitted")
    assert all(torch.equal(v, d_after[n][k]) for n in ("D", "D2") for k, v in d_before[n].items())
    assert set(load_state(out)["optim"]) == {"G"}


def test_refit_settings_are_checked():
    for bad in (dict(model="clrgan"), dict(lambda_ms=0.01), dict(latent_trains_e=False)):
        with pytest.raises(ConfigError, match="refit_encoder trains E alone"):
            model_config(bad.pop("model", "bicyclegan"), refit_encoder=True, **{"lambda_ms": 0.0, **bad})
