"""Image arrays for display and export, one implementation for the explorer and the figures.

float [C, H, W] in [0, 1] (torch or numpy) or uint8 -> uint8 [H, W] (grey) / [H, W, 3] (colour); whole-factor
nearest-neighbour upscaling (crisp pixels for 28x28 digits); grids of equally sized images. Qt-free and torch-free
(tensors are recognised by duck typing).
"""
from __future__ import annotations

import numpy as np


def to_uint8(images) -> np.ndarray:
    """[C, H, W] or [B, C, H, W] (torch or numpy, float in [0, 1] or uint8) -> uint8 [H, W(, 3)] or [B, H, W(, 3)]."""
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    a = np.asarray(images)
    if a.dtype != np.uint8:
        a = (np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if a.ndim not in (3, 4):
        raise ValueError(f"expected [C, H, W] or [B, C, H, W], got shape {a.shape}")
    a = np.moveaxis(a, -3, -1)  # channels last
    if a.shape[-1] == 1:
        a = a[..., 0]
    return np.ascontiguousarray(a)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale of [H, W(, C)] by a whole factor (factor <= 1 returns the image unchanged)."""
    factor = int(factor)
    if factor <= 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """[H, W] or [H, W, 3] uint8 -> [H, W, 3] uint8."""
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def tile(images, rows: int, cols: int, gap: int = 2, fill: int = 255, border: int = 0) -> np.ndarray:
    """Lay out up to rows * cols equally sized uint8 images (a sequence or [M, H, W(, 3)]) in a grid, row by row,
    with ``gap`` pixels of ``fill`` between them and ``border`` pixels of it around; missing cells stay ``fill``.

    Returns uint8 [rows*H + (rows-1)*gap + 2*border, cols*W + (cols-1)*gap + 2*border(, 3)].
    """
    images = [np.asarray(im) for im in images]
    if not images or len(images) > rows * cols:
        raise ValueError(f"{len(images)} images for a {rows}x{cols} grid")
    h, w = images[0].shape[:2]
    extra = images[0].shape[2:]
    out = np.full((rows * h + (rows - 1) * gap + 2 * border, cols * w + (cols - 1) * gap + 2 * border) + extra,
                  fill, dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        top, left = border + r * (h + gap), border + c * (w + gap)
        out[top:top + h, left:left + w] = im
    return out
