"""The images of a user's folder data set before they are split: paths, labels and (optionally) their own split.

Both layouts a folder may have, a label CSV (``core.data.folder``) and class subfolders
(``core.data.classfolders``), produce a ``Listing``; ``split_listing`` then cuts it into train / val / test and
``check_images`` makes sure every image can be opened before anything is written.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, features

from core.data.errors import DataError
from core.data.splits import split_keeping_label_share
from core.labels import LabelSpec, labelled_mask

SPLITS = ("train", "val", "test")
VAL_FRAC = 0.1
TEST_FRAC = 0.1
GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
# the files a class folder may hold; anything else there (notes, .DS_Store, Thumbs.db) is ignored
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm",
                    ".pgm", ".pbm")  # .jfif: how Windows often saves a JPEG
if features.check_module("avif"):  # Pillow reads AVIF (phones and browsers save it) from 11.3 with libavif
    IMAGE_EXTENSIONS += (".avif",)


@dataclass
class Listing:
    paths: np.ndarray          # str [N] full paths
    labels: torch.Tensor       # int64 [N] (-1: no label) or float32 [N, A] (NaN rows: no label)
    spec: LabelSpec
    split: np.ndarray | None   # int8 [N] index into SPLITS when the data say; None: split at random
    source: str                # what messages name (the CSV or the folder)


def split_listing(listing: Listing, seed: int) -> list[np.ndarray]:
    """(train, val, test) sorted int64 indices.

    The data's own split when given; a part it leaves empty (no val/ folder, no row marked test) is cut at random
    from its training part, 10% of it, seeded. Without a split of its own: a seeded random 80/10/10 split that
    keeps the share of labelled images in every part.
    """
    mask = labelled_mask(listing.labels).numpy()
    if listing.split is None:
        return split_keeping_label_share(mask, VAL_FRAC, TEST_FRAC, seed, listing.source)
    parts = [np.flatnonzero(listing.split == k).astype(np.int64) for k in range(len(SPLITS))]
    if len(parts[0]) == 0:
        raise DataError(f"{listing.source}: the data's own split has no training images (only "
                        f"{', '.join(n for n, p in zip(SPLITS, parts) if len(p))})")
    missing = [k for k in (1, 2) if len(parts[k]) == 0]
    if missing:
        train = parts[0]
        cut = split_keeping_label_share(mask[train], VAL_FRAC, TEST_FRAC, seed,
                                        f"{listing.source} (training part, cutting {' and '.join(SPLITS[k] for k in missing)})")
        kept = [cut[0]] + [cut[k] for k in (1, 2) if k not in missing]  # a cut part not needed goes back to train
        parts[0] = np.sort(train[np.concatenate(kept)])
        for k in missing:
            parts[k] = np.sort(train[cut[k]])
    return parts


def check_images(paths: np.ndarray) -> list[str]:
    """Opens every image's header (format, size, mode; pixels are not decoded) and returns the modes.

    An image that cannot be identified is refused here, naming it, before any run folder is written. (A file
    damaged past its header is found when it is first read, with the same one-line error.)
    """
    modes = []
    for path in paths:
        try:
            with Image.open(str(path)) as img:
                modes.append(img.mode)
                if img.width < 1 or img.height < 1:
                    raise ValueError("empty image")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise DataError(f"{path}: cannot decode image ({type(e).__name__}: {e}); remove it or replace it "
                            "(undecodable images are refused, not skipped)") from None
    return modes


def is_grey(mode: str) -> bool:
    return mode in GREY_MODES
