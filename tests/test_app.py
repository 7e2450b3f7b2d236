"""The app, launched as a real server: its API through gradio_client, and a real headless
Chromium drawing on the canvas, generating, dragging a slider and training."""
from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, data_dir

sys.path.insert(0, str(ROOT / "benchmarks"))
from browser import CHROMIUM, CHROMIUM_ARGS, SHOE, draw, generate_and_pick, open_and_draw, open_app  # noqa: E402
from load import load, running_app  # noqa: E402

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    runs, cache = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("gradio-cache")
    stale = cache / "i2i-outputs" / "stale.png"  # an output last used two hours ago: pruned
    stale.parent.mkdir()
    stale.write_bytes(b"an old output")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    log = open(tmp_path_factory.mktemp("log") / "app.log", "w+")
    try:
        with running_app({"I2I_RUNS_DIR": str(runs), "I2I_TRAINING": "1", "GRADIO_TEMP_DIR": str(cache)},
                         log=log) as url:
            yield {"url": url, "runs": runs, "cache": cache, "client": Client(url, verbose=False)}
    except RuntimeError as e:
        log.seek(0)
        pytest.fail(f"{e}:\n{log.read()[-3000:]}")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    pair = Image.open(data_dir("edges2shoes", "val") / "5_AB.jpg")
    pair.crop((0, 0, 256, 256)).save(d / "sketch.png")
    pair.crop((256, 0, 512, 256)).save(d / "photo.png")
    Image.new("RGB", (300, 300), "white").save(d / "blank.png")
    (d / "notes.png").write_bytes(b"this is not an image at all")
    Image.new("L", (10_000, 10_000)).save(d / "huge.png", optimize=True)
    rgba = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    rgba.paste(Image.open(d / "sketch.png").convert("RGBA"), (0, 0), Image.open(d / "sketch.png").convert("L").point(lambda v: 255 - v))
    rgba.save(d / "rgba.png")
    sketch = Image.open(d / "sketch.png").convert("L")
    sketch.convert("CMYK").save(d / "cmyk.jpg")
    sketch.convert("P").save(d / "palette.png")
    sketch.save(d / "grey.png")
    Image.fromarray(np.asarray(sketch, dtype=np.uint16) * 257).save(d / "sixteen.png")  # mode I;16
    sketch.convert("RGB").save(d / "animated.gif", save_all=True, append_images=[Image.new("RGB", (256, 256), "black")])
    with open(d / "bomb.png", "wb") as f:  # a 40,000 x 40,000 PNG header on a few bytes of data
        f.write(_png_header(40_000, 40_000) + (d / "sketch.png").read_bytes()[33:])
    return d


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def read(path) -> bytes:
    return Path(path).read_bytes()


def test_api_generate_is_seeded_and_diverse(app, files):
    c = app["client"]
    grid = c.predict(handle_file(files / "sketch.png"), 0, 4, "edges2shoes", api_name="/generate")
    images = [read(g["image"]) for g in grid]
    assert len(images) == 4 and len(set(images)) == 4
    again = c.predict(handle_file(files / "sketch.png"), 2, 1, "edges2shoes", api_name="/generate")
    # the same image, alone or in a batch, to one grey level (README: CPU kernels may round a
    # pixel differently at another batch size, as fp32 and ONNX Runtime do here now and then)
    alone, batched = (np.asarray(Image.open(io.BytesIO(b)), dtype=int) for b in (read(again[0]["image"]), images[2]))
    assert np.abs(alone - batched).max() <= 1, "the same seed must give the same image"
    assert Image.open(io.BytesIO(images[0])).format == "PNG"


