"""Distillation (--teacher): a smaller G learns to draw what a release's G draws for the same A and z."""
import pytest
import torch

from i2i.checkpoint import save_release, save_continuation
from i2i.config import ConfigError, to_dict
from i2i.models import build_model, model_config
from i2i.train import continuation_modules

TINY = dict(size=32, input_nc=1, nz=4, nef=8, ndf=8)


@pytest.fixture
def teacher(tmp_path):
    """A release with its continuation (G, E, D, D2), as checkpoints/edges2shoes ships."""
    torch.manual_seed(0)
    cfg = model_config("bicyclegan", ngf=8, **TINY)
    model = build_model(cfg)
    for w in model.G.parameters():  # weights large enough that its images vary with A and z
        torch.nn.init.normal_(w, std=0.1)
    save_release(tmp_path / "t", cfg, model.release_modules())
    save_continuation(tmp_path / "t", continuation_modules(model), {"model": to_dict(cfg), "step": 0})
    return tmp_path / "t", model


def student_config(path, **changes):
    return model_config("bicyclegan", **{**TINY, "ngf": 4, "teacher": str(path), "lambda_teacher": 10.0, **changes})


def test_student_takes_the_teachers_encoder_and_discriminators_and_trains_g_alone(teacher):
    path, t = teacher
    s = build_model(student_config(path))
    for mine, theirs in ((s.E, t.E), (s.D, t.D), (s.D2, t.D2)):  # continuations hold fp16
        assert all(torch.allclose(a, b, atol=1e-3) for a, b in zip(mine.state_dict().values(), theirs.state_dict().values()))
    assert s.param_groups()["G"] == [s.G]  # E stays the teacher's
    # the teacher is no child: not trained, not in the training state, not in a continuation
    assert not any(k.startswith("teachers") for k in s.state_dict())
    assert set(continuation_modules(s)) == {"D", "D2"}
    a, b = torch.randn(4, 1, 32, 32), torch.rand(4, 3, 32, 32) * 2 - 1
    loss, logs = s.loss("G", s.forward_train(a, b))
    assert "G_teacher" in logs
    loss.backward()
    assert s.G.net.down[0].weight.grad is not None
    assert all(p.grad is None for p in s.E.parameters())
    assert all(p.grad is None for p in s.teachers[0].parameters())


def test_a_student_learns_to_draw_what_its_teacher_draws(teacher):
    """The teacher term alone (every other weight 0): the student's images come to match the
    teacher's for new z, not just the trained ones."""
    path, t = teacher
    torch.manual_seed(1)
    s = build_model(student_config(path, lambda_gan=0.0, lambda_gan2=0.0, lambda_l1=0.0, lambda_kl=0.0,
                                   lambda_z=0.0, ngf=8))
    a, b = torch.randn(4, 1, 32, 32), torch.rand(4, 3, 32, 32) * 2 - 1
    opt = torch.optim.Adam(s.G.parameters(), lr=5e-3, betas=(0.5, 0.999))

    def gap():
        z = torch.randn(4, 4, generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            return float((s.G(a, z) - t.G(a, z)).abs().mean())

    before = gap()
    for _ in range(100):
        loss, _ = s.loss("G", s.forward_train(a, b))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert gap() < 0.55 * before  # 0.36 -> 0.16 here


def test_teacher_settings_are_checked(teacher, tmp_path):
    path, _ = teacher
    with pytest.raises(ConfigError, match="needs a teacher"):
        model_config("bicyclegan", lambda_teacher=1.0, **TINY)
    with pytest.raises(ConfigError, match="needs lambda_teacher"):
        model_config("bicyclegan", teacher=str(path), **TINY)
    with pytest.raises(ConfigError, match="nz 8 \\(teacher 4\\)"):
        build_model(student_config(path, nz=8))
    with pytest.raises(ConfigError, match="must be a BicycleGAN with an encoder"):
        build_model(model_config("pix2pix", ngf=4, teacher=str(path), lambda_teacher=1.0, **TINY))
    from i2i.checkpoint import CheckpointError
    with pytest.raises(CheckpointError):
        build_model(student_config(tmp_path / "missing"))
