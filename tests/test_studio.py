"""UI-free services of the app: dataset paths confined to allowed roots, the model store, the job."""

import os
import time

import pytest

from i2i.checkpoint import CheckpointError, save_release
from i2i.models import model_config
from i2i.models import build_inference_modules
from i2i.studio import ModelStore, PathError, TrainingJob, confine, prune_old_files, training_enabled
from i2i.train import TrainConfig
from conftest import TINY


@pytest.fixture
def roots(tmp_path):
    allowed, outside = tmp_path / "data", tmp_path / "secret"
    (allowed / "shoes").mkdir(parents=True)
    outside.mkdir()
    (allowed / "escape").symlink_to(outside)
    return [allowed], outside


def test_confine_accepts_inside(roots):
    allowed, _ = roots
    assert confine("shoes", allowed) == (allowed[0] / "shoes").resolve()
    assert confine(str(allowed[0] / "shoes"), allowed) == (allowed[0] / "shoes").resolve()


@pytest.mark.parametrize("path", ["../secret", "shoes/../../secret", "escape", "/etc", "", "shoes\x00x"])
def test_confine_refuses_outside(roots, path):
    with pytest.raises(PathError):
        confine(path, roots[0])


def test_model_store_names_and_errors(tmp_path):
    cfg = model_config("bicyclegan", size=64, **TINY)
    save_release(tmp_path / "checkpoints" / "tiny", cfg, build_inference_modules(cfg))
    save_release(tmp_path / "r" / "run1", cfg, build_inference_modules(cfg))
    store = ModelStore({"": tmp_path / "checkpoints", "runs": tmp_path / "r"}, ["someone/on-the-hub"])
    assert store.names() == ["tiny", "runs/run1", "someone/on-the-hub"]
    assert store.get("tiny") is store.get("tiny")  # loaded once
    with pytest.raises(CheckpointError, match="unknown model 'nope'; available: tiny"):
        store.get("nope")


def test_training_job_reports_failure_and_stays_usable(tmp_path):
    job = TrainingJob()
    job.start(model_config("pix2pix", size=64, **TINY), TrainConfig(data=str(tmp_path / "missing"), out=str(tmp_path / "o"), iters=2))
    job.wait(60)
    state = job.state()
    assert state.status == "failed" and "not found" in state.error
    assert not job.running()


def test_training_switch(monkeypatch):
    monkeypatch.delenv("I2I_TRAINING", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert training_enabled()
    monkeypatch.setenv("SPACE_ID", "me/app")
    assert not training_enabled()
    monkeypatch.setenv("I2I_TRAINING", "1")
    assert training_enabled()


def test_prune_old_files_keeps_recent_ones(tmp_path):
    old, recent, folder = tmp_path / "old.png", tmp_path / "recent.png", tmp_path / "sub"
    for p in (old, recent):
        p.write_bytes(b"png")
    folder.mkdir()
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(folder, (two_hours_ago, two_hours_ago))
    assert prune_old_files(tmp_path, max_age=3600) == 1
    assert not old.exists() and recent.exists() and folder.is_dir()
    assert prune_old_files(tmp_path / "missing", max_age=3600) == 0
