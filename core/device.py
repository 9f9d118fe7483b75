"""Where tensors live: CUDA when there is one (``auto``), else the CPU."""
from __future__ import annotations

import torch


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but this machine has no usable CUDA GPU (use --device cpu or auto)")
    return device


def bf16_autocast_pays_off(device: torch.device) -> bool:
    """Whether bfloat16 autocast pays off here: a CPU whose oneDNN has native bf16 (AVX512-BF16 or AMX).

    Not on CUDA: these networks are small enough that a GPU step is bound by kernel launches, and autocast's
    casts only add to them. Measured on an H200 (bench/gpu_check.sh, torch 2.11): CelebA-setting steps ran at
    25,800 (labelled) and 28,500 (unlabelled) images/s with bf16 against 29,700 and 32,000 in float32, and a
    3-epoch mnist5k run at 4,000 against 6,700 images/s, with the same test accuracy.
    """
    if device.type == "cuda":
        return False
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False
