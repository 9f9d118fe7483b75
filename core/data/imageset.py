"""Image data sets: a common interface with an in-memory and a lazily loaded (file-backed) implementation.

Every set yields images as float32 [C, H, W] in [0, 1] and labels either as an int64 class index (one
multi-class label) or as a float32 [A] vector of 0/1 attributes (binary labels).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from core.data.errors import DataError
from core.imaging import as_seen, pixels

Indices = Sequence[int] | np.ndarray | torch.Tensor


class ImageSet(torch.utils.data.Dataset):
    """Base class of the data sets ``load_data`` returns.

    Attributes:
        labels: all labels, available without loading any image: int64 [N] (multi-class) or float32 [N, A].
        image_shape: (C, H, W) of every image.
        in_memory: True when all images are held in memory (then ``get_batch`` is a cheap tensor index).
    """

    labels: torch.Tensor
    image_shape: tuple[int, int, int]
    in_memory: bool

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (image float32 [C, H, W] in [0, 1], label int64 [] or float32 [A])."""
        raise NotImplementedError

    def get_batch(self, indices: Indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (images float32 [B, C, H, W] in [0, 1], labels int64 [B] or float32 [B, A])."""
        idx = _as_index_tensor(indices)
        if idx.numel() == 0:
            return torch.zeros((0, *self.image_shape)), self.labels[idx]
        images = torch.stack([self[int(i)][0] for i in idx])
        return images, self.labels[idx]


def _as_index_tensor(indices: Indices) -> torch.Tensor:
    if isinstance(indices, torch.Tensor):
        return indices.to(torch.int64).reshape(-1)
    return torch.as_tensor(np.asarray(indices, dtype=np.int64).reshape(-1))


class TensorImageSet(ImageSet):
    """All images in memory as one uint8 tensor [N, C, H, W]; converted to float only per batch.

    Keeping uint8 costs a quarter of the memory of float32 (60,000 MNIST images: 47 MB instead of 188 MB).
    """

    in_memory = True

    def __init__(self, images: torch.Tensor | np.ndarray, labels: torch.Tensor):
        images = torch.as_tensor(images)
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.images = images.contiguous()
        self.labels = labels
        self.image_shape = tuple(int(s) for s in images.shape[1:])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i].float().div_(255.0), self.labels[i]

    def get_batch(self, indices: Indices) -> tuple[torch.Tensor, torch.Tensor]:
        idx = _as_index_tensor(indices)
        return self.images[idx].float().div_(255.0), self.labels[idx]

    def subset(self, indices: Indices) -> "TensorImageSet":
        """A new in-memory set holding copies of the given images (used to cut train/val/test)."""
        idx = _as_index_tensor(indices)
        return TensorImageSet(self.images[idx], self.labels[idx])

    def __repr__(self) -> str:
        return f"TensorImageSet(n={len(self)}, image_shape={self.image_shape})"


RESIZE_MODES = ("squash", "crop", "pad")
# squash keeps every pixel of the picture, so nothing that decides the class is cut away (a crop can cut a
# feature at the edge); for the near-square photos most folders hold the stretch is small, and it is what runs
# made before --resize existed were trained with, so their data reloads unchanged.
DEFAULT_RESIZE = "squash"


class ImageFileLoader:
    """Opens one image file and turns it into float32 [C, H, W] in [0, 1].

    A small picklable object rather than a closure, so DataLoader workers can receive it.

    Args:
        channels: 1 (grey, PIL mode "L") or 3 (RGB).
        size: side length of the square output.
        resize: how a picture that is not square becomes square: "squash" (stretch it), "crop" (centre-crop
            the largest square, keeping the aspect ratio) or "pad" (centre it on a black square, keeping the
            aspect ratio and every pixel).
    """

    def __init__(self, channels: int, size: int, resize: str = DEFAULT_RESIZE):
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
        self.channels = channels
        self.size = size
        self.resize = resize

    def __call__(self, path: str) -> torch.Tensor:
        try:
            with Image.open(path) as img:
                if img.format == "JPEG":
                    # decode at the smallest of 1/2, 1/4, 1/8 scale still at least size x size (the DCT does the
                    # shrinking): a 12-megapixel photo decodes several times faster for a 64x64 model
                    img.draft("L" if self.channels == 1 else "RGB", (self.size, self.size))
                img = as_seen(img, self.channels)  # orientation, transparency, 16-bit grey: as a viewer shows it
                if self.resize == "crop":
                    img = _centre_crop_square(img)
                elif self.resize == "pad":
                    img = _pad_square(img)
                if img.size != (self.size, self.size):
                    # PIL's bilinear filter widens its support when shrinking, so this also anti-aliases.
                    img = img.resize((self.size, self.size), Image.Resampling.BILINEAR)
                values = pixels(img, self.channels)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise DataError(f"{path}: cannot decode image ({type(e).__name__}: {e})") from None
        tensor = torch.from_numpy(values)
        return tensor.unsqueeze(0) if self.channels == 1 else tensor.permute(2, 0, 1).contiguous()


def _centre_crop_square(img: Image.Image) -> Image.Image:
    width, height = img.size
    side = min(width, height)
    left = (width - side) // 2
    top = (height - side) // 2
    return img.crop((left, top, left + side, top + side))


def _pad_square(img: Image.Image) -> Image.Image:
    width, height = img.size
    if width == height:
        return img
    side = max(width, height)
    square = Image.new(img.mode, (side, side), 0)
    square.paste(img, ((side - width) // 2, (side - height) // 2))
    return square


class FileImageSet(ImageSet):
    """Images read from disk one at a time; only the paths and the labels stay in memory.

    Paths are kept in a numpy string array rather than a list of Python strings: one buffer, no per-string
    objects, so forked DataLoader workers do not copy it page by page through reference counting.
    """

    in_memory = False

    def __init__(self, paths: np.ndarray | Sequence[str], labels: torch.Tensor, loader: ImageFileLoader):
        paths = np.asarray(paths, dtype=np.str_)
        if paths.ndim != 1 or paths.shape[0] != labels.shape[0]:
            raise ValueError(f"{paths.shape[0]} paths but {labels.shape[0]} labels")
        self.paths = paths
        self.labels = labels
        self.loader = loader
        self.image_shape = (loader.channels, loader.size, loader.size)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.loader(str(self.paths[i])), self.labels[i]

    def subset(self, indices: Indices) -> "FileImageSet":
        idx = _as_index_tensor(indices).numpy()
        return FileImageSet(self.paths[idx], self.labels[torch.from_numpy(idx)], self.loader)

    def __repr__(self) -> str:
        return f"FileImageSet(n={len(self)}, image_shape={self.image_shape})"
