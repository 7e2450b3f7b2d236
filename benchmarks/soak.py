"""Soak: N clients using the app without a break for M minutes; prints the server's memory as it goes.

    python benchmarks/soak.py                          # 20 clients for 30 minutes
    python benchmarks/soak.py --clients 20 --minutes 5

Each client (load.HttpClient: a browser tab's requests over REST) alternates a grid of 8 and a
slider step on one sketch, and uploads a fresh sketch every 10 requests (uploads and outputs
are what a leak would pile up). Every --every seconds it prints requests done, errors, busy
answers, the server's resident memory and the number of files in its upload/output cache.
At the end: growth of the server's memory from the end of the warm-up (the first --warmup
seconds: models loaded, caches filled) to the end of the run (the target is <= 10 %).
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from load import Busy, HttpClient, running_app, sketch_file

SKETCHES = Path(tempfile.mkdtemp(prefix="i2i-soak-sketches-"))
BASE = np.asarray(Image.open(sketch_file()))


def varied_sketch(k: int) -> str:
    """The benchmark sketch with a small mark that moves with k: new bytes, so a new upload."""
    img = BASE.copy()
    y, x = 80 + (k // 100) % 80, 40 + k % 100
    img[y:y + 3, x:x + 3] = 0
    path = SKETCHES / f"sketch{k}.png"
    Image.fromarray(img).save(path)
    return str(path)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Linux /proc), in MB."""
    total = 0.0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024
        pids += [int(c) for c in children]
    return total


def count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def soak(url, pid: int, cache: Path, clients: int, minutes: float, every: float, warmup: float) -> dict:
    stop = threading.Event()
    done, errors, busy, lat = [0], [], [0], []
    lock = threading.Lock()

    def user(i: int) -> None:
        h = HttpClient(url)
        r = 0
        f = None
        while not stop.is_set():
            if r % 10 == 0:
                f = h.upload(varied_sketch(i * 7919 + r))
            t0 = time.perf_counter()
            try:
                if r % 2 == 0:
                    [h.download(g["image"]) for g in h.call("generate", f, i * 1000 + r, 8, "edges2shoes",
                                                            timeout=120)[0]]
                else:
                    h.download(h.call("generate_latent", f, [((i + r) % 7 - 3) / 2] * 8, "edges2shoes",
                                      timeout=120)[0])
                with lock:
                    done[0] += 1
                    lat.append(time.perf_counter() - t0)
            except Busy:
                with lock:
                    busy[0] += 1
                time.sleep(1.0)
            except Exception as e:  # counted and reported, never raised
                with lock:
                    errors.append(f"{type(e).__name__}: {str(e)[:120]}")
            r += 1

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    samples = []  # (seconds, MB)
    print(f"{'time':>6} {'requests':>8} {'errors':>6} {'busy':>5} {'server MB':>9} {'cache files':>11}", flush=True)
    while time.time() - t0 < minutes * 60:
        time.sleep(min(every, max(0.0, minutes * 60 - (time.time() - t0))))
        mb = rss_mb(pid)
        samples.append((time.time() - t0, mb))
        with lock:
            print(f"{time.time() - t0:5.0f}s {done[0]:8d} {len(errors):6d} {busy[0]:5d} {mb:9.0f} "
                  f"{count_files(cache):11d}", flush=True)
    stop.set()
    for t in threads:
        t.join(150)
    after_warmup = next((mb for s, mb in samples if s >= warmup), samples[0][1])
    final = samples[-1][1]
    ms = np.asarray(lat) * 1000 if lat else np.zeros(1)
    return {"requests": done[0], "errors": len(errors), "first_errors": errors[:3], "busy": busy[0],
            "mb_after_warmup": after_warmup, "mb_final": final, "mb_peak": max(mb for _, mb in samples),
            "growth": final / after_warmup - 1, "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--every", type=float, default=30, help="seconds between memory readings")
    p.add_argument("--warmup", type=float, default=60, help="seconds before the reference memory reading")
    args = p.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="i2i-soak-cache-"))
    with running_app({"GRADIO_TEMP_DIR": str(cache)}) as url:
        r = soak(url, url.pid, cache, args.clients, args.minutes, args.every, args.warmup)
    print(f"{args.clients} clients for {args.minutes:g} min: {r['requests']} requests, {r['errors']} errors, "
          f"{r['busy']} busy answers, p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms; server memory "
          f"{r['mb_after_warmup']:.0f} MB after the warm-up -> {r['mb_final']:.0f} MB at the end "
          f"(growth {100 * r['growth']:+.1f} %, target <= 10 %; peak {r['mb_peak']:.0f} MB)"
          + (f"  {r['first_errors']}" if r["errors"] else ""), flush=True)


if __name__ == "__main__":
    main()