def test_api_latent_and_encode(app, files):
    c = app["client"]
    z = c.predict(handle_file(files / "photo.png"), "edges2shoes", api_name="/encode")
    assert len(z) == 8 and all(isinstance(v, float) for v in z)
    a = c.predict(handle_file(files / "sketch.png"), [0.0] * 8, "edges2shoes", api_name="/generate_latent")
    b = c.predict(handle_file(files / "sketch.png"), [0.0] * 7 + [2.5], "edges2shoes", api_name="/generate_latent")
    diff = np.abs(np.asarray(Image.open(a), dtype=float) - np.asarray(Image.open(b), dtype=float)).mean()
    assert diff > 0.5, diff
    edges = Image.open(c.predict(handle_file(files / "photo.png"), api_name="/edges"))
    assert edges.size == (256, 256)


def test_api_calls_leave_no_files_behind(app, files):
    """Uploads and outputs go to folders (one per content, reused); nothing else may pile up in
    Gradio's cache per call (a type="filepath" gr.File input left an empty temp file each time),
    and outputs unused for an hour are deleted."""
    c, cache = app["client"], app["cache"]
    c.predict(handle_file(files / "sketch.png"), [0.0] * 8, "edges2shoes", api_name="/generate_latent")
    c.predict(handle_file(files / "photo.png"), "edges2shoes", api_name="/encode")  # its upload folder
    before = set(cache.iterdir())
    for i in range(3):
        c.predict(handle_file(files / "sketch.png"), [0.1 * i] * 8, "edges2shoes", api_name="/generate_latent")
        c.predict(handle_file(files / "photo.png"), "edges2shoes", api_name="/encode")
    assert sorted(p.name for p in set(cache.iterdir()) - before) == []
    # outputs are served from a folder Gradio's delete_cache never cleans: the app prunes it
    outputs = cache / "i2i-outputs"
    for _ in range(50):
        if not (outputs / "stale.png").exists():
            break
        time.sleep(0.1)
    assert not (outputs / "stale.png").exists() and any(outputs.glob("*.png"))


@pytest.mark.parametrize("case", ["blank", "notes", "huge", "bomb", "z_short", "z_nan", "z_inf", "z_huge", "z_text",
                                  "model", "n", "photo_notes", "photo_bomb", "seed_text", "no_file"])
def test_bad_input_is_a_clear_error_and_the_next_call_works(app, files, case):
    c = app["client"]
    calls = {
        "blank": lambda: c.predict(handle_file(files / "blank.png"), 0, 2, "edges2shoes", api_name="/generate"),
        "notes": lambda: c.predict(handle_file(files / "notes.png"), 0, 2, "edges2shoes", api_name="/generate"),
        "huge": lambda: c.predict(handle_file(files / "huge.png"), 0, 2, "edges2shoes", api_name="/generate"),
        "bomb": lambda: c.predict(handle_file(files / "bomb.png"), [0.0] * 8, "edges2shoes", api_name="/generate_latent"),
        "photo_notes": lambda: c.predict(handle_file(files / "notes.png"), "edges2shoes", api_name="/encode"),
        "photo_bomb": lambda: c.predict(handle_file(files / "bomb.png"), api_name="/edges"),
        "z_inf": lambda: c.predict(handle_file(files / "sketch.png"), "inf, -inf, " * 4, "edges2shoes", api_name="/generate_latent"),
        "z_text": lambda: c.predict(handle_file(files / "sketch.png"), "red shoe", "edges2shoes", api_name="/generate_latent"),
        "z_short": lambda: c.predict(handle_file(files / "sketch.png"), [0.0, 1.0], "edges2shoes", api_name="/generate_latent"),
        "z_nan": lambda: c.predict(handle_file(files / "sketch.png"), "nan," * 8, "edges2shoes", api_name="/generate_latent"),
        "z_huge": lambda: c.predict(handle_file(files / "sketch.png"), [1e9] * 8, "edges2shoes", api_name="/generate_latent"),
        "model": lambda: c.predict(handle_file(files / "sketch.png"), 0, 2, "no-such-model", api_name="/generate"),
        "n": lambda: c.predict(handle_file(files / "sketch.png"), 0, 1000, "edges2shoes", api_name="/generate"),
        "seed_text": lambda: c.predict(handle_file(files / "sketch.png"), "one", 2, "edges2shoes", api_name="/generate"),
        "no_file": lambda: c.predict(None, "edges2shoes", api_name="/encode"),
    }
    with pytest.raises(Exception) as err:
        calls[case]()
    message = str(err.value)
    expected = {"blank": "empty", "notes": "image", "huge": "too large|limit", "bomb": "limit", "z_short": "8 values",
                "z_nan": "NaN", "z_inf": "NaN|inf|finite|within", "z_huge": "within", "z_text": "numbers",
                "model": "unknown model", "n": "between 1 and 32", "photo_notes": "image", "photo_bomb": "limit",
                "seed_text": "whole numbers", "no_file": "give a photo"}[case]
    assert any(w.lower() in message.lower() for w in expected.split("|")), message
    ok = c.predict(handle_file(files / "sketch.png"), 0, 1, "edges2shoes", api_name="/generate")
    assert len(ok) == 1


