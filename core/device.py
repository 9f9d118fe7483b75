"""Where tensors live: CUDA when there is one (``auto``), else the CPU; and how the process keeps CPU memory."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from contextlib import contextmanager
from functools import lru_cache

import torch

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# the largest mmap threshold glibc accepts on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): larger blocks are always mapped
_MMAP_THRESHOLD_MAX = 32 * 2**20
_KEPT_TRIM_THRESHOLD = 2**30
# after training: what glibc's own sliding thresholds reach once blocks of 32 MB have been freed
_TRIM_THRESHOLD_AFTER = 2 * _MMAP_THRESHOLD_MAX


@lru_cache(maxsize=1)
def _glibc():
    """The C library when it is glibc (Linux), else None (looked up once: the trainer asks every epoch)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version"):  # musl's mallopt does nothing
        return None
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return libc


@contextmanager
def freed_memory_kept(enabled: bool = True):
    """While inside, glibc's malloc keeps freed memory for the next training step instead of handing it back.

    By default glibc returns the top of its heap once more than about twice the largest freed block is free there,
    so every CPU training step faults the same pages in again and the kernel zeroes them: 40-80 MB a step at the
    CelebA setting, about 15% of our float32 step run alone (bench/train_alone.py). Inside, blocks up to 32 MB
    (glibc's limit) come from the heap and up to 1 GiB of freed heap is kept; on leaving, the heap is trimmed as
    glibc would and what was kept is handed back, so evaluation and the finish phase do not stack on it. A
    process-wide setting (the trainer's loop on the CPU); nothing happens where the C library is not glibc."""
    libc = _glibc() if enabled else None
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, _KEPT_TRIM_THRESHOLD)
    try:
        yield libc is not None
    finally:
        if libc is not None:
            libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_AFTER)
            libc.malloc_trim(0)


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
