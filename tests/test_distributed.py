"""Training over several processes (gloo on the CPU): the CLI started once per rank with the
environment torchrun sets, on real data, with tiny models at 32 px.

The equivalence tests use norm "none": under instance norm a conv bias (and the weights of
BicycleGAN's spatially constant z channels) feeding a norm gets a gradient that is rounding
noise, which Adam turns into steps of up to lr in either direction, so any change of summation
order (one process or two) moves those weights apart by up to 2 x lr per step. With every
gradient real, two processes match one to ~1e-8 after three steps; the tolerance is 1e-6,
200x below one step of lr = 2e-4.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from i2i.__main__ import main
from i2i.checkpoint import load_state
from conftest import ROOT, data_dir

TOL = 1e-6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args: list[str], cwds: list[Path]) -> list[subprocess.Popen]:
    """`python -m i2i train ARGS` once per rank (one rank per cwd), as torchrun would start it."""
    port = free_port()
    procs = []
    for rank, cwd in enumerate(cwds):
        cwd.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
               "WORLD_SIZE": str(len(cwds)), "LOCAL_RANK": str(rank)}
        procs.append(subprocess.Popen([sys.executable, "-m", "i2i", "train", *args], cwd=cwd, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    return procs


def finish(procs: list[subprocess.Popen], timeout: float = 300) -> list[tuple[int, str]]:
    """Each rank's exit code and stderr; a rank still running after `timeout` s fails the test."""
    deadline = time.monotonic() + timeout
    results = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail(f"a rank hung for {timeout} s")
        results.append((p.returncode, err))
    return results


def run_ranks(args: list[str], cwds: list[Path]) -> None:
    for rc, err in finish(launch(args, cwds)):
        assert rc == 0, err[-2000:]


def wait_for(path: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} never appeared")
        time.sleep(0.02)


def tiny(model: str) -> list[str]:
    if model == "cyclegan":
        return ["--model", "cyclegan", "--data", str(data_dir("summer2winter_yosemite")), "--ngf", "8", "--ndf", "8",
                "--n-blocks", "1", "--pool-size", "4"]
    return ["--model", model, "--data", str(data_dir("edges2shoes")), "--ngf", "8", "--nef", "8", "--ndf", "8"]


def common(iters: int, batch: int) -> list[str]:
    return ["--size", "32", "--norm", "none", "--amp", "false", "--limit", "8", "--iters", str(iters),
            "--batch-size", str(batch), "--log-every", "1", "--sample-every", str(iters), "--checkpoint-every", "100"]


def assert_same_run(one: Path, two: Path, tol: float = TOL) -> None:
    """The same logged losses (log.jsonl rounds to 1e-6) and the same weights, within tol."""
    logs1 = [json.loads(line) for line in (one / "log.jsonl").read_text().splitlines()]
    logs2 = [json.loads(line) for line in (two / "log.jsonl").read_text().splitlines()]
    assert len(logs1) == len(logs2) and logs1[0].keys() == logs2[0].keys()
    for x, y in zip(logs1, logs2):
        assert all(abs(x[k] - y[k]) <= 2e-6 + 1e-5 * abs(x[k]) for k in x), (x, y)
    s1, s2 = load_state(one), load_state(two)
    assert s1["step"] == s2["step"]
    for k in s1["extra"]:  # CycleGAN's image pools
        assert torch.allclose(s1["extra"][k]["images"], s2["extra"][k]["images"], atol=tol, rtol=0), k
    diff = max(float((s1["model"][k] - s2["model"][k]).abs().max()) for k in s1["model"])
    assert diff <= tol, diff


def test_two_bicyclegan_processes_train_as_one_with_the_global_batch_and_only_rank_0_writes(tmp_path):
    # each rank's batch of 2 is its slice of the global encoded half and of the global random half;
    # DiffAugment's random transforms are drawn for the global batch too
    args = [*tiny("bicyclegan"), "--diffaug", "color,translation,cutout"]
    run_ranks([*args, *common(3, 2), "--out", "run"], [tmp_path / "rank0", tmp_path / "rank1"])
    assert main(["train", *args, *common(3, 4), "--out", str(tmp_path / "one")]) == 0
    assert_same_run(tmp_path / "one", tmp_path / "rank0" / "run")
    assert list((tmp_path / "rank0" / "run" / "samples").iterdir())
    assert not list((tmp_path / "rank1").iterdir())  # rank 1 ran in its own folder and wrote nothing


def test_cyclegan_two_processes_share_one_image_pool_and_resume_exactly(tmp_path):
    """The global pool makes two processes match one; a stop asked of rank 1 alone stops both at
    the same step with rank 0's checkpoint, and resuming it gives the uninterrupted run's weights."""
    iters = 12
    args = [*tiny("cyclegan"), *common(iters, 1), "--checkpoint-every", "2"]
    run_ranks([*args, "--out", str(tmp_path / "straight")], [tmp_path / "s0", tmp_path / "s1"])
    assert main(["train", *tiny("cyclegan"), *common(iters, 2), "--out", str(tmp_path / "one")]) == 0
    assert_same_run(tmp_path / "one", tmp_path / "straight")

    part = tmp_path / "part"
    procs = launch([*args, "--out", str(part)], [tmp_path / "p0", tmp_path / "p1"])
    wait_for(part / "train_state.pt")
    procs[1].send_signal(signal.SIGTERM)
    for rc, err in finish(procs):
        assert rc == 0, err[-2000:]
    stopped_at = load_state(part)["step"]
    assert 2 <= stopped_at < iters, stopped_at
    run_ranks([*args, "--out", str(part), "--resume"], [tmp_path / "p0", tmp_path / "p1"])
    assert_same_run(tmp_path / "straight", part, tol=0.0)


def test_a_dead_rank_ends_the_run_with_a_clear_error_and_an_intact_checkpoint(tmp_path):
    out = tmp_path / "run"
    procs = launch([*tiny("bicyclegan"), *common(10_000, 2), "--checkpoint-every", "2", "--out", str(out),
                    "--dist-timeout", "60"], [tmp_path / "r0", tmp_path / "r1"])
    wait_for(out / "train_state.pt")
    procs[1].kill()
    (rc, err), _ = finish(procs, timeout=120)
    assert rc == 2 and "another rank died or stalled" in err and "--resume" in err, err[-2000:]
    assert load_state(out)["step"] >= 2


def test_a_batch_that_cannot_be_split_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["train", *tiny("bicyclegan"), *common(2, 3), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "even batch size" in err and "global batch of 6" in err, err
    assert not (tmp_path / "run").exists()  # refused before joining the others or writing anything


def test_a_missing_rank_is_a_clear_error_not_a_hang(tmp_path, monkeypatch, capsys):
    for k, v in {"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}.items():
        monkeypatch.setenv(k, v)
    t0 = time.monotonic()
    assert main(["train", *tiny("bicyclegan"), *common(2, 2), "--out", str(tmp_path / "run"),
                 "--dist-timeout", "2"]) == 2
    assert time.monotonic() - t0 < 60
    err = capsys.readouterr().err
    assert "could not meet the others" in err and "start all 2 processes" in err, err
