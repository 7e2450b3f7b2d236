"""Checkpoints, of two kinds (as in k-diffusion):

- a *release*: `config.json` (the model config) + `model.safetensors` (inference weights: G, and
  E for the BicycleGAN family; G and F for CycleGAN), loadable from a folder or a Hugging Face
  Hub repo id;
- the *training state*: `train_state.pt` (every network, optimisers, schedulers, step, configs,
  image pools), for `--resume`;
- a *continuation* beside a release: `continue.safetensors` (the networks a release leaves out,
  the discriminators, in fp16) + `continue.json` (step, images seen, configs), so a run can go on
  from a shipped model on another machine (`--init-from`). It drops the optimiser moments.

Every file is written atomically (a temporary file, then `os.replace`), so a run killed at any
moment leaves the previous checkpoint intact. Nothing here unpickles: weights load through
safetensors, the training state through `torch.load(weights_only=True)`.
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .config import ConfigError, to_dict
from .models import ModelConfig, model_config_from_dict

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "train_state.pt"
CONTINUE_WEIGHTS = "continue.safetensors"
CONTINUE_FILE = "continue.json"
STATE_VERSION = 1
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or written; the message says which file and why."""


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call write(tmp_path) then rename tmp_path onto `path`; on any failure `path` is untouched."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as e:
        raise CheckpointError(f"cannot write to {path.parent}: {e.strerror or e}") from None
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; checkpoints are meant to be shared
        os.replace(tmp, path)
    except OSError as e:
        raise CheckpointError(f"could not write {path}: {e.strerror or e}; the previous file is unchanged") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_release(folder: str | Path, cfg: ModelConfig, modules: dict[str, nn.Module],
                 dtype: torch.dtype | None = None) -> None:
    """Write config.json + model.safetensors (keys "G.<param>", "E.<param>", ...)."""
    folder = Path(folder)
    tensors = {f"{name}.{k}": (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().cpu().contiguous()
               for name, m in modules.items() for k, v in m.state_dict().items()}
    atomic_write(folder / WEIGHTS_FILE, lambda p: save_file(tensors, p, metadata={"format": "pt", "i2i": "1"}))
    text = json.dumps(to_dict(cfg), indent=2) + "\n"
    atomic_write(folder / CONFIG_FILE, lambda p: Path(p).write_text(text))


def resolve(path_or_repo: str | os.PathLike, revision: str | None = None) -> Path:
    """A local checkpoint folder, or a Hub repo id fetched with huggingface_hub.

    Hub downloads go through the local cache; with HF_HUB_OFFLINE=1 only the cache is used.
    """
    p = Path(path_or_repo).expanduser()
    if p.is_dir():
        return p
    s = str(path_or_repo)
    if p.exists():
        raise CheckpointError(f"{s} is a file; a checkpoint is a folder holding {CONFIG_FILE} and {WEIGHTS_FILE}")
    if not REPO_ID.match(s) or s.startswith((".", "/")):
        raise CheckpointError(f"checkpoint folder not found: {s}")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        cfg_path = hf_hub_download(s, CONFIG_FILE, revision=revision)
        hf_hub_download(s, WEIGHTS_FILE, revision=revision)
    except LocalEntryNotFoundError:
        raise CheckpointError(f"{s} is neither a local folder nor in the Hugging Face cache, and the Hub "
                              "cannot be reached (offline?)") from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"no Hugging Face Hub repo named {s} (or it is private)") from None
    except (HfHubHTTPError, OSError) as e:
        raise CheckpointError(f"could not fetch {s} from the Hugging Face Hub: {e}") from None
    return Path(cfg_path).parent


