"""The generator as an ONNX file (`generator.onnx` beside a release), for ONNX Runtime anywhere.

One export serves three users: the "onnx" engine (engine.py, in memory), `python -m i2i export
--onnx` (a file beside the release), and the app, which serves that file to the page so that
onnxruntime-web draws in the visitor's browser. The graph takes x (B, input_nc, size, size) in
[-1, 1] and z (B, nz) and gives y (B, output_nc, size, size) in [-1, 1]; the batch is dynamic.

A file carries in its metadata the release's config and the sha256 of the weights it was made
from, so a file left over from another model or an older release is refused (`check_onnx`)
instead of drawing the wrong images.
"""
from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import WEIGHTS_FILE, CheckpointError, atomic_write, load_into, load_release, resolve
from .config import to_dict
from .models import ModelConfig

ONNX_FILE = "generator.onnx"
CONFIG_KEY, WEIGHTS_KEY = "i2i.config", "i2i.weights_sha256"


class OnnxFileError(CheckpointError):
    """An ONNX file that is corrupt, or made for another model or other weights."""


def export_generator(G: nn.Module, cfg: ModelConfig, *, half: bool = False,
                     metadata: dict[str, str] | None = None) -> bytes:
    """G -> ONNX bytes (opset 17, dynamic batch). half: store weights in fp16 (the graph casts
    them to fp32 once at load, so it still computes in fp32: half the download, same image when
    the release is itself fp16).

    The TorchScript-based exporter (dynamo=False): several times quicker than the dynamo exporter,
    which also needs onnxscript (a model loads while a user waits). Only generators with a z (the
    U-Nets, whose input size the release fixes); CycleGAN's ResNet takes any size.
    """
    if not cfg.uses_z:
        raise OnnxFileError(f"{cfg.model}: only the U-Net generators with a latent code export to ONNX")
    x, z = torch.zeros(1, cfg.input_nc, cfg.size, cfg.size), torch.zeros(1, cfg.nz)
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation notice and tracer notes on shape checks
            torch.onnx.export(G.eval(), (x, z), buf, input_names=["x", "z"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "z": {0: "batch"}, "y": {0: "batch"}},
                              opset_version=17, dynamo=False)
    except Exception as e:  # a future PyTorch without this exporter, or `onnx` missing
        raise OnnxFileError(f"ONNX export failed ({type(e).__name__}: {str(e)[:80]})") from e
    if not half and not metadata:
        return buf.getvalue()
    import onnx

    model = onnx.load_from_string(buf.getvalue())
    if half:
        _weights_to_fp16(model)
    for k, v in (metadata or {}).items():
        model.metadata_props.add(key=k, value=v)
    return model.SerializeToString()


