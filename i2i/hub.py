"""Hugging Face Hub upload: a run folder or a release -> a model repo with a generated card.

`stage` builds, in a local folder, exactly what goes to the Hub: the release (config.json,
model.safetensors, and its continuation if it has one), a sample sheet and a model card
(README.md) with the training settings, the last logged losses and, when asked, the metrics of
`evaluate`. `upload` is the only function here that talks to the Hub, so everything else is
checked offline (tests/test_hub.py).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import CONFIG_FILE, REPO_ID, WEIGHTS_FILE, load_release
from .config import to_dict
from .models import ModelConfig

CARD_FILE = "README.md"
SHEET_FILE = "samples.png"
CONTINUATION_FILES = ("continue.json", "continue.safetensors")  # checkpoint.save_continuation
TOKEN_HELP = ("set HF_TOKEN to a token with write access (https://huggingface.co/settings/tokens) "
              "or run `hf auth login`")


class HubError(ValueError):
    """A push that cannot go ahead: no token, a bad repo id, or a refusal from the Hub."""


@dataclass
class Staged:
    """A folder holding exactly what would be uploaded."""
    folder: Path
    files: list[str]
    card: str


def training_summary(src: Path) -> dict[str, Any]:
    """What the folder says of its training: the settings (run.json of a run, continue.json of a
    release with a continuation), the step reached and the last logged losses (log.jsonl)."""
    summary: dict[str, Any] = {"train": None, "step": None, "losses": None}
    for name in ("run.json", "continue.json"):
        if (src / name).is_file():
            info = json.loads((src / name).read_text())
            summary["train"] = info.get("train")
            summary["step"] = info.get("step")
            break
    log = src / "log.jsonl"
    if log.is_file():
        lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
        if lines:
            last = json.loads(lines[-1])
            summary["step"] = last.pop("step", summary["step"])
            summary["losses"] = last
    return summary


def sample_sheet(src: Path) -> Path | None:
    """The release's samples.png, else the run's latest training grid (samples/step_*.png)."""
    if (src / SHEET_FILE).is_file():
        return src / SHEET_FILE
    grids = sorted((src / "samples").glob("step_*.png"))
    return grids[-1] if grids else None


def model_card(repo_id: str, cfg: ModelConfig, summary: dict[str, Any], *, metrics: str | None = None,
               has_sheet: bool = False, notes: str | None = None) -> str:
    """The model card: front matter for the Hub, how to use the model, its config, training and
    metrics. `metrics` is a Markdown table (metrics.markdown_table); `notes` the release's own README."""
    family = "CycleGAN" if cfg.model == "cyclegan" else "BicycleGAN family"
    tags = ["i2i", "image-to-image", "pytorch", "safetensors", cfg.model]
    lines = ["---", "pipeline_tag: image-to-image", "tags:", *[f"- {t}" for t in tags], "---", "",
             f"# {repo_id.split('/')[-1]}: {cfg.model} ({family}), {cfg.size} px", "",
             f"Trained with i2i (BicycleGAN and CycleGAN in PyTorch): {cfg.input_nc}-channel input -> "
             f"{cfg.output_nc}-channel output"
             + (f", with an {cfg.nz}-dimensional latent code (one image per z)." if cfg.uses_z else "."), "",
             "## Use", "", "```python", "from i2i import Translator", f't = Translator.load("{repo_id}")']
    if cfg.uses_z:
        lines += ['images = t.generate("sketch.png", seeds=range(8))   # 8 PIL images', "```", "",
                  f"or `python -m i2i generate --checkpoint {repo_id} --input sketch.png --n 8`."]
    else:
        lines += ['image = t.translate("photo.jpg")                     # PIL image', "```", "",
                  f"or `python -m i2i generate --checkpoint {repo_id} --input photo.jpg`."]
    lines += ["", "## Model (`config.json`)", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in to_dict(cfg).items()]
    lines += ["", "## Training", ""]
    train, step, losses = summary["train"], summary["step"], summary["losses"]
    if train:
        planned = train.get("iters")
        lines += [f"- data: `{train.get('data')}`",
                  f"- steps: {step if step is not None else '?'} of {planned} at batch {train.get('batch_size')} "
                  f"(lr {train.get('lr')}, seed {train.get('seed')})"]
    else:
        lines.append("- not recorded in this release (no run.json or continue.json)")
    if losses:
        lines.append("- last logged losses (mean over the last logging interval): "
                     + ", ".join(f"{k} {v:.4g}" for k, v in losses.items()))
    lines += ["", "## Metrics", ""]
    lines.append(metrics if metrics else
                 f"Not evaluated at upload; `python -m i2i evaluate --checkpoint {repo_id} --data HELD_OUT_PAIRS` "
                 "measures them.")
    if has_sheet:
        lines += ["", "## Samples", "", f"![samples]({SHEET_FILE})", "",
                  "Rows: held-out inputs; columns: the input, then outputs"
                  + (" for several seeds" if cfg.uses_z else "") + ", then the real target where there is one."]
    if notes:
        lines += ["", "## Notes from the release", "", notes.strip()]
    return "\n".join(lines) + "\n"


