"""Where the networks run: the one place a device name becomes a torch.device, and what that
device's hardware does natively (training and inference both ask here)."""
from __future__ import annotations

from pathlib import Path

import torch


def pick_device(name: str = "auto") -> torch.device:
    """"auto": the CUDA GPU when there is one, else the CPU; any other name as torch spells it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for but no CUDA GPU is available")
    return torch.device(name)


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags as Linux lists them in /proc/cpuinfo, or None where it does not."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((set(line.split(":", 1)[1].split()) for line in lines if line.startswith("flags")), None)


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 runs natively: CUDA, or a CPU with AVX-512-bf16 / AMX instructions.

    Elsewhere bf16 on the CPU is emulated and slower than fp32. oneDNN's own answer is not
    enough: it says yes on any AVX-512 CPU, and on an Ice Lake Xeon (no bf16 instructions) a
    BicycleGAN step took 2.1x as long in bf16 (benchmarks/training.py). So the CPU's flags
    decide where Linux lists them, oneDNN elsewhere.
    """
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    flags = cpu_flags()
    if flags is not None:
        return bool(flags & {"avx512_bf16", "amx_bf16"})
    return torch.ops.mkldnn._is_mkldnn_bf16_supported()
