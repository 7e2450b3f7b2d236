"""Training speed: seconds per iteration and images per second of the real training loop, for
BicycleGAN and CycleGAN, eager fp32 next to the optimised path, measured side by side in one run.

The optimised path is bf16 autocast + channels_last (+ fused Adam and, with --compile,
torch.compile on CUDA), on CUDA and on CPUs with native bf16 (AVX-512-bf16 / AMX); on other CPUs
both paths run fp32 (emulated bf16 is many times slower), so the two rows show the noise. Both
paths start from the same weights and batches, so the mean losses printed beside each (over the
logged steps) show what bf16 does to them. Also prints peak GPU memory.

    python benchmarks/training.py [--size 128] [--iters 8] [--ngf 64 32] [--lambda-ms 0.01]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from i2i.models import family, model_config  # noqa: E402
from i2i.train import TrainConfig, train  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def measure(model: str, size: int, ngf: int, batch: int, iters: int, amp: bool, compile_: bool,
            **objective: float) -> tuple[float, float, dict[str, float]]:
    """(seconds per iteration, images per second) over the steps after the first two, and the
    mean of each loss over all steps."""
    paired = family(model).paired
    data = DATA / ("edges2shoes" if paired else "summer2winter_yosemite")
    kw = dict(ngf=ngf, ndf=ngf, **({"nef": ngf} if hasattr(family(model).Config, "nef") else {}))
    mcfg = model_config(model, size=size, **kw, **objective)
    with tempfile.TemporaryDirectory() as out:
        tcfg = TrainConfig(data=str(data), out=out, iters=iters, batch_size=batch, limit=32, log_every=1,
                           sample_every=0, checkpoint_every=10**9, amp=amp, compile=compile_)
        logs = [ev for ev in train(mcfg, tcfg) if ev.kind == "log"]
    times = [(ev.step, ev.elapsed) for ev in logs]
    losses = {k: sum(ev.logs[k] for ev in logs) / len(logs) for k in logs[0].logs if k != "lr"}
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    (s0, t0), (s1, t1) = times[1], times[-1]  # skip warm-up (and compilation)
    per_iter = (t1 - t0) / (s1 - s0)
    return per_iter, batch / per_iter, losses


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--iters", type=int, default=8)
    p.add_argument("--ngf", type=int, nargs="+", default=[64, 32], help="64 is the papers' width, 32 the shipped one")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--lambda-ms", type=float, default=0.0,
                   help="also time BicycleGAN's optimised path with this mode seeking weight (one more G pass)")
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    print(f"device: {torch.cuda.get_device_name() if cuda else 'cpu'}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {args.size} px")
    for model, batch in (("bicyclegan", 8), ("cyclegan", 1)):
        for ngf in args.ngf:
            row = []
            paths = [("eager fp32", False, False, {}), ("optimised", True, args.compile, {})]
            if model == "bicyclegan" and args.lambda_ms:
                paths.append(("+ mode seek", True, args.compile, {"lambda_ms": args.lambda_ms}))
            for name, amp, comp, objective in paths:
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                s, ips, losses = measure(model, args.size, ngf, batch, args.iters, amp, comp, **objective)
                mem = f", peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if cuda else ""
                row.append(ips)
                shown = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
                print(f"{model:10s} ngf {ngf:3d} batch {batch}: {name:10s} {s:6.3f} s/iter {ips:7.2f} img/s{mem}; "
                      f"mean losses: {shown}", flush=True)
            print(f"{'':10s} speed-up optimised / eager: {row[1] / row[0]:.2f}x"
                  + (f"; mode seeking's cost: {row[1] / row[2]:.2f}x the time a step" if len(row) > 2 else ""))


if __name__ == "__main__":
    main()
