"""Image arrays for display and export, one implementation for the explorer and the figures; and how an image
file's pixels become the picture a person sees, one implementation for training data and the explorer.

float [C, H, W] in [0, 1] (torch or numpy) or uint8 -> uint8 [H, W] (grey) / [H, W, 3] (colour); whole-factor
nearest-neighbour upscaling (crisp pixels for 28x28 digits); grids of equally sized images. Qt-free and torch-free
(tensors are recognised by duck typing).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

# grey modes with more than 8 bits: PIL's convert("L") clips them at 255 (a 16-bit microscope image turned
# almost white), so they are scaled from their full range instead
_DEEP_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _full_range(mode: str, values: np.ndarray) -> float:
    """The value that means white: 65535 for 16-bit grey; for 32-bit integers ("I", which 16-bit files also
    open as) 65535 when every value fits 16 bits, else 2^31 - 1; 1.0 for floating point ("F")."""
    if mode == "F":
        return 1.0
    if mode == "I" and values.size and float(values.max()) > 65535:
        return float(2 ** 31 - 1)
    return 65535.0


def as_seen(image: Image.Image, channels: int) -> Image.Image:
    """An opened image as a viewer shows it, in a mode ready to crop and resize: its EXIF orientation applied,
    transparency laid on white, then 8-bit "L" (``channels`` 1) or "RGB" (3); a grey image of more than 8 bits
    becomes a float "F" image in [0, 1] (``pixels`` makes it three channels when asked for colour)."""
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except Exception:  # noqa: BLE001 - a damaged EXIF block (struct, key or value errors): the pixels are still
        pass  # good, and are read as stored
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        image = flat
    if image.mode in _DEEP_GREY:
        values = np.asarray(image, dtype=np.float32)
        return Image.fromarray(np.clip(values / _full_range(image.mode, values), 0.0, 1.0), mode="F")
    return image.convert("L" if channels == 1 else "RGB")


def pixels(image: Image.Image, channels: int) -> np.ndarray:
    """float32 [H, W] (``channels`` 1) or [H, W, 3] in [0, 1] of an image from ``as_seen`` (cropped or resized)."""
    if image.mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        return grey if channels == 1 else np.repeat(grey[..., None], 3, axis=-1)
    return np.asarray(image, dtype=np.float32) / 255.0


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
