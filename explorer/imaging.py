"""Image arrays for display and export: float [C, H, W] in [0, 1] or uint8 -> uint8 [H, W] / [H, W, 3]; grids.

Qt-free. Grey images stay 2-D ([H, W]); colour images are [H, W, 3].
"""
from __future__ import annotations

import numpy as np


def to_uint8(images) -> np.ndarray:
    """[C, H, W] or [B, C, H, W] (torch or numpy, float in [0, 1] or uint8) -> uint8 [H, W(, 3)] or [B, H, W(, 3)]."""
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    a = np.asarray(images)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if a.ndim not in (3, 4):
        raise ValueError(f"expected [C, H, W] or [B, C, H, W], got shape {a.shape}")
    a = np.moveaxis(a, -3, -1)  # channels last
    if a.shape[-1] == 1:
        a = a[..., 0]
    return np.ascontiguousarray(a)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale of [H, W(, C)] by an integer factor (crisp pixels for 28x28 digits)."""
    if factor <= 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """[H, W] or [H, W, 3] uint8 -> [H, W, 3] uint8."""
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def tile(images, rows: int, cols: int, gap: int = 2, fill: int = 255) -> np.ndarray:
    """Lay out rows * cols images (a sequence or [rows*cols, H, W(, 3)]) in a grid with ``gap`` pixels between.

    Returns uint8 [rows*H + (rows-1)*gap, cols*W + (cols-1)*gap(, 3)].
    """
    images = [np.asarray(im) for im in images]
    if len(images) != rows * cols:
        raise ValueError(f"{len(images)} images for a {rows}x{cols} grid")
    h, w = images[0].shape[:2]
    extra = images[0].shape[2:]
    out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap) + extra, fill, dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = im
    return out
