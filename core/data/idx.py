"""MNIST and Fashion-MNIST from their four original IDX files (plain or gzipped).

The files are looked up directly in ``data_dir`` (Debian's ``dataset-fashion-mnist`` installs them in
``/usr/share/datasets/fashion-mnist``) or in torchvision's layout ``data_dir/MNIST/raw`` resp.
``data_dir/FashionMNIST/raw``.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from core.data.errors import DataError
from core.data.imageset import TensorImageSet
from core.data.splits import random_split
from core.labels import MULTICLASS, LabelSpec

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, rows, cols)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (N)
GZIP_MAGIC = b"\x1f\x8b"
VAL_SHARE = 5000 / 60000  # 60,000 original training images -> 55,000 train / 5,000 validation
SPLIT_SEED = 0  # fixed so that every run validates on the same images

FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot")
DIGIT_NAMES = tuple(str(d) for d in range(10))

# dataset name -> (torchvision folder name, class names, default data_dir, hint when files are missing)
IDX_DATASETS = {
    "mnist": ("MNIST", DIGIT_NAMES, None,
              "put the four MNIST files, e.g. torchvision's MNIST/raw, in a folder and pass --data-dir"),
    "fashion-mnist": ("FashionMNIST", FASHION_NAMES, "/usr/share/datasets/fashion-mnist",
                      "install Debian's dataset-fashion-mnist or pass --data-dir"),
}
FILE_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
              "t10k-labels-idx1-ubyte")


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Reads one IDX file of unsigned bytes; checks the magic number and that the size matches the header.

    Returns uint8 [N] (labels) or [N, rows, cols] (images).
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == GZIP_MAGIC:  # detect by content, not name: a renamed file still loads
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: cannot read IDX file ({type(e).__name__}: {e})") from None
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes, header alone needs {header_size})")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(f"{path}: IDX magic number {found:#010x}, expected {magic:#010x}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header_size + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        raise DataError(f"{path}: IDX header says shape {shape} ({expected} bytes) but the file has "
                        f"{len(raw)} bytes (truncated or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def find_idx_files(name: str, data_dir: str | None) -> dict[str, Path]:
    """Maps each of the four file stems to an existing file (plain or .gz) in data_dir or its raw/ folder."""
    folder_name, _, default_dir, hint = IDX_DATASETS[name]
    if data_dir is None:
        if default_dir is None:
            raise DataError(f"{name}: no data folder given; {hint}")
        data_dir = default_dir
    root = Path(data_dir)
    candidates = (root, root / folder_name / "raw")
    found = {}
    for stem in FILE_STEMS:
        paths = [d / (stem + ext) for d in candidates for ext in ("", ".gz")]
        existing = [p for p in paths if p.is_file()]
        if not existing:
            raise DataError(f"{name}: no {stem}(.gz) in {candidates[0]} or {candidates[1]} ({hint})")
        found[stem] = existing[0]
    return found


def load_idx_dataset(name: str, data_dir: str | None
                     ) -> tuple[TensorImageSet, TensorImageSet, TensorImageSet, LabelSpec]:
    """Returns (train, val, test) in-memory sets of shape (1, 28, 28) and the LabelSpec.

    The original training file is split 55,000 / 5,000 (11:1 for other sizes) with a fixed seed; the
    t10k files are the test set.
    """
    files = find_idx_files(name, data_dir)
    class_names = IDX_DATASETS[name][1]
    full_train = _image_label_pair(files["train-images-idx3-ubyte"], files["train-labels-idx1-ubyte"],
                                   len(class_names))
    test = _image_label_pair(files["t10k-images-idx3-ubyte"], files["t10k-labels-idx1-ubyte"],
                             len(class_names))
    n = len(full_train)
    if n < 2:
        raise DataError(f"{files['train-images-idx3-ubyte']}: {n} training image(s), at least 2 are needed")
    n_val = max(1, int(round(n * VAL_SHARE)))
    train_idx, val_idx = random_split(n, (n - n_val, n_val), SPLIT_SEED)
    spec = LabelSpec(MULTICLASS, class_names)
    return full_train.subset(train_idx), full_train.subset(val_idx), test, spec


def _image_label_pair(images_path: Path, labels_path: Path, num_classes: int) -> TensorImageSet:
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{images_path}: {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels")
    if labels.size and labels.max() >= num_classes:
        raise DataError(f"{labels_path}: label {labels.max()} found, expected 0..{num_classes - 1}")
    # Copy out of the read-only bytes buffer: torch tensors must own writable memory.
    return TensorImageSet(torch.from_numpy(images.copy()).unsqueeze(1),
                          torch.from_numpy(labels.astype(np.int64)))
