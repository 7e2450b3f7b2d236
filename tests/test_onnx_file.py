"""generator.onnx (i2i/onnx_file.py): the export round trip, and the files it must refuse."""
import shutil

import numpy as np
import pytest
from PIL import Image
import torch

from i2i.checkpoint import save_release
from i2i.infer import Translator, z_for_seed
import i2i.onnx_file as onnx_file
from conftest import ROOT, data_dir
from i2i.onnx_file import (ONNX_FILE, PAGE_FILE, OnnxFileError, check_onnx, ensure_onnx, run_onnx, weights_sha256,
                            write_onnx, write_page_onnx)
from test_checkpoint_infer import sketch
from test_cli import cli
from test_engine import make_release

pytest.importorskip("onnxruntime")


def test_export_round_trip_draws_what_pytorch_draws(tmp_path):
    path = make_release(tmp_path / "rel", where_add="all", sketch_norm=True)
    save_release(path, *_release(path), dtype=torch.float16)  # fp16, as shipped: the file's fp16 weights lose nothing
    onnx_path, diff = write_onnx(path)
    assert onnx_path == path / ONNX_FILE and diff < 1e-4
    t = Translator.load(path, engine="fp32")
    x = t.prepare(sketch(), fit=True).expand(3, -1, -1, -1)  # a batch of 3: the batch axis is dynamic
    z = torch.stack([z_for_seed(s, 8) for s in range(3)])
    y = run_onnx(onnx_path, x.numpy(), z.numpy())
    ref = t.forward(x, z).numpy()
    assert y.shape == ref.shape == (3, 3, 64, 64)
    assert np.abs(y - ref).max() < 1e-4, float(np.abs(y - ref).max())
    check_onnx(onnx_path, t.cfg, weights_sha256(path))  # passes


def _release(path):
    from i2i.checkpoint import load_into, load_release
    from i2i.models import build_inference_modules
    cfg, weights = load_release(path)
    modules = build_inference_modules(cfg)
    load_into(modules, weights, str(path))
    return cfg, modules


def test_corrupt_and_mismatched_files_are_refused(tmp_path):
    a, b = make_release(tmp_path / "a"), make_release(tmp_path / "b", sketch_norm=True)
    onnx_a, _ = write_onnx(a)
    cfg_a, cfg_b = _release(a)[0], _release(b)[0]
    with pytest.raises(OnnxFileError, match="made for another model .*sketch_norm.*export RELEASE --onnx"):
        check_onnx(onnx_a, cfg_b)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(onnx_a.read_bytes()[:5000])  # a download cut short
    with pytest.raises(OnnxFileError, match="not a readable ONNX model"):
        check_onnx(bad, cfg_a)
    with pytest.raises(OnnxFileError, match="does not exist"):
        check_onnx(tmp_path / "none.onnx", cfg_a)
    # the same config, other weights (the release was retrained): refused by the weights' sha256
    cfg, modules = _release(a)
    torch.nn.init.normal_(next(modules["G"].parameters()), 0, 1)
    save_release(a, cfg, modules)
    with pytest.raises(OnnxFileError, match="other weights"):
        check_onnx(onnx_a, cfg_a, weights_sha256(a))
    # ensure_onnx writes a stale or corrupt file again instead of serving it
    stale = onnx_a.read_bytes()
    assert ensure_onnx(a) == onnx_a and onnx_a.read_bytes() != stale
    check_onnx(onnx_a, cfg_a, weights_sha256(a))
    onnx_a.write_bytes(b"not onnx")
    ensure_onnx(a)
    check_onnx(onnx_a, cfg_a, weights_sha256(a))


def test_page_copy_is_int8_half_the_size_and_draws_within_tolerance(tmp_path):
    """The shipped model's int8 copy (what the page runs), against fp32 on real drawings it was not
    calibrated on: human sketches and the README's doodles, z from the seeds and a slider at +-3."""
    for f in ("config.json", "model.safetensors"):
        shutil.copy(ROOT / "checkpoints" / "edges2shoes" / f, tmp_path / f)
    page, fp32 = ensure_onnx(tmp_path, page=True), ensure_onnx(tmp_path)
    assert page == tmp_path / PAGE_FILE and page.stat().st_size < 0.6 * fp32.stat().st_size
    import onnx
    ops = {n.op_type for n in onnx.load(str(page)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    t = Translator.load(tmp_path, engine="fp32")
    check_onnx(page, t.cfg, weights_sha256(tmp_path))
    pairs = [Image.open(f) for f in sorted(data_dir("human_sketch_shoes", "val").glob("*"))[:6]]
    drawings = [ab.crop((0, 0, ab.width // 2, ab.height)) for ab in pairs] + \
        [Image.open(f) for f in sorted((ROOT / "docs" / "doodles").glob("*.png"))]
    x = torch.cat([t.prepare(d, fit=True) for d in drawings]).numpy()
    z = torch.stack([z_for_seed(s, 8) for s in range(len(drawings))])
    z[::2, 3] = 3.0
    z[1::2, 6] = -3.0
    diff = np.abs(run_onnx(page, x, z.numpy()) - run_onnx(fp32, x, z.numpy())).mean(axis=(1, 2, 3)) / 2
    assert diff.max() <= 0.01, diff
    assert diff.min() > 0, "not quantized at all"
    # kept while it matches the release; a corrupt one is written again
    stamp = page.stat().st_mtime_ns
    assert ensure_onnx(tmp_path, page=True) == page and page.stat().st_mtime_ns == stamp
    page.write_bytes(b"not onnx")
    ensure_onnx(tmp_path, page=True)
    check_onnx(page, t.cfg, weights_sha256(tmp_path))


def test_page_copy_is_refused_where_int8_would_not_do(tmp_path, monkeypatch):
    with pytest.raises(OnnxFileError, match="calibrated on line drawings"):
        write_page_onnx(make_release(tmp_path / "rgb", where_add="all"))  # no sketch_norm
    monkeypatch.setattr(onnx_file, "PAGE_TOLERANCE", 1e-6)
    with pytest.raises(OnnxFileError, match="int8 generator differs from fp32"):
        write_page_onnx(make_release(tmp_path / "sk", where_add="all", sketch_norm=True))
    assert not (tmp_path / "sk" / PAGE_FILE).exists()


def test_cycleGAN_is_refused_with_a_reason(tmp_path):
    cyc = make_release(tmp_path / "cyc", model="cyclegan", ngf=8, ndf=8, n_blocks=2)
    with pytest.raises(OnnxFileError, match="only the U-Net generators"):
        write_onnx(cyc)


def test_cli_export_onnx(tmp_path):
    path = make_release(tmp_path / "rel")
    out = cli("export", path, "--onnx").stdout
    assert f"{ONNX_FILE}" in out and "max abs difference" in out and (path / ONNX_FILE).is_file()
    assert PAGE_FILE not in out  # not a line-drawing model
    sk = make_release(tmp_path / "sk", where_add="all", sketch_norm=True)
    out = cli("export", sk, "--onnx").stdout
    assert f"{PAGE_FILE}" in out and "mean abs difference" in out and (sk / PAGE_FILE).is_file()
    out = cli("export", path, tmp_path / "slim", "--half", "--onnx").stdout  # a slim release and its ONNX file
    assert (tmp_path / "slim" / ONNX_FILE).is_file()
    res = cli("export", path, check=False)
    assert res.returncode == 2 and "needs an output folder" in res.stderr