def test_other_image_modes_give_the_same_shoe(app, files):
    """The same sketch as RGBA, CMYK, P, L, 16-bit and the first frame of a GIF gives (nearly) the
    image the RGB file gives: the modes are converted, not misread."""
    c = app["client"]

    def shoe(name):
        out = c.predict(handle_file(files / name), [0.5] * 8, "edges2shoes", api_name="/generate_latent")
        return np.asarray(Image.open(out).convert("RGB"), dtype=float)

    reference = shoe("sketch.png")
    for name in ("rgba.png", "cmyk.jpg", "palette.png", "grey.png", "sixteen.png", "animated.gif"):
        diff = np.abs(shoe(name) - reference).mean()
        assert diff < 12, (name, diff)  # JPEG (CMYK) and palette rounding move a few edge pixels


def tiny_cyclegan(runs: Path) -> str:
    from i2i.checkpoint import save_release
    from i2i.models import model_config
    from i2i.models import build_inference_modules

    if not (runs / "tiny-cyclegan" / "model.safetensors").is_file():
        cfg = model_config("cyclegan", size=64, ngf=8, ndf=8, n_blocks=2)
        save_release(runs / "tiny-cyclegan", cfg, build_inference_modules(cfg))
    return "runs/tiny-cyclegan"


def test_api_translate_with_a_cyclegan_model(app, files):
    """A CycleGAN release dropped into runs/ is offered at once and translates, keeping the aspect ratio."""
    tiny_cyclegan(app["runs"])
    c = app["client"]
    Image.new("RGB", (300, 150), (40, 120, 40)).save(files / "wide.png")
    out = Image.open(c.predict(handle_file(files / "wide.png"), "runs/tiny-cyclegan", api_name="/translate"))
    assert out.size == (128, 64)
    with pytest.raises(Exception, match="latent code"):
        c.predict(handle_file(files / "photo.png"), "edges2shoes", api_name="/translate")
    with pytest.raises(Exception, match="no latent code"):
        c.predict(handle_file(files / "sketch.png"), 0, 1, "runs/tiny-cyclegan", api_name="/generate")


def test_broken_checkpoints_in_the_app_are_clear_errors(app, files):
    """A truncated weights file, a config that does not match the weights and a pickle posing as
    weights (or beside them): each a clear error, never unpickled, and the next request works."""
    src = ROOT / "checkpoints" / "edges2shoes"
    marker = app["runs"] / "pwned"
    evil = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."  # pickle protocol 0: os.system(...)
    cases = {
        "truncated": ((src / "config.json").read_bytes(), (src / "model.safetensors").read_bytes()[:100_000], "truncated"),
        "mismatch": ((src / "config.json").read_text().replace('"ngf": 32', '"ngf": 64').encode(),
                     (src / "model.safetensors").read_bytes(), "do not match"),
        "pickled": ((src / "config.json").read_bytes(), evil, "safetensors"),
    }
    c = app["client"]
    for name, (config, weights, expected) in cases.items():
        folder = app["runs"] / name
        folder.mkdir()
        (folder / "config.json").write_bytes(config)
        (folder / "model.safetensors").write_bytes(weights)
        with pytest.raises(Exception, match=expected):
            c.predict(handle_file(files / "sketch.png"), 0, 1, f"runs/{name}", api_name="/generate")
        assert len(c.predict(handle_file(files / "sketch.png"), 0, 1, "edges2shoes", api_name="/generate")) == 1
    only_pickle = app["runs"] / "only-pickle"  # no safetensors at all: not a model the app offers
    only_pickle.mkdir()
    (only_pickle / "config.json").write_bytes((src / "config.json").read_bytes())
    (only_pickle / "pytorch_model.bin").write_bytes(evil)
    with pytest.raises(Exception, match="unknown model"):
        c.predict(handle_file(files / "sketch.png"), 0, 1, "runs/only-pickle", api_name="/generate")
    assert not marker.exists()


