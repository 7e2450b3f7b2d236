"""Load: many concurrent clients against a local app (127.0.0.1 only), each making a bounded
number of grid and slider requests within a time limit. Prints requests done, errors and
p50/p95/p99 latency, for several client counts side by side.

    python benchmarks/load.py --clients 1 10 50 --requests 10
    python benchmarks/load.py --clients 200 --requests 2 --client http

Over HTTP, a request the app's queue has no room for is answered at once with 503 ("busy");
the client waits (1 s, then 2, 4, up to 8 s, each +-50%) and tries again. Busy answers are counted, with
how fast they came, apart from errors (anything else: a failure, or no answer within
--request-timeout).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


class AppUrl(str):
    """The URL of a running app, with its server's process id (for memory readings)."""
    pid: int


@contextmanager
def running_app(env: dict[str, str] | None = None, log=subprocess.DEVNULL):
    """`python app.py` on a free loopback port (127.0.0.1 only); yields its URL (an AppUrl),
    then stops it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "I2I_TRAINING": "0",
           "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(180):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"the app exited during start-up (code {proc.returncode})") from None
                time.sleep(1)
        else:
            raise RuntimeError("the app did not start within 180 s")
        url = AppUrl(f"http://127.0.0.1:{port}/")
        url.pid = proc.pid
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def sketch_file() -> str:
    img = np.full((256, 256), 255, np.uint8)
    img[170:174, 20:236] = 0
    img[60:174, 200:204] = 0
    img[60:64, 120:204] = 0
    img[64:170, 20:24] = 0
    path = Path(tempfile.mkdtemp()) / "sketch.png"
    Image.fromarray(img).save(path)
    return str(path)


class Busy(RuntimeError):
    """The app's queue is full (HTTP 503): try again in a moment."""


