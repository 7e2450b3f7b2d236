"""The app in a real headless Chromium (Debian's, driven by Playwright): shared by the browser
tests and `benchmarks/inference.py --browser`. Never `playwright install` (it downloads).

Run as a script, it prints issue 15's figures (p50 / p95 of --steps):

    python benchmarks/browser.py [--steps 30] [--users 50] [--skip-load] [--model edges2shoes_lite]

stroke end -> new image on the server path and in the page, slider input -> new image in the
page, the requests 30 slider steps send, the first load of the in-browser engine, and a load of
--users: pages drawing in the browser (only their Generate presses reach the server) and users
of the server path over HTTP (benchmarks/load.py).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

SHOE = [  # a toe-left shoe outline, in canvas fractions: sole, heel, back, opening, toe
    [(0.10, 0.70), (0.30, 0.74), (0.60, 0.74), (0.85, 0.72), (0.88, 0.60), (0.86, 0.35), (0.75, 0.33)],
    [(0.75, 0.33), (0.60, 0.42), (0.45, 0.45), (0.30, 0.50), (0.15, 0.58), (0.10, 0.70)],
    [(0.55, 0.44), (0.62, 0.36), (0.75, 0.33)],
]

# One slider step per loop, timed inside the page: set #z0's value, fire its input event, and
# wait until #latent_out shows a new, fully loaded image. Returns milliseconds per step.
SLIDER_STEPS_JS = """async (n) => {
  const input = document.querySelector('#z0 input[type=range]');
  const shown = () => { const i = document.querySelector('#latent_out img');
                        return i && i.complete && i.naturalWidth ? i.src : null; };
  const out = [];
  for (let k = 0; k < n; k++) {
    const before = shown();
    const t0 = performance.now();
    input.value = String((k % 2 ? 0.5 : -0.5) + k * 0.01);
    input.dispatchEvent(new Event('input', {bubbles: true}));
    await new Promise(done => { const poll = () => { const s = shown();
                                                     if (s && s !== before) done(); else setTimeout(poll, 1); };
                                poll(); });
    out.push(performance.now() - t0);
    await new Promise(r => setTimeout(r, 50));  // a person's next drag event
  }
  return out;
}"""


def draw(page, box: dict, points: list, steps: int = 2) -> None:
    """One stroke with the mouse through `points` (fractions of the canvas box), `steps` pointer
    moves per segment (the pad draws straight lines between them)."""
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=steps)
    page.mouse.up()


def open_app(browser, url: str, height: int = 1600):
    """A page on the app, loaded as far as the Draw tab's canvas; returns the page."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(url, wait_until="load")
    page.wait_for_selector("#sketch canvas", timeout=60_000)
    page.wait_for_function("() => window.i2iPad && window.i2i", timeout=60_000)  # ui/pad.js and ui/page.js ran
    return page


def open_and_draw(browser, url: str):
    """A page on the app with the brush picked and SHOE drawn on the canvas; returns the page."""
    page = open_app(browser, url)
    canvas = max(page.locator("#sketch canvas").all(), key=lambda c: c.bounding_box()["width"])
    box = canvas.bounding_box()
    for stroke in SHOE:
        draw(page, box, stroke)
    return page


def generate_and_pick(page, n: int = 8) -> None:
    """Press Generate, wait for the n-image grid, click the first image (its z goes to the sliders)."""
    page.click("#generate")
    page.wait_for_function(f"() => document.querySelectorAll('#grid img').length === {n}", timeout=90_000)
    page.locator("#grid img").first.click()
    page.wait_for_selector("#latent_out img", timeout=60_000)


