"""The embedded default data set: 5,000 MNIST digits (500 per class) shipped in ``assets/mnist5k.npz``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.assets import MNIST5K
from core.data.errors import DataError
from core.data.imageset import TensorImageSet
from core.data.splits import stratified_split
from core.labels import MULTICLASS, LabelSpec

ASSET_PATH = MNIST5K  # beside core/ in a checkout and in an installed wheel (core.assets)
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # 400 / 50 / 50 images per class
SPLIT_SEED = 0  # fixed, not cfg.seed: runs with different seeds must be evaluated on the same test images
DIGIT_SPEC = LabelSpec(MULTICLASS, tuple(str(d) for d in range(10)))


def load_mnist5k(path: Path = ASSET_PATH) -> tuple[TensorImageSet, TensorImageSet, TensorImageSet, LabelSpec]:
    """Returns (train 4000, val 500, test 500) in-memory sets of shape (1, 28, 28), and the digit LabelSpec."""
    if not path.is_file():
        raise DataError(f"mnist5k: {path} is missing (it ships with the project under assets/)")
    try:
        with np.load(path) as archive:
            images, labels = archive["images"], archive["labels"]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"mnist5k: {path} is not an npz with 'images' and 'labels' arrays ({e})") from None
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) \
            or labels.shape != (images.shape[0],) or labels.size == 0 or labels.max() > 9:
        raise DataError(f"mnist5k: {path} should hold uint8 images [N, 28, 28] and labels [N] in 0..9, "
                        f"got {images.dtype} {images.shape} and {labels.shape}")
    full = TensorImageSet(torch.from_numpy(images).unsqueeze(1),
                          torch.from_numpy(labels.astype(np.int64)))
    train, val, test = stratified_split(labels, SPLIT_FRACTIONS, SPLIT_SEED)
    return full.subset(train), full.subset(val), full.subset(test), DIGIT_SPEC
