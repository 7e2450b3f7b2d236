"""Training speed over 1 and N processes (torchrun): images per second of the real loop.

Each row starts `torchrun --nproc-per-node N` on this script's worker mode, which runs
i2i.train.train in every process; rank 0 prints the images/s of the global batch over the steps
after the first two (warm-up). Rows: one plain process (no torchrun), then for each N the same
global batch split N ways (strong scaling) and the per-process batch kept (weak scaling: a
global batch N times larger). On the CPU each process gets cores / N threads, so N processes
compete for the same cores: expect no gain on a small machine. On GPUs each process drives one.

    python benchmarks/distributed.py [--model bicyclegan] [--size 128] [--batch 8] [--procs 2] [--iters 8]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from i2i.models import model_config  # noqa: E402
from i2i.train import TrainConfig, train  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def worker(args: argparse.Namespace) -> None:
    """One rank's run; rank 0 prints a JSON line with the global images/s."""
    paired = args.model != "cyclegan"
    kw = dict(ngf=args.ngf, ndf=args.ngf, **({"nef": args.ngf} if paired else {}))
    mcfg = model_config(args.model, size=args.size, **kw)
    data = DATA / ("edges2shoes" if paired else "summer2winter_yosemite")
    with tempfile.TemporaryDirectory() as out:
        tcfg = TrainConfig(data=str(data), out=out, iters=args.iters, batch_size=args.batch, limit=64, log_every=1,
                           sample_every=0, checkpoint_every=10**9, amp=False)
        logs = [ev for ev in train(mcfg, tcfg) if ev.kind == "log"]
    if int(os.environ.get("RANK", "0")) == 0:
        (s0, t0), (s1, t1) = (logs[1].step, logs[1].elapsed), (logs[-1].step, logs[-1].elapsed)
        world = int(os.environ.get("WORLD_SIZE", "1"))
        print(json.dumps({"images_per_sec": args.batch * world * (s1 - s0) / (t1 - t0),
                          "s_per_iter": (t1 - t0) / (s1 - s0)}), flush=True)


def row(procs: int, batch: int, threads: int, args: argparse.Namespace, torchrun: bool = True) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, *(["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}"] if torchrun
                             else []), __file__, "--worker", "--model", args.model, "--size", str(args.size),
           "--ngf", str(args.ngf), "--batch", str(batch), "--iters", str(args.iters)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="bicyclegan")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--ngf", type=int, default=32, help="network width (32: the shipped models)")
    p.add_argument("--batch", type=int, default=8, help="global batch of the one-process rows")
    p.add_argument("--procs", type=int, nargs="+", default=[2])
    p.add_argument("--iters", type=int, default=8)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu, {os.cpu_count()} cores"
    print(f"{args.model} {args.size} px ngf {args.ngf} on {device}, torch {torch.__version__}")
    cores = os.cpu_count() or 1
    rows = [("1 process, no torchrun", 1, args.batch, cores, False),
            ("1 process under torchrun", 1, args.batch, cores, True)]
    if cores > 1:  # a busy host can stall OpenMP's threads at their barriers: one thread shows it
        rows.append(("1 process, 1 thread", 1, args.batch, 1, False))
    for n in args.procs:
        threads = max(1, cores // n)
        if args.batch % n == 0:
            rows.append((f"{n} processes, same global batch", n, args.batch // n, threads, True))
        rows.append((f"{n} processes, batch {args.batch} each", n, args.batch, threads, True))
    for name, n, batch, threads, torchrun in rows:
        if torch.cuda.is_available():
            threads = 1
        r = row(n, batch, threads, args, torchrun)
        print(f"{name:34s} global batch {batch * n:3d}, {threads} threads each: "
              f"{r['s_per_iter']:6.3f} s/iter {r['images_per_sec']:7.2f} img/s", flush=True)

if __name__ == "__main__":
    main()
