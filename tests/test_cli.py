"""The command line, run as a user would: python -m i2i ..."""
import json
import subprocess
import sys

import pytest
from PIL import Image

from conftest import ROOT


def cli(*args, check=True):
    out = subprocess.run([sys.executable, "-m", "i2i", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    if check:
        assert out.returncode == 0, out.stderr[-2000:]
    return out


@pytest.mark.parametrize("command", ["train", "generate", "encode", "evaluate", "edges", "sheet", "export"])
def test_help(command):
    assert "usage" in cli(command, "--help").stdout


def test_train_generate_encode_evaluate_export(tmp_path, shoes):
    run = tmp_path / "run"
    cli("train", "--model", "bicyclegan", "--data", shoes, "--out", run, "--size", 64, "--iters", 2,
        "--batch-size", 2, "--limit", 4, "--ngf", 8, "--nef", 8, "--ndf", 8, "--input-nc", 1, "--sketch-norm", "true",
        "--sketch-aug", "true", "--checkpoint-every", 2, "--seed", 3)
    assert (run / "model.safetensors").is_file() and (run / "train_state.pt").is_file()
    cli("train", "--out", run, "--resume", "--iters", 3)
    sketch = tmp_path / "s.png"
    Image.open(shoes / "val" / "1_AB.jpg").crop((0, 0, 256, 256)).save(sketch)
    out = cli("generate", "--checkpoint", run, "--input", sketch, "--n", 3, "--out", tmp_path / "gen").stdout.split()
    assert len(out) == 3 and all(Image.open(p).size == (64, 64) for p in out)
    z = json.loads(cli("encode", "--checkpoint", run, "--input", sketch).stdout)
    assert len(z) == 8
    metrics = json.loads(cli("evaluate", "--checkpoint", run, "--data", shoes / "val", "--limit", 3, "--n-z", 3).stdout)
    assert {"recon_l1", "diversity", "fidelity"} <= set(metrics)
    table = cli("evaluate", "--checkpoint", run, "checkpoints/edges2shoes", "--data", shoes / "val", "--reference",
                shoes / "val", "--limit", 2, "--n-z", 2, "--table").stdout.split("\n\n")[0].splitlines()
    # a 64 px run and the 128 px release: each size gets its own real-vs-real floor (the first table)
    assert len(table) == 6 and table[2].startswith("| real vs real, 64 px") and \
        table[3].startswith("| real vs real, 128 px") and "checkpoints/edges2shoes" in table[5]
    cli("sheet", "--checkpoint", run, "--data", shoes / "val", "--rows", 2, "--seeds", 3, "--out", tmp_path / "s.png")
    assert Image.open(tmp_path / "s.png").size[0] > 5 * 128
    cli("export", run, tmp_path / "slim", "--half")
    assert (tmp_path / "slim" / "config.json").is_file()


def test_edges_makes_training_pairs(tmp_path, shoes):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(shoes / "val" / "2_AB.jpg").crop((256, 0, 512, 256)).save(photos / "shoe.jpg")
    cli("edges", "--input", photos, "--out", tmp_path / "pairs", "--size", 64, "--pairs")
    assert Image.open(tmp_path / "pairs" / "shoe.png").size == (128, 64)


def test_errors_are_one_clear_line(tmp_path):
    bad = cli("generate", "--checkpoint", tmp_path / "nope", "--input", "x.png", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = cli("train", "--data", empty, "--out", tmp_path / "r", "--iters", 1, check=False)
    assert bad.returncode == 2 and "no images" in bad.stderr
    bad = cli("train", "--model", "cyclegan", "--data", empty, "--out", tmp_path / "r", "--lambda-kl", 1, check=False)
    assert bad.returncode == 2 and "do not apply" in bad.stderr


def test_evaluate_cyclegan_on_unpaired_data(tmp_path):
    from conftest import data_dir
    from i2i.checkpoint import save_release
    from i2i.models import model_config
    from i2i.models import build_inference_modules

    cfg = model_config("cyclegan", size=64, ngf=8, ndf=8, n_blocks=2)
    save_release(tmp_path / "cg", cfg, build_inference_modules(cfg))
    s2w = data_dir("summer2winter_yosemite")
    r = json.loads(cli("evaluate", "--checkpoint", tmp_path / "cg", "--data", s2w).stdout)
    assert r["model"] == "cyclegan" and r["images"] == 50 and r["cycle_l1"] > 0
    assert r["A_to_B"]["real_B"] < r["A_to_B"]["input_unchanged"], "real winter is nearer winter than summer is"
    bad = cli("evaluate", "--checkpoint", tmp_path / "cg", "--data", data_dir("edges2shoes", "val"), check=False)
    assert bad.returncode == 2 and "testA" in bad.stderr and "Traceback" not in bad.stderr
