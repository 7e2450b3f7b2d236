"""The page's JavaScript (static/sketch.js, static/engine.js), run by Node against the server's
Python: the same drawing gives the same input, and the in-browser engine the same image."""
import base64
import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import ROOT, data_dir
from i2i.config import to_dict
from i2i.infer import Translator
from i2i.onnx_file import ONNX_FILE, PAGE_FILE, ensure_onnx

if not (shutil.which("node") and (ROOT / "node_modules" / "onnxruntime-web").is_dir()):
    pytest.skip("needs Node.js and `npm ci` (the Makefile's install runs it)", allow_module_level=True)


def node(**request) -> dict:
    out = subprocess.run(["node", str(ROOT / "tests" / "js" / "run.js")], input=json.dumps(request),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def canvas_drawing() -> Image.Image:
    """Strokes on a transparent layer, anti-aliased, off-centre and small: what a browser's canvas may hold."""
    img = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.line([(60, 200), (120, 120), (250, 110), (330, 190), (60, 200)], fill=(20, 20, 20, 255), width=6)
    d.ellipse((150, 140, 200, 180), outline=(0, 0, 0, 200), width=4)
    return img.resize((800, 600), Image.BICUBIC)  # soft edges and partial alpha


def human_sketch() -> Image.Image:
    img = Image.open(data_dir("human_sketch_shoes", "val") / "b307_b_AB.jpg")
    return img.crop((0, 0, img.width // 2, img.height)).convert("RGBA")


def rgba_request(img: Image.Image) -> dict:
    return dict(rgba=base64.b64encode(np.asarray(img.convert("RGBA")).tobytes()).decode(), width=img.width,
                height=img.height)


def shipped_copy(tmp_path_factory, name: str) -> tuple:
    """A copy of a shipped model with its ONNX files (the tests never write into checkpoints/)."""
    path = tmp_path_factory.mktemp(name)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(ROOT / "checkpoints" / name / f, path / f)
    ensure_onnx(path)
    ensure_onnx(path, page=True)
    return path, Translator.load(path, engine="fp32")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return shipped_copy(tmp_path_factory, "edges2shoes")


@pytest.fixture(scope="module")
def lite(tmp_path_factory):
    return shipped_copy(tmp_path_factory, "edges2shoes_lite")


@pytest.mark.parametrize("drawing", [canvas_drawing, human_sketch])
def test_page_prepares_a_drawing_as_the_server_does(release, drawing):
    _, t = release
    img = drawing()
    r = node(op="prepare", size=t.size, **rgba_request(img))
    x = np.frombuffer(base64.b64decode(r["x"]), np.float32).reshape(t.size, t.size)
    ref, mask = t._prepared(img, fit=True, with_mask=True)
    assert np.abs(x - ref[0, 0].numpy()).mean() / 2 <= 0.002  # on the [0, 1] scale
    m = np.frombuffer(base64.b64decode(r["mask"]), np.float32).reshape(t.size, t.size)
    assert mask is not None and np.abs(m - mask[0, 0].numpy()).mean() <= 0.002


@pytest.mark.parametrize("model, file", [("release", PAGE_FILE), ("release", ONNX_FILE),  # int8 (the page's) and fp32
                                         ("lite", PAGE_FILE)])  # the distilled model, made for the page
def test_page_engine_draws_what_the_server_draws(model, file, request):
    path, t = request.getfixturevalue(model)
    z = [0.8, -1.2, 0.3, 0.0, 1.5, -0.4, 0.9, -2.0]
    img = canvas_drawing()
    r = node(op="draw", model=str(path / file), config=to_dict(t.cfg), z=z, budgetMs=1e9,  # equality, not speed
             **rgba_request(img))
    assert "image" in r, r
    page = np.frombuffer(base64.b64decode(r["image"]), np.uint8).reshape(t.size, t.size, 4)[..., :3]
    server = np.asarray(t.generate(img, z=z, fit=True, clean=True)[0])
    diff = np.abs(page.astype(float) - server).mean() / 255
    assert diff <= 0.01, diff
    assert np.asarray(server).std() > 10, "a flat image would match anything"
    assert r["probeMs"] > 0 and r["loadMs"] > 0


def test_page_engine_refuses_what_it_cannot_run(release, tmp_path):
    path, t = release
    req = dict(op="draw", config=to_dict(t.cfg), z=[0.0] * 8, **rgba_request(canvas_drawing()))
    assert "too slow here" in node(model=str(path / ONNX_FILE), budgetMs=0.01, **req)["refused"]
    bad = tmp_path / "bad.onnx"
    bad.write_bytes((path / ONNX_FILE).read_bytes()[:100_000])  # a download cut short
    assert "did not load" in node(model=str(bad), **req)["refused"]
