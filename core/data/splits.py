"""The train / validation / test split of a data set and the helpers that cut it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.data.errors import DataError
from core.data.imageset import ImageSet
from core.labels import LabelSpec


@dataclass
class DataSplits:
    """Everything training and evaluation need from a data set.

    ``labelled`` and ``unlabelled`` are sorted int64 indices into ``train`` that together cover it once;
    the labels of ``unlabelled`` images must not be used for training.
    """

    name: str
    train: ImageSet
    val: ImageSet
    test: ImageSet
    labelled: np.ndarray
    unlabelled: np.ndarray
    label_spec: LabelSpec
    image_shape: tuple[int, int, int]
    label_prior: torch.Tensor  # float32 [K] class frequencies or [A] P(attribute = 1)


def stratified_split(classes: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Splits indices class by class so every part keeps the class proportions.

    Args:
        classes: int [N] class index per item.
        fractions: share of each part; the last part takes what rounding leaves.
        seed: fixes the split.

    Returns:
        One sorted int64 index array per part.
    """
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for k in np.unique(classes):
        members = rng.permutation(np.flatnonzero(classes == k))
        bounds = np.round(np.cumsum(fractions[:-1]) * len(members)).astype(int)
        for part, chunk in zip(parts, np.split(members, bounds)):
            part.append(chunk)
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]


def random_split(n: int, sizes: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Splits range(n) at random into parts of the given sizes (which must add up to n); sorted int64 each."""
    if sum(sizes) != n:
        raise ValueError(f"split sizes {sizes} do not add up to {n}")
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum(sizes[:-1])
    return [np.sort(chunk).astype(np.int64) for chunk in np.split(order, bounds)]


def train_val_test_sizes(n: int, val_frac: float, test_frac: float, what: str) -> tuple[int, int, int]:
    """Sizes of an n-item split with at least one item in each part; DataError below three items."""
    if n < 3:
        raise DataError(f"{what}: {n} image(s), at least 3 are needed for train, validation and test")
    n_val = max(1, int(round(val_frac * n)))
    n_test = max(1, int(round(test_frac * n)))
    return n - n_val - n_test, n_val, n_test


def split_keeping_label_share(labelled: np.ndarray, val_frac: float, test_frac: float, seed: int,
                              what: str) -> list[np.ndarray]:
    """Seeded random train/val/test split in which labelled and unlabelled images are cut separately, so each
    part holds its share of both (a few labels among many images could otherwise all land in one part).

    Args:
        labelled: bool [N], which images carry a label.

    Returns:
        (train, val, test) sorted int64 indices. With every image labelled this is exactly
        ``random_split(N, train_val_test_sizes(N, ...), seed)``, the split of earlier versions.
    """
    n = len(labelled)
    have = np.flatnonzero(labelled)
    if len(have) == n:
        return random_split(n, train_val_test_sizes(n, val_frac, test_frac, what), seed)
    if n < 3:
        raise DataError(f"{what}: {n} image(s), at least 3 are needed for train, validation and test")
    # labelled: at least one per part when there are 3 or more (accuracy needs some); unlabelled: proportional
    sizes_l = train_val_test_sizes(len(have), val_frac, test_frac, what) if len(have) >= 3 else (len(have), 0, 0)
    lack = np.flatnonzero(~labelled)
    n_val, n_test = int(round(val_frac * len(lack))), int(round(test_frac * len(lack)))
    sizes_u = (len(lack) - n_val - n_test, n_val, n_test)
    parts = [np.concatenate([have[a], lack[b]]) for a, b in zip(random_split(len(have), sizes_l, seed),
                                                               random_split(len(lack), sizes_u, seed))]
    if any(len(p) == 0 for p in parts):
        raise DataError(f"{what}: {n} image(s) do not fill train, validation and test; add images")
    return [np.sort(p).astype(np.int64) for p in parts]
