"""The encoded evaluation images of a run, saved as ``latents.npz`` for the explorer and the study.

Up to ``map_points`` images are taken from the test split first, then validation, then training, so a small
data set still gives a well-filled map. Each point keeps where it came from (split and index), its label, the
encoder means of z_c and of the style, and the classifier's probabilities. The images themselves are stored
when they are small (MNIST-like); large ones are reloaded from the data set on demand.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.checkpoint import atomic_write_bytes

LATENTS_FILE = "latents.npz"
MAPS_FILE = "maps.npz"
SPLIT_NAMES = ("test", "val", "train")
_MAX_STORED_IMAGE_BYTES = 64 * 2**20
# Thumbnails, when the full images are too big to keep: the largest side that keeps them under the budget
# (never above the image's own side). 10,000 RGB points get 32x32: 30 MB raw, less compressed (see README).
_THUMBNAIL_BUDGET_BYTES = 32 * 2**20
_THUMBNAIL_SIDES = (64, 48, 32)


@dataclass
class Latents:
    z_c: np.ndarray          # [N, Dc] float32
    z_style: np.ndarray      # [N, Ds] float32
    labels: np.ndarray       # [N] int64 classes or [N, A] float32 attributes
    probs: np.ndarray        # [N, K] or [N, A] classifier probabilities at z_c
    split: np.ndarray        # [N] int8 index into SPLIT_NAMES
    index: np.ndarray        # [N] int64 index within that split
    images: np.ndarray | None = None  # [N, C, H, W] uint8, when stored
    thumbnails: np.ndarray | None = None  # [N, C, t, t] uint8, when the images are too big to store

    def __len__(self) -> int:
        return len(self.z_c)


def select_points(splits, limit: int) -> list[tuple[int, np.ndarray]]:
    """Which images get a point: [(split id, indices)], test first, at most ``limit`` in all."""
    chosen, left = [], limit
    for sid, name in enumerate(SPLIT_NAMES):
        n = min(len(getattr(splits, name)), left)
        if n > 0:
            chosen.append((sid, np.arange(n)))
            left -= n
    return chosen


def thumbnail_side(count: int, image_shape: tuple[int, int, int]) -> int:
    """Side of the stored thumbnails of ``count`` images of ``image_shape`` (C, H, W)."""
    channels, side = int(image_shape[0]), int(image_shape[1])
    fitting = [t for t in _THUMBNAIL_SIDES if count * channels * t * t <= _THUMBNAIL_BUDGET_BYTES]
    return min(side, fitting[0] if fitting else _THUMBNAIL_SIDES[-1])


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x * 255).round().clamp(0, 255).to(torch.uint8).numpy()


@torch.inference_mode()
def encode_points(model, splits, limit: int, device, batch_size: int = 500, num_workers: int = 0) -> Latents:
    from core.data import iterate_batches

    model.eval()
    parts: dict[str, list] = {k: [] for k in ("z_c", "z_style", "labels", "probs", "split", "index", "images",
                                              "thumbnails")}
    shape = tuple(splits.image_shape)
    count = sum(len(i) for _, i in select_points(splits, limit))  # the points there are, not the limit
    store_images = count * int(np.prod(shape)) <= _MAX_STORED_IMAGE_BYTES
    side = thumbnail_side(count, shape)
    for sid, indices in select_points(splits, limit):
        data = getattr(splits, SPLIT_NAMES[sid])
        for x, y in iterate_batches(data, indices, batch_size, shuffle=False, generator=None, num_workers=num_workers):
            loc, _ = model.encode(x.to(device))
            z_c, z_s = model.split(loc.float())
            parts["z_c"].append(z_c.cpu().numpy())
            parts["z_style"].append(z_s.cpu().numpy())
            parts["probs"].append(model.classify(z_c).cpu().numpy())
            parts["labels"].append(y.numpy())
            if store_images:
                parts["images"].append(_to_uint8(x))
            else:  # antialiased bilinear: a smooth small picture, not every n-th pixel
                parts["thumbnails"].append(_to_uint8(torch.nn.functional.interpolate(
                    x.float(), size=(side, side), mode="bilinear", antialias=True, align_corners=False)))
        parts["split"].append(np.full(len(indices), sid, dtype=np.int8))
        parts["index"].append(indices.astype(np.int64))
    arrays = {k: np.concatenate(v) for k, v in parts.items() if v}
    return Latents(**arrays)


def save_latents(run_dir: Path, latents: Latents) -> None:
    arrays = {k: v for k, v in vars(latents).items() if v is not None}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(Path(run_dir) / LATENTS_FILE, buffer.getvalue())


def load_latents(run_dir: Path) -> Latents:
    path = Path(run_dir) / LATENTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no latents in this run (train it to the end, or run `ccvae-train latents {run_dir}`)")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        return Latents(**arrays)
    except (ValueError, OSError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as e:  # a truncated .npz: a broken zip
        raise ValueError(f"{path}: unreadable latents file ({type(e).__name__})") from None
