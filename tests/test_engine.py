"""Engines (i2i/engine.py): ONNX Runtime draws what PyTorch draws; the choice and its refusals."""
import sys

import numpy as np
import pytest
import torch

from i2i.checkpoint import save_release
from i2i.models import model_config
from i2i.engine import ENGINES
from i2i.infer import Translator, z_for_seed
from i2i.models import build_inference_modules
from conftest import TINY
from test_checkpoint_infer import sketch

pytest.importorskip("onnxruntime")  # a requirement; absent only where someone removed it


def make_release(path, model="bicyclegan", **kw):
    cfg = model_config(model, size=64, **kw) if model == "cyclegan" else model_config(model, size=64, input_nc=1, **TINY, **kw)
    modules = build_inference_modules(cfg)
    torch.manual_seed(0)
    for m in modules.values():  # non-trivial weights, so that a wrong graph shows
        for p in m.parameters():
            torch.nn.init.normal_(p, 0, 0.2)
    save_release(path, cfg, modules)
    return path


@pytest.mark.parametrize("where_add", ["input", "all"])
def test_onnx_engine_draws_what_pytorch_draws(tmp_path, where_add):
    path = make_release(tmp_path / "rel", where_add=where_add, sketch_norm=True)
    fp32, onnx = Translator.load(path, engine="fp32"), Translator.load(path, engine="onnx")
    assert onnx.engine.name == "onnx"
    x = fp32.prepare(sketch())
    z = torch.stack([z_for_seed(s, 8) for s in range(5)])
    for batch in (x, x.expand(5, -1, -1, -1)):  # one image, and a seed grid's expanded sketch
        a, b = fp32._forward(batch, z[:batch.shape[0]]), onnx._forward(batch, z[:batch.shape[0]])
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-4), float((a - b).abs().max())
    for kw in (dict(seeds=range(5)), dict(z=[0.5, -1, 0, 2, 0, 0, 1, -0.5])):
        for p, q in zip(fp32.generate(sketch(), fit=True, clean=True, **kw), onnx.generate(sketch(), fit=True, clean=True, **kw)):
            assert np.abs(np.asarray(p, dtype=int) - np.asarray(q, dtype=int)).max() <= 1


def test_auto_keeps_an_engine_that_matches_fp32(tmp_path):
    path = make_release(tmp_path / "rel")
    t = Translator.load(path)
    assert t.engine.name in ENGINES and t.engine.reason
    if t.engine.name != "fp32":
        assert "onnx" in t.engine.reason and "bf16" in t.engine.reason, "the reason names what was compared"
    ref = Translator.load(path, engine="fp32")
    a, b = (np.asarray(u.generate(sketch(), seeds=[3])[0], dtype=float) for u in (t, ref))
    assert np.abs(a - b).mean() < 4.0


def test_without_onnxruntime_auto_falls_back_and_onnx_is_refused(tmp_path, monkeypatch):
    path = make_release(tmp_path / "rel")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    t = Translator.load(path)
    assert t.engine.name != "onnx" and "onnxruntime is not installed" in t.engine.reason
    with pytest.raises(ValueError, match="onnx engine is unavailable: onnxruntime is not installed"):
        Translator.load(path, engine="onnx")


def test_engine_refusals(tmp_path):
    path = make_release(tmp_path / "rel")
    with pytest.raises(ValueError, match="engine must be"):
        Translator.load(path, engine="tensorrt")
    cyc = make_release(tmp_path / "cyc", model="cyclegan", ngf=8, ndf=8, n_blocks=2)
    with pytest.raises(ValueError, match="U-Net generators only"):
        Translator.load(cyc, engine="onnx")
    t = Translator.load(cyc)  # auto: compares fp32 and bf16 only; translate runs whatever it picked
    assert t.engine.name in ("fp32", "bf16") and t.translate(sketch()).size[0] > 0