# when #latent_out last showed a new, fully loaded image (performance.now() in the page)
WATCH_SHOWN_JS = """() => {
  const box = document.querySelector('#latent_out');
  const mark = (i) => { window.__shown = {src: i.src, at: performance.now()}; };
  new MutationObserver(() => { const i = box.querySelector('img');
    if (!i) return;
    if (i.complete && i.naturalWidth) mark(i); else i.addEventListener('load', () => mark(i), {once: true});
  }).observe(box, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def stats(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20, method="inclusive")
    return f"p50 {statistics.median(ms):6.0f} ms, p95 {q[18]:6.0f} ms (n={len(ms)})"


def strokes(k: int) -> list:
    """k short strokes inside the shoe, each somewhere else (each changes the drawing)."""
    return [[(0.25 + 0.02 * (i % 20), 0.55 + 0.005 * i), (0.35 + 0.02 * (i % 20), 0.6)] for i in range(k)]


def server_strokes(browser, url: str, steps: int) -> tuple[list[float], dict[str, list[float]]]:
    """Stroke end (pointer up) -> the server's new image shown, in ms, and its phases: the pad's
    pointer-up work (until the page's handler runs), reading the canvas as a PNG, and the Gradio
    event (request, model, reply, image shown)."""
    page = open_and_draw(browser, url + "?engine=server")
    page.evaluate(WATCH_SHOWN_JS)
    page.wait_for_function("() => window.__shown && !window.i2i.busy", timeout=120_000)
    box = max(page.locator("#sketch canvas").all(), key=lambda c: c.bounding_box()["width"]).bounding_box()
    out, phases = [], {"pad": [], "read": [], "event": []}
    for k, stroke in enumerate(strokes(steps + 1)):
        before = page.evaluate("() => window.__shown.src")
        draw(page, box, stroke)
        page.wait_for_function("(b) => window.__shown.src !== b && !window.i2i.busy", arg=before, timeout=120_000)
        m = page.evaluate("() => ({...window.i2i.marks, shown: window.__shown.at})")
        if k:  # the first is a warm-up
            out.append(m["shown"] - m["start"])
            for name, ms in zip(phases, phases_of(m, "shown")):
                phases[name].append(ms)
        page.wait_for_timeout(200)  # a person's next stroke
    page.close()
    return out, phases


def phases_of(marks: dict[str, float], *ends: str) -> list[float]:
    """One stroke's phases in ms from the page's marks (pointer up, its handler running, the canvas
    read): the pad's pointer-up work, reading the canvas, then the steps to each mark in `ends`."""
    t = [marks[k] for k in ("start", "handled", "read", *ends)]
    return [b - a for a, b in zip(t, t[1:])]


def phase_medians(phases: dict[str, list[float]]) -> str:
    return ", ".join(f"{name} {statistics.median(ms):.0f} ms" for name, ms in phases.items())


def page_engine(browser, url: str, steps: int) -> dict:
    """The in-browser engine (?engine=browser: the speed rule skipped, to measure it anyway)."""
    page = open_app(browser, url + "?engine=browser")
    page.wait_for_function("() => { const s = document.querySelector('#engine_status')?.textContent || '';"
                           " return s.includes('in your browser') || (s.includes('(') && !s.includes('loading')); }",
                           timeout=300_000)
    status = page.evaluate("() => document.querySelector('#engine_status').textContent")
    if "in your browser" not in status:
        page.close()
        return {"status": status}
    box = max(page.locator("#sketch canvas").all(), key=lambda c: c.bounding_box()["width"]).bounding_box()
    for stroke in SHOE:
        draw(page, box, stroke)
    frames = lambda: page.evaluate("() => window.i2i.frames.length")  # noqa: E731
    page.wait_for_function("() => window.i2i.frames.length >= 1", timeout=60_000)
    stroke_ms, phases = [], {"pad": [], "read": [], "prepare": [], "model": [], "paint": []}
    for k, stroke in enumerate(strokes(steps + 1)):
        n = frames()
        draw(page, box, stroke)
        page.wait_for_function("(n) => window.i2i.frames.length > n", arg=n, timeout=60_000)
        f = page.evaluate("() => window.i2i.frames.at(-1)")
        if k:  # the first is a warm-up
            stroke_ms.append(f["end"] - f["start"])
            for name, ms in zip(phases, phases_of(f, "prepared", "ran", "end")):
                phases[name].append(ms)
        page.wait_for_timeout(200)
    requests = []
    page.on("request", lambda r: requests.append(r.url) if r.url.startswith(url) else None)
    slider = page.locator("#z0 input[type=range]")
    slider_ms, slider_phases = [], {"input": [], "read": [], "prepare": [], "model": [], "paint": []}
    for k in range(steps):
        n = frames()
        slider.evaluate("(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input', {bubbles: true})); }",
                        -1.5 + 0.1 * k)
        page.wait_for_function("(n) => window.i2i.frames.length > n", arg=n, timeout=60_000)
        f = page.evaluate("() => window.i2i.frames.at(-1)")
        slider_ms.append(f["end"] - f["start"])
        for name, ms in zip(slider_phases, phases_of(f, "prepared", "ran", "end")):
            slider_phases[name].append(ms)
        page.wait_for_timeout(50)  # a person's next drag event
    page.wait_for_timeout(500)
    load_ms = page.evaluate("() => window.i2i.loadMs")
    page.close()
    return {"status": status, "stroke": stroke_ms, "phases": phases, "slider": slider_ms,
            "slider_phases": slider_phases, "requests": requests,
            "load_ms": load_ms}


def page_users(browser, url: str, users: int) -> dict:
    """`users` pages at once drawing, dragging a slider and pressing Generate once, in the page's
    engine; returns which requests reached the server, by kind."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    seen: list[str] = []
    context.on("request", lambda r: seen.append(r.url) if r.url.startswith(url) else None)
    pages = [context.new_page() for _ in range(users)]
    for page in pages:
        page.goto(url + "?engine=browser", wait_until="load")
    for page in pages:
        page.wait_for_function("() => (document.querySelector('#engine_status')?.textContent || '')"
                               ".includes('in your browser')", timeout=600_000)
    seen.clear()  # from here: drawing, dragging and one Generate per user
    for page in pages:
        box = max(page.locator("#sketch canvas").all(), key=lambda c: c.bounding_box()["width"]).bounding_box()
        for stroke in SHOE:
            draw(page, box, stroke)
        for k in range(10):
            page.locator("#z0 input[type=range]").evaluate(
                "(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input', {bubbles: true})); }", 0.2 * k - 1)
        page.click("#generate")
    for page in pages:
        page.wait_for_function("() => document.querySelectorAll('#grid img').length === 8", timeout=600_000)
    context.close()
    kinds: dict[str, int] = {}
    for u in seen:
        kind = u.split("?")[0].split("/gradio_api/")[-1].split("/")[0] if "/gradio_api/" in u else u
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=30, help="strokes and slider steps per figure")
    p.add_argument("--users", type=int, default=50, help="simulated users in the load runs")
    p.add_argument("--page-users", type=int, default=5,
                   help="of those, real Chromium pages drawing in the browser (each runs the model: a few only "
                        "on a small machine)")
    p.add_argument("--skip-load", action="store_true")
    p.add_argument("--skip-server", action="store_true", help="skip the server path's stroke figure")
    p.add_argument("--model", default="edges2shoes",
                   help="the model the app opens with (a folder in checkpoints/, e.g. edges2shoes_lite)")
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from playwright.sync_api import sync_playwright

    from load import load, running_app

    print(f"model: {args.model}", flush=True)
    with running_app({"I2I_DEFAULT_MODEL": args.model}) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if not args.skip_server:
            ms, phases = server_strokes(browser, url, args.steps)
            print(f"server path, stroke end -> new image: {stats(ms)}\n  p50 of its phases: {phase_medians(phases)}",
                  flush=True)
        r = page_engine(browser, url, args.steps)
        print(f"in-browser engine: {r['status']}")
        if "stroke" in r:
            print(f"in-browser, stroke end -> new image: {stats(r['stroke'])}\n"
                  f"  p50 of its phases: {phase_medians(r['phases'])}")
            print(f"in-browser, slider input -> new image: {stats(r['slider'])}\n"
                  f"  p50 of its phases: {phase_medians(r['slider_phases'])}")
            print(f"requests to the server during {args.steps} slider steps: {len(r['requests'])}")
            print(f"first load of the in-browser engine (files fetched, session ready, probe timed): "
                  f"{r['load_ms'] / 1000:.1f} s")
        if not args.skip_load:
            t0 = time.perf_counter()
            kinds = page_users(browser, url, args.page_users)
            print(f"{args.page_users} pages drawing in the browser, 10 slider steps and one Generate each "
                  f"({time.perf_counter() - t0:.0f} s): requests the server saw, by kind: {kinds}", flush=True)
            res = load(url, args.users, requests=4, time_limit=600, client="http")
            print(f"server path over HTTP, {args.users} users: {res['requests']} requests, {res['errors']} errors, "
                  f"p50 {res['p50_ms']:.0f} ms, p95 {res['p95_ms']:.0f} ms")
        browser.close()


if __name__ == "__main__":
    main()
