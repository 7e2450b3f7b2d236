"""The app in a real headless Chromium (Debian's, driven by Playwright): shared by the browser
tests and `benchmarks/inference.py --browser`. Never `playwright install` (it downloads)."""
from __future__ import annotations

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


def draw(page, box: dict, points: list) -> None:
    """One stroke with the mouse through `points` (fractions of the canvas box)."""
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
    page.mouse.up()


def open_app(browser, url: str, height: int = 1600):
    """A page on the app, loaded as far as the Draw tab's canvas; returns the page."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(url, wait_until="load")
    page.wait_for_selector("#sketch canvas", timeout=60_000)
    return page


def open_and_draw(browser, url: str):
    """A page on the app with the brush picked and SHOE drawn on the canvas; returns the page."""
    page = open_app(browser, url)
    page.wait_for_function("() => document.querySelector('#sketch button[aria-label=\"Brush\"]')"
                           "?.className.includes('highlight')", timeout=30_000)  # the app picked the brush
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
