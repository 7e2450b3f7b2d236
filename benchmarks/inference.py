"""Inference speed: an N-image seed grid and one slider step, inside the wrapper and end to end
through the running app (REST as a browser tab calls it, and gradio_client), side by side in one
run; with --browser also a slider step in a real headless Chromium (input event to new image on
screen). Prints p50/p95 in ms.

    python benchmarks/inference.py [--checkpoint checkpoints/edges2shoes] [--calls 30] [--no-app] [--browser]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from i2i import Translator  # noqa: E402


def stats(times: list[float]) -> str:
    t = np.asarray(times) * 1000
    return f"p50 {np.percentile(t, 50):7.1f} ms   p95 {np.percentile(t, 95):7.1f} ms"


def timed(fn, calls: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def sketch_file() -> Path:
    val = ROOT.parent / "shared" / "data" / "edges2shoes" / "val" / "1_AB.jpg"
    path = Path(tempfile.mkdtemp()) / "sketch.png"
    if val.is_file():
        Image.open(val).crop((0, 0, 256, 256)).save(path)
    else:  # a drawn outline, so the benchmark runs without the shared data too
        img = np.full((256, 256), 255, np.uint8)
        img[150:154, 30:220] = 0
        img[80:150, 200:204] = 0
        Image.fromarray(img).save(path)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "edges2shoes"))
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--no-app", action="store_true", help="skip the end-to-end measurement")
    p.add_argument("--browser", action="store_true",
                   help="also time slider steps in headless Chromium (/usr/bin/chromium, Playwright)")
    args = p.parse_args()
    sketch = sketch_file()
    picked = Translator.load(args.checkpoint)
    print(f"{args.checkpoint}: {picked.cfg.model} at {picked.size} px on {picked.device}, "
          f"{torch.get_num_threads()} threads; wrapper picked {picked.engine.name} ({picked.engine.reason})")
    paths = {"eager fp32": Translator.load(args.checkpoint, engine="fp32"), f"picked ({picked.engine.name})": picked}
    z = [0.1] * picked.nz
    # fit + clean: what the app's endpoints do with a drawing (centre/scale, white paper around it)
    for name, t in paths.items():
        print(f"wrapper  {name:14s} grid of {args.n}: "
              f"{stats(timed(lambda: t.generate(sketch, seeds=range(args.n), fit=True, clean=True), args.calls))}")
        print(f"wrapper  {name:14s} slider step: "
              f"{stats(timed(lambda: t.generate(sketch, z=z, fit=True, clean=True), args.calls))}")
    if args.no_app:
        return
    from gradio_client import Client, handle_file

    from load import HttpClient, running_app

    name = Path(args.checkpoint).name  # a shipped checkpoint: the app lists it under its folder name
    with running_app({"I2I_DEFAULT_MODEL": name}) as url:
        # as a browser tab: the sketch is uploaded once (it does not change while a slider moves)
        h = HttpClient(url)
        f = h.upload(str(sketch))

        def grid():
            return [h.download(item["image"]) for item in h.call("generate", f, 0, args.n, name)[0]]

        print(f"app http grid of {args.n}: {stats(timed(grid, args.calls))}")
        print(f"app http slider step: {stats(timed(lambda: h.download(h.call('generate_latent', f, z, name)[0]), args.calls))}")
        # gradio_client uploads the file on every call, polls its message queue every 50 ms, and
        # makes a new HTTP client for the upload, the call and each output it downloads; each
        # loads the CA bundle for TLS (~75 ms on a slow CPU) even for a plain-http app like this
        # one, unless ssl_verify=False (which changes nothing else over plain http)
        f = handle_file(str(sketch))
        for label, c in (("gradio_client", Client(url, verbose=False)),
                         ("gradio_client, ssl_verify=False", Client(url, verbose=False, ssl_verify=False))):
            print(f"{label} grid of {args.n}: "
                  f"{stats(timed(lambda: c.predict(f, 0, args.n, name, api_name='/generate'), args.calls))}")
            print(f"{label} slider step: "
                  f"{stats(timed(lambda: c.predict(f, z, name, api_name='/generate_latent'), args.calls))}")
        if args.browser:
            print(f"browser slider step: {stats(browser_slider_steps(url, args.calls))}")


def browser_slider_steps(url: str, calls: int) -> list[float]:
    """Seconds from a slider's input event to the new image loaded on the page, in Chromium."""
    from playwright.sync_api import sync_playwright

    from browser import CHROMIUM, CHROMIUM_ARGS, SLIDER_STEPS_JS, generate_and_pick, open_and_draw

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = open_and_draw(browser, url + "?engine=server")  # the server's slider step (the page's: browser.py)
        generate_and_pick(page)
        page.wait_for_timeout(1000)  # let the drawing reach the server (PAGE_JS in app.py)
        ms = page.evaluate(SLIDER_STEPS_JS, calls + 1)[1:]  # the first is a warm-up
        browser.close()
    return [m / 1000 for m in ms]

if __name__ == "__main__":
    main()