def stage(src: str | Path, out: str | Path, repo_id: str, *, evaluation: list[dict] | None = None) -> Staged:
    """Copy what a push uploads into `out` (emptied first) and write the card there.

    src: a run folder (python -m i2i train --out) or a release folder. Never uploaded: the
    training state (train_state.pt: optimisers, pickled), logs, run.json.
    """
    check_repo_id(repo_id)
    src, out = Path(src), Path(out)
    cfg, _ = load_release(src)  # a readable release, or a CheckpointError that says why not
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = [CONFIG_FILE, WEIGHTS_FILE] + [f for f in CONTINUATION_FILES if (src / f).is_file()]
    for f in files:
        shutil.copy2(src / f, out / f)
    sheet = sample_sheet(src)
    if sheet is not None:
        shutil.copy2(sheet, out / SHEET_FILE)
        files.append(SHEET_FILE)
    notes = (src / CARD_FILE).read_text() if (src / CARD_FILE).is_file() else None
    card = model_card(repo_id, cfg, training_summary(src), metrics=metrics_markdown(evaluation) if evaluation else None,
                      has_sheet=sheet is not None, notes=notes)
    (out / CARD_FILE).write_text(card)
    files.append(CARD_FILE)
    return Staged(out, sorted(files), card)


def metrics_markdown(evaluation: list[dict]) -> str:
    """evaluate's results as Markdown: its tables for the BicycleGAN family, the JSON for CycleGAN
    (evaluate_unpaired's nested measures have no table)."""
    from .metrics import markdown_table

    if all("recon_l1" in r for r in evaluation):
        return markdown_table(evaluation)
    return "```json\n" + json.dumps(evaluation[0] if len(evaluation) == 1 else evaluation, indent=2) + "\n```"


def check_repo_id(repo_id: str) -> None:
    if not REPO_ID.match(repo_id):
        raise HubError(f"--repo-id must look like OWNER/NAME (letters, digits, '-', '_', '.'), got {repo_id!r}")


def hub_token() -> str:
    """The token huggingface_hub would use (HF_TOKEN, or a saved login); an error if there is none."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise HubError(f"no Hugging Face token found: {TOKEN_HELP}")
    return token


def upload(folder: Path, repo_id: str, *, token: str, private: bool = False, message: str = "i2i push") -> str:
    """Create the model repo if needed and upload `folder` as one commit; returns the commit's URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model", commit_message=message)
    except HfHubHTTPError as e:
        status = getattr(e.response, "status_code", None)
        if status in (401, 403):
            raise HubError(f"the Hub refused the token for {repo_id} (HTTP {status}): it needs write access "
                           f"to that namespace; {TOKEN_HELP}") from None
        raise HubError(f"upload to {repo_id} failed: {e}") from None
    except OSError as e:  # no network
        raise HubError(f"cannot reach the Hugging Face Hub: {e}") from None
    return str(info.commit_url)


def has_token() -> bool:
    """Whether a push could authenticate (the app shows its push button only then)."""
    from huggingface_hub import get_token

    return bool(get_token())


def push(src: str | Path, repo_id: str, *, private: bool = False, evaluation: list[dict] | None = None) -> str:
    """Stage `src` in a temporary folder and upload it with the configured token; the commit's URL."""
    import tempfile

    token = hub_token()
    with tempfile.TemporaryDirectory(prefix="i2i-push-") as tmp:
        staged = stage(src, Path(tmp) / "repo", repo_id, evaluation=evaluation)
        return upload(staged.folder, repo_id, token=token, private=private,
                      message=f"i2i push of {Path(src).name}")