def test_view_from_the_page_is_checked():
    """The canvas the page sends (a PNG data URL) is read, or refused with a message."""
    import base64

    import gradio as gr

    from i2i.images import ImageError
    from ui.inputs import view_array

    png = io.BytesIO()
    Image.new("RGB", (60, 40), "white").save(png, format="PNG")
    arr = view_array("data:image/png;base64," + base64.b64encode(png.getvalue()).decode())
    assert arr.shape == (40, 60) and arr.dtype == np.uint8 and (arr == 255).all()
    for bad, expected in [(None, "no drawing"), ("data:image/jpeg;base64,AAAA", "no drawing"),
                          ("data:image/png;base64,@@@", "base64"),
                          ("data:image/png;base64," + base64.b64encode(b"not a png").decode(), "not an image"),
                          ("data:image/png;base64," + "A" * 9_000_000, "too large")]:
        with pytest.raises((gr.Error, ImageError), match=expected):  # the page shows both as a message
            view_array(bad)


def test_browser_draw_generate_drag(app):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the README's test command does)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = open_and_draw(browser, app["url"] + "?engine=server")  # the server path (the page's: below)
        generate_and_pick(page)
        assert not page.locator("#view_redraw").is_visible()  # the app's own button, pressed by its script
        requests = []  # (time, url) of every request from here on
        page.on("request", lambda r: requests.append((time.monotonic(), r.url)))
        # the page goes quiet: the canvas is not exported and uploaded again and again while
        # nothing happens (it was, several times a second, after any event had run)
        page.wait_for_timeout(2000)
        requests.clear()
        page.wait_for_timeout(3000)
        assert not [url for _, url in requests if "/upload" in url]
        before = page.locator("#latent_out img").get_attribute("src")
        slider = page.locator("#z0 input[type=range]").bounding_box()
        page.mouse.move(slider["x"] + slider["width"] * 0.5, slider["y"] + slider["height"] / 2)
        page.mouse.down()
        page.mouse.move(slider["x"] + slider["width"] * 0.95, slider["y"] + slider["height"] / 2, steps=10)
        page.mouse.up()
        page.wait_for_function("(b) => document.querySelector('#latent_out img')?.src !== b", arg=before,
                               timeout=60_000)
        # slider events read the drawing kept on the server: dragging sends no canvas at all
        urls = [url for _, url in requests]
        assert any("/queue/join" in url for url in urls)
        assert not [url for url in urls if "/upload" in url]
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "browser.png"), full_page=True)
        # a stroke after that sends the canvas as seen (a PNG inside the redraw's request: no
        # upload of the editor's layers) and redraws the output, in one POST outside the queue
        requests.clear()
        before = page.locator("#latent_out img").get_attribute("src")
        canvas = max(page.locator("#sketch canvas").all(), key=lambda c: c.bounding_box()["width"])
        draw(page, canvas.bounding_box(), [(0.3, 0.6), (0.5, 0.6)])
        page.wait_for_function("(b) => document.querySelector('#latent_out img')?.src !== b", arg=before,
                               timeout=60_000)
        urls = [url for _, url in requests]
        assert len([url for url in urls if "/run/predict" in url]) == 1, urls
        assert not [url for url in urls if "/upload" in url or "/queue/join" in url], urls
        # unticking "centre and scale" redraws (the same request: the paper as it is)
        requests.clear()
        page.locator("#fit input[type=checkbox]").uncheck()
        page.wait_for_function("() => !window.i2i.busy", timeout=60_000)
        for _ in range(60):
            if [url for _, url in requests if "/run/predict" in url]:
                break
            page.wait_for_timeout(500)
        else:
            pytest.fail(f"unticking the centring sent no redraw: {[url for _, url in requests]}")
        assert not [url for _, url in requests if "/upload" in url]
        browser.close()