def load_release(path_or_repo: str | os.PathLike, revision: str | None = None
                 ) -> tuple[ModelConfig, dict[str, dict[str, torch.Tensor]]]:
    """Read a release: its config and its weights grouped by network name ({"G": {...}, "E": {...}})."""
    folder = resolve(path_or_repo, revision)
    cfg_file, weights_file = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not weights_file.is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise CheckpointError(f"{folder} holds {', '.join(pickles)} but no {WEIGHTS_FILE}; i2i loads only "
                                  "safetensors and never unpickles weight files")
        raise CheckpointError(f"{folder} has no {WEIGHTS_FILE}")
    if not cfg_file.is_file():
        raise CheckpointError(f"{folder} has no {CONFIG_FILE}")
    try:
        cfg = model_config_from_dict(json.loads(cfg_file.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_file} is not valid JSON: {e}") from None
    except ConfigError as e:
        raise CheckpointError(f"{cfg_file}: {e}") from None
    try:
        flat = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights_file} is truncated or not a safetensors file ({e})") from None
    return cfg, by_network(flat)


def by_network(flat: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """{"G.x.weight": t, ...} -> {"G": {"x.weight": t}, ...}: the stored keys grouped by network."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        net, _, param = key.partition(".")
        groups.setdefault(net, {})[param] = value
    return groups


def save_continuation(folder: str | Path, modules: dict[str, nn.Module], info: dict[str, Any]) -> None:
    """Write what continuing a release's run needs beyond the release itself (see module docstring)."""
    folder = Path(folder)
    tensors = {f"{name}.{k}": (v.half() if v.is_floating_point() else v).detach().cpu().contiguous()
               for name, m in modules.items() for k, v in m.state_dict().items()}
    atomic_write(folder / CONTINUE_WEIGHTS, lambda p: save_file(tensors, p, metadata={"format": "pt", "i2i": "1"}))
    text = json.dumps(info, indent=2) + "\n"
    atomic_write(folder / CONTINUE_FILE, lambda p: Path(p).write_text(text))


def load_continuation(folder: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """(continue.json, weights grouped by network) of a release that can be continued."""
    folder = Path(folder)
    info_file, weights_file = folder / CONTINUE_FILE, folder / CONTINUE_WEIGHTS
    if not (info_file.is_file() and weights_file.is_file()):
        raise CheckpointError(f"{folder} cannot be continued: it has no {CONTINUE_FILE} and {CONTINUE_WEIGHTS} "
                              "(export the run with --continuation)")
    try:
        info = json.loads(info_file.read_text())
        flat = load_file(str(weights_file))
    except (json.JSONDecodeError, UnicodeDecodeError, SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{folder}: the continuation files are corrupt ({e})") from None
    return info, by_network(flat)


def load_into(modules: dict[str, nn.Module], weights: dict[str, dict[str, torch.Tensor]], where: str) -> None:
    """Copy weights into modules, with a clear error when they do not match the config."""
    missing = sorted(set(modules) - set(weights))
    if missing:
        raise CheckpointError(f"{where}: weights for {', '.join(missing)} are missing")
    for name, m in modules.items():
        own = m.state_dict()
        sd = {k: v.to(own[k].dtype) if k in own else v for k, v in weights[name].items()}
        try:
            m.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            first = str(e).splitlines()[0:3]
            raise CheckpointError(f"{where}: the weights of {name} do not match config.json ({' '.join(first)[:300]})") from None


def save_state(folder: str | Path, state: dict[str, Any]) -> Path:
    path = Path(folder) / STATE_FILE
    atomic_write(path, lambda p: torch.save({"version": STATE_VERSION, **state}, p))
    return path


def load_state(folder: str | Path, mmap: bool = False) -> dict[str, Any]:
    """The training state, read with the restricted (weights-only) unpickler.

    mmap: map the file instead of reading it; tensors are read only when touched (for a caller
    that wants the configs and step alone).
    """
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"nothing to resume in {path.parent}: it has no {STATE_FILE} (a run writes one "
                              "at its first checkpoint)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as e:  # torch raises several types for truncated or hostile files
        raise CheckpointError(f"{path} is corrupt or not an i2i training state ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise CheckpointError(f"{path} is not an i2i training state of version {STATE_VERSION}")
    return state
