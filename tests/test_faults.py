"""Faults in training: SIGKILL at random moments, Ctrl-C/SIGTERM, a full disk, an unusable output folder."""
import errno
import json
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from i2i.checkpoint import CheckpointError, load_release, load_state
from i2i.models import model_config
from i2i.train import TrainConfig, train
from conftest import ROOT, TINY

ITERS, EVERY = 60, 5


def last_logged(run) -> int:
    log = run / "log.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    return json.loads(lines[-1])["step"] if lines else 0


def test_sigkill_at_random_moments_then_resume(tmp_path, shoes):
    run = tmp_path / "run"
    base = [sys.executable, "-m", "i2i", "train", "--out", str(run)]
    first = base + ["--data", str(shoes), "--size", "64", "--iters", str(ITERS), "--batch-size", "2", "--limit", "4",
                    "--ngf", "8", "--nef", "8", "--ndf", "8", "--checkpoint-every", str(EVERY), "--log-every", "1",
                    "--sample-every", "0"]
    rng = random.Random(7)
    kills, previous = 0, 0
    for attempt in range(4):
        cmd = first if attempt == 0 else base + ["--resume"]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while not (run / "train_state.pt").is_file() or last_logged(run) <= previous + 2:
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"training ended early: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.0))  # somewhere in a step, or in a checkpoint write
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        done = last_logged(run)
        state = load_state(run)  # never corrupt
        load_release(run)
        assert state["step"] >= done - EVERY, (state["step"], done)  # at most one interval lost
        assert state["step"] >= previous  # the step count never goes back
        previous = state["step"]
        # a kill inside a checkpoint write leaves its temporary file (nothing can run on SIGKILL);
        # the real files are intact, and the next start removes the leftover
    assert kills >= 3
    (run / ".train_state.pt.leftover.tmp").write_bytes(b"half a checkpoint")  # as a kill mid-write leaves
    out = subprocess.run(base + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert load_state(run)["step"] == ITERS
    assert not list(run.glob(".*.tmp")), "no temporary files left behind"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_saves_the_current_step(tmp_path, shoes, sig):
    """A polite stop loses nothing: the CLI finishes its step, checkpoints it and exits."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "i2i", "train", "--out", str(run), "--data", str(shoes), "--size", "64",
           "--iters", "1000", "--batch-size", "2", "--limit", "4", "--ngf", "8", "--nef", "8", "--ndf", "8",
           "--checkpoint-every", "1000", "--log-every", "1", "--sample-every", "0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while last_logged(run) < 3:
        if proc.poll() is not None or time.time() > deadline:
            pytest.fail(f"training ended early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    step = load_state(run)["step"]
    assert 3 <= step < 1000 and step >= last_logged(run)  # every logged step is in the checkpoint
    assert f"stopped at step {step}" in out


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, shoes, monkeypatch):
    mcfg = model_config("pix2pix", size=64, **TINY)
    tcfg = TrainConfig(data=str(shoes), out=str(tmp_path / "run"), iters=4, batch_size=2, limit=4,
                       checkpoint_every=2, sample_every=0, log_every=1)
    events = train(mcfg, tcfg)
    for ev in events:
        if ev.kind == "checkpoint":
            break
    before = (tmp_path / "run" / "train_state.pt").read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(torch, "save", no_space)
    with pytest.raises(CheckpointError, match="No space left on device.*previous file is unchanged"):
        for _ in events:
            pass
    assert (tmp_path / "run" / "train_state.pt").read_bytes() == before
    assert load_state(tmp_path / "run")["step"] == 2
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_unusable_output_folder_is_a_clear_error(tmp_path, shoes):
    (tmp_path / "a-file").write_text("x")
    tcfg = TrainConfig(data=str(shoes), out=str(tmp_path / "a-file" / "run"), iters=1, limit=4)
    with pytest.raises(CheckpointError, match="cannot create the run folder"):
        list(train(model_config("pix2pix", size=64, **TINY), tcfg))
