"""Hub push, offline: the folder and card that would be uploaded, and the errors before any upload."""
import json
import os
import subprocess
import sys

import pytest

from i2i.models import model_config
from i2i.hub import HubError, stage
from i2i.infer import Translator
from i2i.train import TrainConfig, train
from conftest import ROOT, TINY, data_dir


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A real (tiny) training run: release, train_state.pt, run.json, log.jsonl, samples/."""
    out = tmp_path_factory.mktemp("hub") / "run"
    tcfg = TrainConfig(data=str(data_dir("edges2shoes")), out=str(out), iters=2, limit=4, batch_size=2,
                       log_every=1, sample_every=2, checkpoint_every=2)
    list(train(model_config("bicyclegan", size=64, **TINY), tcfg))
    return out


def test_a_run_is_staged_as_a_release_with_its_card(run_folder, tmp_path):
    staged = stage(run_folder, tmp_path / "up", "someone/tiny-shoes")
    assert staged.files == ["README.md", "config.json", "model.safetensors", "samples.png"]
    assert sorted(p.name for p in staged.folder.iterdir()) == staged.files, "nothing else is uploaded"
    card = (staged.folder / "README.md").read_text()
    assert card.startswith("---\npipeline_tag: image-to-image\n") and "- bicyclegan" in card
    assert 'Translator.load("someone/tiny-shoes")' in card and "![samples](samples.png)" in card
    last = json.loads((run_folder / "log.jsonl").read_text().splitlines()[-1])
    assert "steps: 2 of 2 at batch 2" in card and f"G_L1 {last['G_L1']:.4g}" in card
    assert "Not evaluated at upload" in card
    t = Translator.load(staged.folder, engine="fp32")  # the staged folder is a working release
    assert t.generate(data_dir("edges2shoes", "val").iterdir().__next__(), seeds=[0])[0].size == (64, 64)


def test_a_release_keeps_its_continuation_sheet_and_own_card(tmp_path):
    staged = stage(ROOT / "checkpoints" / "edges2shoes", tmp_path / "up", "someone/shoes")
    assert {"continue.json", "continue.safetensors", "samples.png"} <= set(staged.files)
    cont = json.loads((ROOT / "checkpoints" / "edges2shoes" / "continue.json").read_text())
    assert "## Notes from the release" in staged.card
    assert f"steps: {cont['step']} of {cont['train']['iters']}" in staged.card


def test_evaluation_goes_into_the_card(run_folder, tmp_path):
    from i2i.metrics import evaluate
    result = evaluate(str(run_folder), str(data_dir("edges2shoes", "val")), limit=2, n_z=2, samples=2)
    staged = stage(run_folder, tmp_path / "up", "someone/tiny-shoes", evaluation=[result])
    assert "| recon_l1 | diversity |" in staged.card and f"{result['diversity']:.3f}" in staged.card


def test_bad_repo_id_and_folder(tmp_path, run_folder):
    with pytest.raises(HubError, match="OWNER/NAME"):
        stage(run_folder, tmp_path / "up", "no-owner")
    with pytest.raises(Exception, match="no model.safetensors"):
        stage(tmp_path, tmp_path / "up", "a/b")


def test_push_without_a_token_says_how_to_get_one(run_folder, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")  # no saved login, no network
    cmd = [sys.executable, "-m", "i2i", "push", str(run_folder), "--repo-id", "a/b"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no Hugging Face token" in r.stderr and "HF_TOKEN" in r.stderr, r.stderr
    r = subprocess.run(cmd + ["--dry-run", "--out", str(tmp_path / "up")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and (tmp_path / "up" / "README.md").is_file(), r.stderr