SHOWN = "() => { const i = document.querySelector('#latent_out img'); return i && i.complete && i.naturalWidth ? i.src : null; }"
PAGE_FRAME = "() => Number(document.querySelector('#page_out')?.dataset.frame || 0)"
STATUS = "() => document.querySelector('#engine_status')?.textContent || ''"


def _app_requests(page, url):
    """Every request the page sends to the app from now on (the list grows)."""
    seen = []
    page.on("request", lambda r: seen.append(r.url) if r.url.startswith(url) else None)
    return seen


def test_browser_output_follows_the_pen_on_the_server(app):
    """No Generate, no click: the end of each stroke redraws the output for the current z; an
    idle page sends nothing."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = open_and_draw(browser, app["url"] + "?engine=server")
        page.wait_for_function(SHOWN, timeout=60_000)
        assert "Drawing on the server" in page.evaluate(STATUS)
        first = page.evaluate(SHOWN)
        canvas = max(page.locator("#sketch canvas").all(), key=lambda c: c.bounding_box()["width"])
        for k in range(3):  # strokes faster than the redraws: the last drawing is the one shown
            draw(page, canvas.bounding_box(), [(0.2, 0.45 + 0.05 * k), (0.45, 0.45 + 0.05 * k)])
        page.wait_for_function(f"(a) => ({SHOWN})() !== a", arg=first, timeout=60_000)
        page.wait_for_function("() => !window.i2i.busy", timeout=60_000)
        page.wait_for_timeout(1000)
        requests = _app_requests(page, app["url"])
        page.wait_for_timeout(3000)
        assert requests == [], requests
        # undo, the eraser and clear redraw too; a cleared paper clears the output
        ink = "() => { const d = window.i2iPad.pixels().data; let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] < 128; return n; }"
        for act in ("undo", "eraser", "clear"):
            page.wait_for_function(SHOWN, timeout=60_000)  # the last redraw's image loaded (it may still be loading)
            shown, inked = page.evaluate(SHOWN), page.evaluate(ink)
            if act == "eraser":
                page.click("#sketch [data-tool=eraser]")
                draw(page, canvas.bounding_box(), [(0.05, 0.72), (0.95, 0.72)])  # across the sole
            else:
                page.click(f"#sketch [data-act={act}]")
            assert page.evaluate(ink) < inked, act
            page.wait_for_function(f"(a) => ({SHOWN})() !== a", arg=shown, timeout=60_000)
            page.wait_for_function("() => !window.i2i.busy", timeout=60_000)
        assert page.evaluate(ink) == 0 and page.evaluate(SHOWN) is None
        page.click("#sketch [data-tool=pen]")
        draw(page, canvas.bounding_box(), SHOE[0])
        page.wait_for_function(SHOWN, timeout=60_000)
        _check_layout(page)
        browser.close()


def _check_layout(page) -> None:
    """The live output is the largest image, beside the canvas on a wide screen and under it on a
    phone, at least as large as the canvas; nothing is wider than the screen. Screenshots of both."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1400, 390):
        page.set_viewport_size({"width": width, "height": 1600})
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / f"draw_{width}.png"), full_page=True)
        out, pad = page.locator("#latent_out img").bounding_box(), page.locator("#sketch").bounding_box()
        # the canvas block holds the paper and its toolbars: the output is at least the paper's size
        assert min(out["width"], out["height"]) >= 0.9 * min(pad["width"], pad["height"]), (out, pad)
        if width == 1400:
            assert out["x"] > pad["x"] + pad["width"] - 1 and abs(out["y"] - pad["y"]) < 60, (out, pad)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1
        label = page.locator("#sketch label, #sketch [data-testid=block-label]").first
        assert "Draw" in label.inner_text()


