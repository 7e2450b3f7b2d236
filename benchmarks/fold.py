"""What folding bilinear up-sampling into the next convolution (networks.upsample_conv) buys: the
same generator with the fold on and off, side by side in one run, rounds alternating.

Rows: a seed grid (batch 8) and one image (batch 1) through G in PyTorch, fp32 and bf16 autocast
(where the CPU has bf16); the generator's part of a training step (forward and backward, batch 8,
bf16 where the training loop would use it); and, with Node and onnxruntime-web installed, the
page's int8 file on one WebAssembly thread (prepare, model, paint of one drawing, as
tests/js/run.js times it) with the outermost level folded against none folded. Prints p50 in ms
and the ratio fold / plain (below 1: the fold is faster), and the largest difference between the
two ways (float rounding only).

    python benchmarks/fold.py [--checkpoint checkpoints/edges2shoes] [--rounds 8] [--no-page]
"""
from __future__ import annotations

import argparse
import base64
import copy
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from i2i.device import native_bf16  # noqa: E402
from i2i.onnx_file import _release_generator, export_generator, quantize_for_page, sketch_inputs  # noqa: E402


def set_fold(G: torch.nn.Module, levels: int) -> torch.nn.Module:
    """A copy of G with its `levels` outermost up-samplings folded and the others not."""
    G = copy.deepcopy(G)
    G.fold_levels(levels)
    return G


def alternate(fns: dict[str, callable], rounds: int) -> dict[str, float]:
    """p50 seconds of each function, called in turn for `rounds` rounds after one warm-up round."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds + 1):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            if r:
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def row(name: str, p50: dict[str, float]) -> None:
    plain, fold = p50["plain"] * 1000, p50["fold"] * 1000
    print(f"{name:44s} plain {plain:7.1f} ms   fold {fold:7.1f} ms   {fold / plain:.2f}x")


def page_rows(G: torch.nn.Module, cfg, rounds: int) -> None:
    """The page's int8 file, outermost level folded or not, run by onnxruntime-web in Node."""
    if not (shutil.which("node") and (ROOT / "node_modules" / "onnxruntime-web").is_dir()):
        print("page: skipped (needs node and `npm ci`)")
        return
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (400, 400), "white")
    ImageDraw.Draw(img).line([(60, 250), (120, 150), (300, 170), (340, 260), (60, 260)], fill="black", width=4)
    files = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, levels in (("plain", 0), ("fold", 1)):
            data, _ = quantize_for_page(export_generator(set_fold(G, levels), cfg), cfg)
            files[name] = Path(tmp) / f"{name}.onnx"
            files[name].write_bytes(data)
        req = {"op": "draw", "rgba": base64.b64encode(img.tobytes()).decode(), "width": 400, "height": 400,
               "config": {"size": cfg.size, "nz": cfg.nz, "input_nc": cfg.input_nc, "output_nc": cfg.output_nc},
               "z": [0.3] * cfg.nz, "runs": 10, "budgetMs": 1e9}
        times: dict[str, list[float]] = {k: [] for k in files}
        for _ in range(max(2, rounds // 2)):
            for name, path in files.items():
                out = subprocess.run(["node", str(ROOT / "tests" / "js" / "run.js")], capture_output=True, text=True,
                                     input=json.dumps({**req, "model": str(path)}), check=True, cwd=ROOT)
                times[name] += json.loads(out.stdout)["times"][2:]  # the first runs plan memory
    row("page, int8, 1 WebAssembly thread, a drawing", {k: statistics.median(v) / 1000 for k, v in times.items()})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "edges2shoes"))
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--no-page", action="store_true", help="skip the onnxruntime-web rows")
    args = p.parse_args()
    cfg, G, _ = _release_generator(Path(args.checkpoint))
    if cfg.upsample != "bilinear":
        sys.exit(f"{args.checkpoint} up-samples with {cfg.upsample!r}: nothing to fold")
    nets = {"plain": set_fold(G, 0), "fold": set_fold(G, 2)}
    x, z = (torch.from_numpy(a) for a in sketch_inputs(cfg, 8, seed=0))
    print(f"{args.checkpoint}: {torch.get_num_threads()} threads, p50 of {args.rounds} rounds")
    with torch.inference_mode():
        diff = float((nets["fold"](x, z) - nets["plain"](x, z)).abs().max())
    print(f"largest |difference| of the two ways, fp32, 8 images: {diff:.2g}")
    modes = ["fp32", "bf16"] if native_bf16(torch.device("cpu")) else ["fp32"]
    for mode in modes:
        for batch in (8, 1):
            def forward(g, batch=batch, mode=mode):
                with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=mode == "bf16"):
                    g(x[:batch], z[:batch])
            row(f"G, {'a grid of 8' if batch == 8 else 'one image'}, {mode}",
                alternate({k: (lambda g=g, f=forward: f(g)) for k, g in nets.items()}, args.rounds))
    target = torch.rand(8, cfg.output_nc, cfg.size, cfg.size) * 2 - 1

    def step(g):
        g.train().zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=modes[-1] == "bf16"):
            y = g(x, z)
        (y.float() - target).abs().mean().backward()
    row(f"G's training step, batch 8, {modes[-1]}", alternate({k: (lambda g=g: step(g)) for k, g in nets.items()},
                                                               args.rounds))
    if not args.no_page:
        page_rows(G.eval(), cfg, args.rounds)


if __name__ == "__main__":
    main()
