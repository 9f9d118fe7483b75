"""Where tensors live: CUDA when there is one (``auto``), else the CPU; and how the process keeps CPU memory."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# the largest mmap threshold glibc accepts on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): larger blocks are always mapped
_MMAP_THRESHOLD_MAX = 32 * 2**20
_TRIM_THRESHOLD = 2**30


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for the next training step instead of handing it back to the kernel.

    By default glibc returns the top of its heap once more than about twice the largest freed block is free there,
    so every CPU training step faults the same pages in again and the kernel zeroes them: 40-80 MB a step at the
    CelebA setting, about 15% of our unlabelled float32 step run alone (bench/train_alone.py). Blocks up to 32 MB
    (glibc's limit) then come from the heap, and up to 1 GiB of freed heap is kept. A process-wide setting, made by
    the training command line; a no-op (False) where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # glibc only: musl's mallopt does nothing
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


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