def _pixels(page, selector: str) -> np.ndarray:
    """An <img> or <canvas> on the page as an RGB array at its own resolution."""
    data = page.evaluate("""(sel) => { const e = document.querySelector(sel);
        const w = e.naturalWidth || e.width, h = e.naturalHeight || e.height;
        const c = document.createElement('canvas'); c.width = w; c.height = h;
        const g = c.getContext('2d'); g.drawImage(e, 0, 0);
        return [w, h, Array.from(g.getImageData(0, 0, w, h).data)]; }""", selector)
    w, h, rgba = data
    return np.asarray(rgba, dtype=np.uint8).reshape(h, w, 4)[..., :3]


def test_browser_engine_draws_in_the_page(app):
    """With the in-browser engine (?engine=browser: the speed rule skipped, this host is slow),
    strokes and 30 slider steps send nothing to the server, and the page draws what the server
    draws for the same drawing and z."""
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = open_app(browser, app["url"] + "?engine=browser")
        page.wait_for_function(f"() => ({STATUS})().includes('in your browser')", timeout=120_000)
        # the app's headers make the page cross-origin isolated: the model may use WebAssembly threads
        assert page.evaluate("() => self.crossOriginIsolated")
        requests = _app_requests(page, app["url"])
        canvas = max(page.locator("#sketch canvas").all(), key=lambda c: c.bounding_box()["width"])
        for stroke in SHOE:
            draw(page, canvas.bounding_box(), stroke)
        page.wait_for_function(f"() => ({PAGE_FRAME})() >= 1", timeout=60_000)
        page.wait_for_timeout(500)
        frames = page.evaluate(PAGE_FRAME)
        slider = page.locator("#z0 input[type=range]")
        for k in range(30):
            slider.evaluate("(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input', {bubbles: true})); }",
                            -1.5 + 0.1 * k)
            page.wait_for_timeout(30)
        page.wait_for_function(f"(f) => ({PAGE_FRAME})() > f", arg=frames, timeout=60_000)
        page.wait_for_timeout(1000)
        assert requests == [], requests  # strokes and slider steps: nothing reached the server
        # the last frame is a drawing's image, not the empty canvas's
        assert page.evaluate("() => document.querySelector('#page_out').style.visibility") == "visible"
        page.screenshot(path=str(ARTIFACTS / "browser_engine.png"), full_page=True)
        here = _pixels(page, "#page_out")
        # the same drawing and z on the server: the page's server path, from here
        page.evaluate("() => { window.i2i.engine = null; window.i2i.serverRedraw(); }")
        page.wait_for_function(SHOWN, timeout=60_000)
        page.wait_for_function("() => !window.i2i.busy", timeout=60_000)
        there = _pixels(page, "#latent_out img")
        assert here.shape == there.shape
        diff = np.abs(here.astype(float) - there).mean() / 255
        assert diff <= 0.01, diff
        assert there.std() > 10  # not a blank image on both sides
        browser.close()


