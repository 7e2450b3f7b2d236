"""Where the networks run: the one place a device name becomes a torch.device, and what that
device's hardware does natively (training and inference both ask here)."""
from __future__ import annotations

import torch


def pick_device(name: str = "auto") -> torch.device:
    """"auto": the CUDA GPU when there is one, else the CPU; any other name as torch spells it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for but no CUDA GPU is available")
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 runs natively: CUDA, or a CPU with AVX-512-bf16 / AMX (oneDNN says so).
    Elsewhere bf16 on the CPU is emulated and many times slower than fp32."""
    return device.type == "cuda" or (device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported())