class HttpClient:
    """What a browser tab does, without gradio_client's 50 ms polling loops: one session, files
    uploaded once and then referred to by their server path, results read from the SSE stream of
    the documented REST route (POST /gradio_api/call/<name>, GET .../<event_id>), outputs downloaded."""

    def __init__(self, url: str):
        import httpx

        # idle connections are dropped before uvicorn's 5 s keep-alive ends: a request sent on a
        # connection the server is closing fails ("Server disconnected"); browsers retry those
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=600, limits=httpx.Limits(keepalive_expiry=3))
        self.session = uuid.uuid4().hex  # one session, as a browser tab has

    def upload(self, path: str) -> dict:
        with open(path, "rb") as f:
            r = self.http.post("/gradio_api/upload", files={"files": (Path(path).name, f)})
        r.raise_for_status()
        return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}

    def call(self, name: str, *data, timeout: float = 600) -> list:
        """The result of one API call; Busy if the queue has no room, TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        r = self.http.post(f"/gradio_api/call/{name}", json={"data": list(data), "session_hash": self.session})
        if r.status_code == 503:
            raise Busy(f"{name}: busy, try again ({r.json().get('detail', r.text)[:80]})")
        r.raise_for_status()
        event = None
        with self.http.stream("GET", f"/gradio_api/call/{name}/{r.json()['event_id']}") as stream:
            for line in stream.iter_lines():  # the server sends a heartbeat while a call waits
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name}: no answer within {timeout:g} s")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "error":
                    raise RuntimeError(f"{name}: {line[5:].strip()}")
                elif line.startswith("data:") and event == "complete":
                    return json.loads(line[5:])
        raise RuntimeError(f"{name}: the stream ended without a result")

    def download(self, file: dict) -> bytes:
        r = self.http.get(file["url"])
        r.raise_for_status()
        return r.content


def load(url: str, clients: int, requests: int, time_limit: float, n: int = 8, client: str = "gradio_client",
         request_timeout: float = 600) -> dict:
    """Each client alternates grid and slider requests; returns counts and latencies (ms).

    client: "gradio_client" (the issue's reference, one gradio_client.Client per simulated user), or
    "http" (HttpClient: the same requests without gradio_client's polling threads, which on a
    2-core machine take CPU from the server as the number of clients grows). A client told
    "busy" backs off (1, 2, 4, then 8 s, each +-50%) and tries again; a request's latency runs
    from its first try.
    """
    from gradio_client import Client, handle_file

    path = sketch_file()
    latencies: list[float] = []
    busy: list[float] = []  # how long each busy answer took
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.time() + time_limit

    def user(i: int) -> None:
        if client == "http":
            h = HttpClient(url)
            f = h.upload(path)

            def grid(seed):
                return [h.download(g["image"])
                        for g in h.call("generate", f, seed, n, "edges2shoes", timeout=request_timeout)[0]]

            def slider(z):
                return h.download(h.call("generate_latent", f, z, "edges2shoes", timeout=request_timeout)[0])
        else:
            c, f = Client(url, verbose=False), handle_file(path)

            def predict(*args, api_name):
                try:
                    return c.predict(*args, api_name=api_name)
                except Exception as e:  # gradio_client reports a full queue as an error with Gradio's text
                    if "Queue is full" in str(e):
                        raise Busy(f"{api_name}: busy, try again") from e
                    raise

            def grid(seed):
                return predict(f, seed, n, "edges2shoes", api_name="/generate")

            def slider(z):
                return predict(f, z, "edges2shoes", api_name="/generate_latent")
        for r in range(requests):
            if time.time() > deadline:
                return
            t0, tries = time.perf_counter(), 0
            while True:
                t_try = time.perf_counter()
                try:
                    if r % 2 == 0:
                        grid(i * 100 + r)
                    else:
                        slider([((i + r) % 7 - 3) / 2] * 8)
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                except Busy:
                    with lock:
                        busy.append(time.perf_counter() - t_try)
                    if time.time() < deadline:
                        time.sleep(min(8, 2 ** tries) * random.uniform(0.5, 1.5))
                        tries += 1
                        continue
                    with lock:
                        errors.append("Busy until the time limit")
                except Exception as e:  # counted and reported, never raised
                    with lock:
                        errors.append(f"{type(e).__name__}: {str(e)[:120]}")
                break

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.time()) + 60)
    lat = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    busy_ms = np.asarray(busy) * 1000 if busy else np.zeros(1)
    return {"clients": clients, "requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
            "p99_ms": float(np.percentile(lat, 99)), "busy": len(busy),
            "busy_p95_ms": float(np.percentile(busy_ms, 95)), "busy_max_ms": float(busy_ms.max()),
            "wall_s": time.time() - t0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, nargs="+", default=[1, 10, 50])
    p.add_argument("--requests", type=int, default=10, help="requests per client (half grids, half slider steps)")
    p.add_argument("--time-limit", type=float, default=600, help="seconds per client count")
    p.add_argument("--client", choices=("gradio_client", "http"), default="gradio_client",
                   help="how each simulated user talks to the app (see load())")
    p.add_argument("--request-timeout", type=float, default=120,
                   help="seconds an HTTP client waits for one answer before counting an error")
    args = p.parse_args()
    with running_app() as url:
        for k in args.clients:
            r = load(url, k, args.requests, args.time_limit, client=args.client, request_timeout=args.request_timeout)
            print(f"{r['clients']:3d} clients: {r['requests']:4d} done, {r['errors']} errors, p50 {r['p50_ms']:7.0f} ms,"
                  f" p95 {r['p95_ms']:7.0f} ms, p99 {r['p99_ms']:7.0f} ms, {r['wall_s']:.0f} s"
                  + (f"; {r['busy']} busy answers (p95 {r['busy_p95_ms']:.0f} ms, max {r['busy_max_ms']:.0f} ms)"
                     if r["busy"] else "")
                  + (f"  {r['first_errors']}" if r["errors"] else ""), flush=True)


if __name__ == "__main__":
    main()
