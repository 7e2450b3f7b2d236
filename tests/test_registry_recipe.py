"""The model registry (one entry per family), the one resume decision, and the recipe read from
the data (never from a folder's name)."""
import dataclasses
import shutil
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from PIL import Image
from torch import nn

from conftest import TINY, data_dir
from i2i.__main__ import build_parser
from i2i.checkpoint import CheckpointError
from i2i.config import ConfigError, check_common, to_dict
from i2i.models import FAMILIES, build_model, family, model_config, model_config_from_dict, model_names
from i2i.recipe import propose_recipe
from i2i.train import TrainConfig, resume_configs, train


def test_every_name_builds_its_familys_model():
    assert model_names() == ["bicyclegan", "cvaegan", "clrgan", "pix2pix", "cyclegan"]
    for name in model_names():
        cls = family(name)
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        cfg = model_config(name, size=32, **{k: v for k, v in TINY.items() if k in fields})
        assert isinstance(cfg, cls.Config) and type(build_model(cfg)) is cls
        assert model_config_from_dict(to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="choose one of bicyclegan, cvaegan, clrgan, pix2pix, cyclegan"):
        family("stylegan")


def test_variants_are_objective_flags_that_the_model_follows():
    """Each variant's flags decide the networks, the phase order and the loss terms."""
    terms = {}
    for name in ("bicyclegan", "cvaegan", "clrgan", "pix2pix"):
        cfg = model_config(name, size=32, **TINY)
        m = build_model(cfg)
        o = cfg.objective
        assert (m.E is not None) == (o.encoded or o.latent_l1) and (m.D2 is not None) == o.split
        assert m.phases == o.phases
        out = m.forward_train(torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1)
        terms[name] = set(m.loss("G", out)[1]), set(m.loss("D", out)[1])
    assert terms["bicyclegan"] == ({"G_GAN", "G_L1", "KL", "G_GAN2", "z_L1"},
                                   {"D_real", "D_fake", "D_real2", "D_fake2"})
    assert terms["cvaegan"] == ({"G_GAN", "G_L1", "KL"}, {"D_real", "D_fake"})
    assert terms["clrgan"] == ({"G_GAN2", "z_L1"}, {"D_real", "D_fake"})
    assert terms["pix2pix"] == ({"G_GAN", "G_L1"}, {"D_real", "D_fake"})
    assert model_config("pix2pix").objective.phases == ("D", "G")  # pix2pix's paper: D, then G


@dataclass
class ToyConfig:
    model: str = "toy"
    size: int = 32
    input_nc: int = 3
    output_nc: int = 3
    gan_mode: str = "lsgan"
    width: int = 4
    uses_z: ClassVar[bool] = False
    has_encoder: ClassVar[bool] = False
    even_batch: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_common(self)


class Toy(nn.Module):
    Config = ToyConfig
    variants = ("toy",)
    paired = True
    phases = ("G",)

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.G = self.inference_modules(cfg)["G"]

    @staticmethod
    def inference_modules(cfg):
        return {"G": nn.Conv2d(cfg.input_nc, cfg.output_nc, 1)}


def test_a_new_family_is_one_registry_line(monkeypatch):
    """Registering a family makes it a model name, a config, a model and a CLI choice."""
    monkeypatch.setitem(FAMILIES, "toy", Toy)
    assert "toy" in model_names() and family("toy") is Toy
    cfg = model_config("toy", width=8)
    assert isinstance(cfg, ToyConfig) and isinstance(build_model(cfg), Toy)
    assert model_config_from_dict(to_dict(cfg)) == cfg
    args = build_parser().parse_args(["train", "--model", "toy", "--out", "x", "--width", "8"])
    assert args.model == "toy" and args.width == 8


def tiny_run(tmp_path, shoes, iters=2):
    mcfg = model_config("pix2pix", size=32, **TINY)
    tcfg = TrainConfig(data=str(shoes), out=str(tmp_path / "run"), iters=iters, limit=4, batch_size=2,
                       sample_every=0, checkpoint_every=iters, log_every=1, lr=1e-3)
    list(train(mcfg, tcfg))
    return mcfg, tcfg


