"""How a generator's forward pass runs at inference, picked once when a model is loaded.

Engines: "fp32" (eager PyTorch), "bf16" (eager PyTorch under bf16 autocast) and "onnx" (the
generator exported to ONNX and run by ONNX Runtime, fp32). On a CPU, `choose_engine` times the
candidates on a probe sketch and keeps the fastest one that draws the same image as fp32: which
one wins depends on the CPU, the model's size and how busy the host is, so it is measured at
load rather than fixed. bf16 pays only where the CPU has bf16 instructions (elsewhere it is
emulated and many times slower). On CUDA: bf16 autocast.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .models import ModelConfig

ENGINES = ("fp32", "bf16", "onnx")
Forward = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]


class EngineUnavailable(RuntimeError):
    """An engine that cannot run here (a missing package, a failed export, the wrong device)."""


@dataclass
class Engine:
    name: str  # one of ENGINES
    reason: str  # why it was picked, for logs and the app's model line
    forward: Forward = field(repr=False)  # (x (B, C, H, W) in [-1, 1], z (B, nz) or None) -> (B, C', H, W)


def autocast(device: torch.device, name: str):
    """The autocast context of an engine: bf16 for "bf16", a no-op otherwise."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=name == "bf16")


def torch_forward(G: nn.Module, device: torch.device, name: str) -> Forward:
    @torch.inference_mode()
    def forward(x: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        with autocast(device, name):
            return (G(x, z) if z is not None else G(x)).float()
    return forward


def onnx_forward(G: nn.Module, cfg: ModelConfig) -> Forward:
    """G exported to ONNX in memory (onnx_file.export_generator) and run by ONNX Runtime on the
    CPU; any batch size. Only the U-Net generators (those with a z)."""
    from .onnx_file import OnnxFileError, export_generator

    if not cfg.uses_z:
        raise EngineUnavailable("onnx runs the U-Net generators only")
    try:
        import onnxruntime as ort
    except ImportError:
        raise EngineUnavailable("onnxruntime is not installed") from None
    try:
        data = export_generator(G, cfg)
    except OnnxFileError as e:
        raise EngineUnavailable(str(e)) from e
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3  # errors only
    # no busy-waiting for the next run: its threads would take the cores from the web server
    # that has to send this output
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])

    def forward(x: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        y, = session.run(None, {"x": x.float().contiguous().numpy(), "z": z.float().contiguous().numpy()})
        return torch.from_numpy(y)
    return forward


def choose_engine(G: nn.Module, cfg: ModelConfig, device: torch.device, want: str = "auto") -> Engine:
    """The engine asked for, or with want="auto" the fastest that gives the same image as fp32.

    "The same image": a mean difference under 4 of 255 levels on the probe (bf16 is ~0.5,
    ONNX Runtime ~0.001). A faster engine must win by 15% to be picked: timings are noisy.
    """
    if want not in ("auto", *ENGINES):
        raise ValueError(f"engine must be auto, {', '.join(ENGINES)}; got {want!r}")
    if want == "onnx" and device.type != "cpu":
        raise ValueError(f"the onnx engine runs on the CPU; this model is on {device}")
    if want in ("fp32", "bf16"):
        return Engine(want, "asked for", torch_forward(G, device, want))
    if want == "onnx":
        try:
            return Engine("onnx", "asked for", onnx_forward(G, cfg))
        except EngineUnavailable as e:
            raise ValueError(f"the onnx engine is unavailable: {e}") from None
    if device.type == "cuda":  # nothing timed: on ZeroGPU the main process must not run CUDA work
        return Engine("bf16", "CUDA: bf16 autocast", torch_forward(G, device, "bf16"))

    x = torch.zeros(1, cfg.input_nc, cfg.size, cfg.size, device=device)
    x[:, :, cfg.size // 4: 3 * cfg.size // 4, cfg.size // 2] = -1.0  # a line, so the output is not flat
    z = torch.randn(1, cfg.nz, generator=torch.Generator().manual_seed(0)).to(device) if cfg.uses_z else None
    fp32 = torch_forward(G, device, "fp32")
    reference = fp32(x, z)  # also the warm-up
    base = _best_time(fp32, x, z)
    best, notes = Engine("fp32", "", fp32), []
    best_time = base
    for name in ("bf16", "onnx"):
        try:
            fwd = torch_forward(G, device, "bf16") if name == "bf16" else onnx_forward(G, cfg)
            t0 = time.perf_counter()
            diff = float((fwd(x, z) - reference).abs().mean()) * 127.5  # also the warm-up
            first = time.perf_counter() - t0
        except RuntimeError as e:  # EngineUnavailable, or bf16 kernels missing on this CPU
            notes.append(f"{name} unavailable ({str(e)[:80]})")
            continue
        # hopeless even for a first run (emulated bf16: seconds at 128 px): not worth timing again
        seconds = first if first > 10 * base else _best_time(fwd, x, z, give_up_after=3 * base)
        speed = base / seconds
        notes.append(f"{name} {speed:.2g}x, mean difference {diff:.2g}/255")
        if diff < 4.0 and speed > 1.15 and seconds < best_time:
            best, best_time = Engine(name, "", fwd), seconds
    best.reason = f"fastest that matches fp32 here: {'; '.join(notes)}" if best.name != "fp32" else \
        f"the others are slower or differ here: {'; '.join(notes)}"
    return best


def _best_time(forward: Forward, x: torch.Tensor, z: torch.Tensor | None, repeats: int = 3,
               give_up_after: float = float("inf")) -> float:
    """The fastest of a few runs (the least disturbed by other work); one run if it is hopeless."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        forward(x, z)
        best = min(best, time.perf_counter() - t0)
        if best > give_up_after:
            break
    return best
