"""The generator as an ONNX file (`generator.onnx` beside a release), for ONNX Runtime anywhere.

One export serves three users: the "onnx" engine (engine.py, in memory), `python -m i2i export
--onnx` (a file beside the release), and the app, which serves it to the page so that
onnxruntime-web draws in the visitor's browser. For the page, a line-drawing model also gets
`generator.int8.onnx`: its convolutions in int8 (`quantize_for_page`), about twice as fast in
WebAssembly and half the download, within 0.01 of the fp32 image (checked when written). The
graph takes x (B, input_nc, size, size) in [-1, 1] and z (B, nz) and gives y (B, output_nc,
size, size) in [-1, 1]; the batch is dynamic.

A file carries in its metadata the release's config and the sha256 of the weights it was made
from, so a file left over from another model or an older release is refused (`check_onnx`)
instead of drawing the wrong images.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import WEIGHTS_FILE, CheckpointError, atomic_write, load_into, load_release, resolve
from .config import to_dict
from .models import ModelConfig

ONNX_FILE = "generator.onnx"
PAGE_FILE = "generator.int8.onnx"  # the page's copy: int8 convolutions (quantize_for_page)
PAGE_TOLERANCE = 0.01  # the page may differ from the server by this mean |difference| (0..1 scale)
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


def _release_generator(folder: Path) -> tuple[ModelConfig, nn.Module, str]:
    """A release's config, its G in fp32 for export, and the sha256 of its weights."""
    from .models import build_inference_modules

    cfg, weights = load_release(folder)
    modules = build_inference_modules(cfg)
    load_into(modules, weights, str(folder))
    return cfg, modules["G"].float().eval(), weights_sha256(folder)


def write_onnx(release: str | Path, *, half: bool = True, seed: int = 0) -> tuple[Path, float]:
    """Export a release's G to RELEASE/generator.onnx, then check it: refused as check_onnx would,
    and run by ONNX Runtime against PyTorch on the same sketch and z. Returns (path, max |diff|)."""
    from .infer import z_for_seed

    folder = resolve(release)
    cfg, G, sha = _release_generator(folder)
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