def test_browser_engine_falls_back_to_the_server(app):
    """A browser without WebAssembly draws on the server with no error shown; an engine that
    fails mid-session hands over to the server and says so."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.add_init_script("delete window.WebAssembly")
        page.goto(app["url"], wait_until="load")
        page.wait_for_function(f"() => ({STATUS})().includes('no WebAssembly')", timeout=60_000)
        page.close()
        page = open_and_draw(browser, app["url"] + "?engine=browser")
        page.wait_for_function(f"() => ({STATUS})().includes('in your browser')", timeout=120_000)
        page.wait_for_function("() => !window.i2i.busy", timeout=60_000)
        before = page.evaluate(SHOWN)
        page.evaluate("() => { window.i2i.engine.render = () => Promise.reject(new Error('lost the GPU')); }")
        canvas = max(page.locator("#sketch canvas").all(), key=lambda c: c.bounding_box()["width"])
        draw(page, canvas.bounding_box(), [(0.3, 0.6), (0.5, 0.6)])
        page.wait_for_function(f"(b) => ({SHOWN})() && ({SHOWN})() !== b", arg=before, timeout=60_000)  # the server's
        assert "engine stopped: lost the GPU" in page.evaluate(STATUS)
        assert page.locator(".toast-body").count() == 0, page.locator(".toast-body").all_inner_texts()
        browser.close()


def test_browser_edge_map_upload_then_generate(app, files):
    """An uploaded edge map fills the canvas and is what Generate draws from (it used to reach the
    server as an empty canvas) and what the sliders then use."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = open_app(browser, app["url"])
        page.get_by_text("Start from an image").click()
        page.locator("#edge_upload input[type=file]").set_input_files(str(files / "sketch.png"))
        page.wait_for_timeout(3000)
        generate_and_pick(page)
        assert page.locator(".toast-body").count() == 0, page.locator(".toast-body").all_inner_texts()
        browser.close()


def test_browser_cyclegan_model_shows_image_to_image(app, files):
    """Picking a model without z swaps the canvas and sliders for an image-in, image-out panel."""
    sync_api = pytest.importorskip("playwright.sync_api")
    name = tiny_cyclegan(app["runs"])
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = open_app(browser, app["url"], height=1400)
        page.click("#refresh")
        page.locator("#model input").click()
        page.get_by_role("option", name=name).click()
        page.wait_for_selector("#translate", state="visible", timeout=30_000)
        assert not page.locator("#sketch").is_visible() and not page.locator("#z0").is_visible()
        page.locator("#translate_in input[type=file]").set_input_files(str(files / "photo.png"))
        page.wait_for_timeout(1000)
        page.click("#translate")
        page.wait_for_selector("#translate_out img", timeout=60_000)
        browser.close()


def test_browser_training_tab_streams_and_the_run_becomes_a_model(app):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = open_app(browser, app["url"])
        page.get_by_role("tab", name="Train").click()
        page.locator("#train_data input").fill("edges2shoes")
        page.locator("#train_data input").press("Enter")
        page.locator("#train_iters input").fill("12")
        page.locator("#train_name textarea, #train_name input").first.fill("ui-test")
        page.click("#train_start")
        status = "document.querySelector('#train_status textarea')?.value || ''"
        page.wait_for_function(f"() => ({status}).match(/finished|failed/)", timeout=240_000)
        assert "failed" not in page.locator("#train_status textarea").input_value()
        assert int(page.locator("#samples_seen input").input_value()) >= 2  # grids streamed while it ran
        calls = []  # the tab stops polling once the run has ended
        page.wait_for_timeout(2000)
        page.on("request", lambda r: calls.append(r.url) if "/queue/join" in r.url else None)
        page.wait_for_timeout(3000)
        assert not calls
        page.screenshot(path=str(ARTIFACTS / "training.png"), full_page=True)
        assert (app["runs"] / "ui-test" / "model.safetensors").is_file()
        page.get_by_role("tab", name="Draw").click()
        page.click("#refresh")
        page.locator("#model input").click()
        page.get_by_role("option", name="runs/ui-test").wait_for(timeout=30_000)
        browser.close()


def test_reduced_load_has_no_errors(app):
    """The full load (50 clients) is `python benchmarks/load.py`; here a reduced one on the same app."""
    result = load(app["url"], clients=6, requests=4, time_limit=240, n=4)
    assert result["errors"] == 0, result["first_errors"]
    assert result["requests"] == 24