def _weights_to_fp16(model) -> None:
    """Every fp32 initializer of more than 16 values -> fp16, with a Cast back to fp32 in front of
    its users (ONNX Runtime folds the casts at load: the download halves, the compute does not change)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph, casts = model.graph, []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        a = numpy_helper.to_array(init)
        if a.size <= 16:
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(a.astype(np.float16), name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT, name=name + "_cast"))
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)


def weights_sha256(folder: str | Path) -> str:
    """The sha256 of a release's weights file: what a generator.onnx must have been made from."""
    h = hashlib.sha256()
    with open(Path(folder) / WEIGHTS_FILE, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_onnx(data: bytes | str | Path, cfg: ModelConfig, weights_sha: str | None = None) -> None:
    """Refuse (OnnxFileError) a file that is not a readable ONNX model, lacks i2i's metadata, was
    made for another config, or (given weights_sha) from other weights; the message says what to run."""
    import onnx

    where = "the ONNX data" if isinstance(data, bytes) else str(data)
    fix = "; write it again with `python -m i2i export RELEASE --onnx`"
    try:
        model = onnx.load_from_string(data) if isinstance(data, bytes) else onnx.load(str(data))
    except FileNotFoundError:
        raise OnnxFileError(f"{where} does not exist{fix}") from None
    except Exception as e:  # protobuf's DecodeError and friends: a truncated or foreign file
        raise OnnxFileError(f"{where} is not a readable ONNX model ({type(e).__name__}){fix}") from None
    meta = {p.key: p.value for p in model.metadata_props}
    if CONFIG_KEY not in meta:
        raise OnnxFileError(f"{where} was not written by i2i (no {CONFIG_KEY} metadata){fix}")
    made_for = json.loads(meta[CONFIG_KEY])
    want = to_dict(cfg)
    diff = sorted(k for k in set(made_for) | set(want) if made_for.get(k) != want.get(k))
    if diff:
        raise OnnxFileError(f"{where} was made for another model (config differs in {', '.join(diff[:5])}){fix}")
    if weights_sha is not None and meta.get(WEIGHTS_KEY) != weights_sha:
        raise OnnxFileError(f"{where} was made from other weights than this release's {WEIGHTS_FILE}{fix}")
    inputs = {i.name: [d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    if inputs != {"x": ["batch", cfg.input_nc, cfg.size, cfg.size], "z": ["batch", cfg.nz]}:
        raise OnnxFileError(f"{where} has inputs {inputs}, not x and z of this model{fix}")


def write_onnx(release: str | Path, *, half: bool = True, seed: int = 0) -> tuple[Path, float]:
    """Export a release's G to RELEASE/generator.onnx, then check it: refused as check_onnx would,
    and run by ONNX Runtime against PyTorch on the same sketch and z. Returns (path, max |diff|)."""
    from .infer import z_for_seed
    from .models import build_inference_modules

    folder = resolve(release)
    cfg, weights = load_release(folder)
    modules = build_inference_modules(cfg)
    load_into(modules, weights, str(folder))
    G = modules["G"].float().eval()
    sha = weights_sha256(folder)
    data = export_generator(G, cfg, half=half, metadata={CONFIG_KEY: json.dumps(to_dict(cfg)), WEIGHTS_KEY: sha})
    check_onnx(data, cfg, sha)
    # the same inputs through both: a batch of 2 (the batch axis is dynamic) of a sketch-like input
    x = torch.ones(2, cfg.input_nc, cfg.size, cfg.size)
    x[:, :, cfg.size // 4: 3 * cfg.size // 4, cfg.size // 3] = -1.0
    x[:, :, cfg.size // 2, cfg.size // 4: 3 * cfg.size // 4] = -1.0
    z = torch.stack([z_for_seed(seed + i, cfg.nz) for i in range(2)])
    with torch.inference_mode():
        ref = G(x, z).numpy()
    y = run_onnx(data, x.numpy(), z.numpy())
    diff = float(np.abs(y - ref).max())
    if not np.isfinite(diff) or diff > 1e-2:
        raise OnnxFileError(f"the exported generator differs from PyTorch by {diff:.3g} (max |diff|); file not written")
    path = folder / ONNX_FILE
    atomic_write(path, lambda p: Path(p).write_bytes(data))
    return path, diff


def run_onnx(data: bytes | str | Path, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """One ONNX Runtime run on the CPU: x (B, C, H, W), z (B, nz), float32 -> y (B, C', H, W)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    src = data if isinstance(data, bytes) else str(data)
    session = ort.InferenceSession(src, options, providers=["CPUExecutionProvider"])
    y, = session.run(None, {"x": x.astype(np.float32), "z": z.astype(np.float32)})
    return y


def ensure_onnx(release: str | Path) -> Path:
    """RELEASE/generator.onnx, checked against the release; written first if missing or stale
    (another model's or older weights'). A corrupt file is replaced, not trusted."""
    folder = resolve(release)
    path = folder / ONNX_FILE
    if path.is_file():
        cfg, _ = load_release(folder)
        try:
            check_onnx(path, cfg, weights_sha256(folder))
            return path
        except OnnxFileError:
            pass  # stale or corrupt: write it again below
    return write_onnx(folder)[0]