def sketch_inputs(cfg: ModelConfig, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n random line drawings (closed and open polylines, normalised as the app normalises a
    drawing) with z anywhere the sliders reach (-3..3): int8 ranges calibrated on these cover
    what a visitor draws, without shipping data with a release."""
    from PIL import Image, ImageDraw

    from .edges import normalize_sketch, stroke_width_for

    rng, size, xs = np.random.default_rng(seed), cfg.size, []
    for _ in range(n):
        img = Image.new("L", (size, size), 255)
        draw = ImageDraw.Draw(img)
        for _ in range(rng.integers(2, 7)):
            pts = [tuple(rng.uniform(0.08, 0.92, 2) * size) for _ in range(rng.integers(3, 9))]
            draw.line(pts + pts[:1] * int(rng.random() < 0.5), fill=0, width=int(rng.integers(1, 4)))
        ink = torch.from_numpy(np.asarray(img, np.float32) / 255)[None, None]
        xs.append(normalize_sketch(ink, width=stroke_width_for(size)) * 2 - 1)
    x = torch.cat(xs).expand(-1, cfg.input_nc, -1, -1).numpy()
    return np.ascontiguousarray(x), rng.uniform(-3, 3, (n, cfg.nz)).astype(np.float32)


def quantize_for_page(data: bytes, cfg: ModelConfig, *, n_calibrate: int = 48, n_check: int = 16) -> tuple[bytes, float]:
    """fp32 ONNX bytes -> (int8 ONNX bytes, mean |difference| from fp32 on held-out drawings, 0..1).

    Static quantization: each convolution's weights per output channel and its input activations
    in 8 bits, activation ranges from drawings (`sketch_inputs`, the 99.99th percentile);
    onnxruntime-web then runs int8 kernels, which take about half the time of fp32 ones in
    WebAssembly. Two convolutions stay fp32, the
    two whose quantization alone moved the default model's image most (by 0.007 each, the next
    by 0.004) at a tenth of the compute: the last (the image itself, 3 channels; with the
    up-sampling folded into it, networks.upsample_conv, its five Conv nodes) and the first
    down-sampling one (its input carries z beside the features at full size, and one 8-bit range
    for both is coarse for the features). Only for models that take line drawings (sketch_norm),
    since the calibration draws lines; refused (OnnxFileError) if the result differs by more
    than PAGE_TOLERANCE.
    """
    import tempfile

    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    if not cfg.sketch_norm:
        raise OnnxFileError(f"{cfg.model}: int8 is calibrated on line drawings; this model takes other images")
    model = onnx.load_from_string(data)
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    # the outermost level's up-sampling convolutions (networks.upsample_conv: the folded one and
    # its edge strips), which run after every convolution of the inner levels (scope /net/sub/)
    inner = [i for i, name in enumerate(convs) if name.startswith("/net/sub/")]
    keep_fp32 = [convs[1], *convs[inner[-1] + 1:]] if len(convs) > 2 and inner else convs
    x, z = sketch_inputs(cfg, n_calibrate + n_check, seed=0)

    class Drawings(CalibrationDataReader):
        def __init__(self):
            self.i = 0

        def get_next(self):
            self.i += 1
            return {"x": x[self.i - 1: self.i], "z": z[self.i - 1: self.i]} if self.i <= n_calibrate else None

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / PAGE_FILE
        logger = logging.getLogger()  # the quantizer logs advice at WARNING on the root logger
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            # activation ranges: the 99.99th percentile over the drawings, not min to max, where a
            # few extreme activations coarsened the rest (the 12,668-step default: 0.0102 on a doodle)
            quantize_static(model, out, Drawings(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            op_types_to_quantize=["Conv"], nodes_to_exclude=keep_fp32,
                            calibrate_method=CalibrationMethod.Percentile, extra_options={"CalibPercentile": 99.99})
        finally:
            logger.setLevel(level)
        quantized = onnx.load(str(out))
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(model.metadata_props)
    result = quantized.SerializeToString()
    held_out = slice(n_calibrate, None)
    diff = float(np.abs(run_onnx(result, x[held_out], z[held_out]) - run_onnx(data, x[held_out], z[held_out])).mean() / 2)
    if not np.isfinite(diff) or diff > PAGE_TOLERANCE:
        raise OnnxFileError(f"the int8 generator differs from fp32 by {diff:.3g} (mean |diff|, 0..1); the page uses fp32")
    return result, diff


def write_page_onnx(release: str | Path) -> tuple[Path, float]:
    """RELEASE/generator.int8.onnx (quantize_for_page), refused as check_onnx would. Returns
    (path, mean |difference| from the fp32 generator, 0..1)."""
    folder = resolve(release)
    cfg, G, sha = _release_generator(folder)
    # onnxruntime-web gains from folding the outermost up-sampling only (networks.upsample_conv:
    # 5-7 % a frame); the next level folded is no faster there once its convolution is int8
    G.fold_levels(1)
    data = export_generator(G, cfg, metadata={CONFIG_KEY: json.dumps(to_dict(cfg)), WEIGHTS_KEY: sha})
    data, diff = quantize_for_page(data, cfg)
    check_onnx(data, cfg, sha)
    path = folder / PAGE_FILE
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


def ensure_onnx(release: str | Path, page: bool = False) -> Path:
    """RELEASE/generator.onnx (page: generator.int8.onnx), checked against the release; written
    first if missing or stale (another model's or older weights'). A corrupt file is replaced, not trusted."""
    folder = resolve(release)
    path = folder / (PAGE_FILE if page else ONNX_FILE)
    if path.is_file():
        cfg, _ = load_release(folder)
        try:
            check_onnx(path, cfg, weights_sha256(folder))
            return path
        except OnnxFileError:
            pass  # stale or corrupt: write it again below
    return (write_page_onnx if page else write_onnx)(folder)[0]