def test_resume_configs_is_the_saved_run_with_the_allowed_overrides(tmp_path, shoes):
    mcfg, tcfg = tiny_run(tmp_path, shoes)
    (tmp_path / "run" / "run.json").unlink()  # the training state alone decides
    got_m, got_t = resume_configs(tmp_path / "run", {"iters": 5, "log_every": 2})
    assert got_m == mcfg
    assert got_t == dataclasses.replace(tcfg, iters=5, log_every=2)
    with pytest.raises(ConfigError, match="lr cannot change when a run is resumed"):
        resume_configs(tmp_path / "run", {"lr": 0.1})
    assert resume_configs(tmp_path / "run", {"lr": tcfg.lr, "ngf": mcfg.ngf}) == (mcfg, tcfg)  # repeated, not changed
    with pytest.raises(ValueError, match="below the 2 steps"):
        resume_configs(tmp_path / "run", {"iters": 1})
    with pytest.raises(CheckpointError, match="nothing to resume"):
        resume_configs(tmp_path / "elsewhere")
    # train(resume=True) asks the same function: the passed model config is not needed
    events = list(train(None, dataclasses.replace(tcfg, iters=3, data=""), resume=True))
    assert events[-1].step == 3 and events[-1].message == "finished"


def test_recipe_comes_from_the_images(tmp_path):
    shoes = propose_recipe(data_dir("edges2shoes"), cuda=False)
    assert (shoes.input_nc, shoes.output_nc, shoes.sketch_norm, shoes.sketch_aug, shoes.direction) == \
        (1, 3, True, True, "AtoB")
    assert (shoes.size, shoes.width) == (128, 32)
    on_gpu = propose_recipe(data_dir("edges2shoes"), cuda=True)
    assert (on_gpu.size, on_gpu.width) == (256, 64)
    facades = propose_recipe(data_dir("facades"), cuda=False)  # photo | label map: the labels are the input
    assert (facades.input_nc, facades.sketch_norm, facades.direction) == (3, False, "BtoA")
    winter = propose_recipe(data_dir("summer2winter_yosemite"), cuda=False)
    assert (winter.input_nc, winter.output_nc, winter.direction) == (3, 3, "AtoB")
    assert "nef" not in winter.model_fields("cyclegan") and winter.model_fields("bicyclegan")["nef"] == 32
    photos = propose_recipe(data_dir("shoe_photos"), cuda=False)  # sketches drawn from the photos
    assert (photos.input_nc, photos.sketch_norm, photos.size) == (1, True, 64)
    # a folder named like an edge-map set but holding facades is read as facades
    fake = tmp_path / "edges2things" / "train"
    fake.mkdir(parents=True)
    for f in sorted((data_dir("facades") / "train").iterdir())[:8]:
        shutil.copy(f, fake / f.name)
    assert propose_recipe(fake.parent, cuda=False).input_nc == 3
    # and line drawings on the right of the pairs make BtoA, whatever the name
    flipped = tmp_path / "photos" / "train"
    flipped.mkdir(parents=True)
    for f in sorted((data_dir("edges2shoes") / "val").iterdir())[:8]:
        img = Image.open(f)
        w, h = img.size
        swapped = Image.new("RGB", (w, h))
        swapped.paste(img.crop((w // 2, 0, w, h)), (0, 0))
        swapped.paste(img.crop((0, 0, w // 2, h)), (w // 2, 0))
        swapped.save(flipped / f.name)
    r = propose_recipe(flipped.parent, cuda=False)
    assert (r.direction, r.input_nc, r.sketch_norm) == ("BtoA", 1, True)


def test_the_train_tab_proposes_the_same_recipe():
    from ui.train_tab import propose

    size, text = propose("facades")  # a folder under the allowed roots, as the tab's list gives it
    r = propose_recipe(data_dir("facades"))
    assert size == r.size and r.summary() in text and "BtoA" in text
    assert propose("../../etc")[1].startswith("../../etc is outside")
