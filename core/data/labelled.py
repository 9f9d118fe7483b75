"""Which training images keep their label, and the label prior p(y) estimated from them."""
from __future__ import annotations

import math

import numpy as np
import torch

from core.data.errors import DataError
from core.labels import LabelSpec, labelled_mask

PRIOR_CLIP = 1e-3  # keeps log p(y) finite for attributes that are never (or always) on in the labelled subset


def count_labelled(n: int, sup_frac: float | None, num_labels: int | None) -> int:
    """Number of labelled images out of ``n`` training images that have a label; ``num_labels`` wins when both
    are given."""
    if num_labels is not None:
        if isinstance(num_labels, bool) or int(num_labels) != num_labels or not 1 <= num_labels <= n:
            raise DataError(f"num_labels must be a whole number between 1 and {n} (the training images that "
                            f"have a label), got {num_labels}")
        return int(num_labels)
    if sup_frac is None:
        return n
    if not (isinstance(sup_frac, (int, float)) and math.isfinite(sup_frac) and 0 < sup_frac <= 1):
        raise DataError(f"sup_frac must be in (0, 1], got {sup_frac}")
    # At least one label: a tiny fraction of a small set must still leave something to supervise.
    return max(1, int(round(sup_frac * n)))


def choose_labelled(labels: torch.Tensor, spec: LabelSpec, sup_frac: float | None, num_labels: int | None,
                    seed: int) -> np.ndarray:
    """Picks the training images whose labels the model may see, among those that have a label.

    Args:
        labels: int64 [N] class indices (multi-class) or float32 [N, A] attributes (binary); images without a
            label (class -1, NaN attributes) are never picked.
        spec: what the labels are.
        sup_frac: share of the labelled images to keep labelled, in (0, 1]; 1.0 when both it and num_labels
            are None.
        num_labels: exact number of labelled images, 1..(images with a label); takes precedence over sup_frac.
        seed: fixes the choice.

    Returns:
        Sorted int64 indices into ``labels``. Multi-class: as class-balanced as the class sizes allow (the
        count is shared equally; classes too small to fill their share give the rest to the others).
        Binary: a uniform random subset (balancing 2^A attribute combinations is not meaningful).
    """
    if int(labels.shape[0]) == 0:
        raise DataError("choose_labelled: the training set is empty")
    candidates = np.flatnonzero(labelled_mask(labels).cpu().numpy()).astype(np.int64)
    n = len(candidates)
    if n == 0:
        raise DataError("no training image has a label; label at least a few (semi-supervised training "
                        "needs some labelled images)")
    count = count_labelled(n, sup_frac, num_labels)
    rng = np.random.default_rng(seed)
    if count == n:
        return candidates
    if not spec.is_multiclass:
        return np.sort(candidates[rng.choice(n, size=count, replace=False)]).astype(np.int64)

    classes = labels.cpu().numpy().astype(np.int64)[candidates]
    members = [candidates[classes == k] for k in range(spec.size)]
    quotas = _balanced_quotas(np.array([len(m) for m in members]), count, rng)
    chosen = [rng.permutation(m)[:q] for m, q in zip(members, quotas)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _balanced_quotas(sizes: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Splits ``count`` over classes of the given sizes as equally as possible, never above a class's size.

    Water-filling: give every class that still has room an equal share; classes that run out pass their
    unused share on. Leftovers smaller than one per class go to randomly chosen classes, so no class is
    systematically favoured.
    """
    quotas = np.zeros_like(sizes)
    remaining = count
    while remaining > 0:
        open_classes = np.flatnonzero(quotas < sizes)
        share = remaining // len(open_classes)
        if share == 0:
            lucky = rng.choice(open_classes, size=remaining, replace=False)
            quotas[lucky] += 1
            break
        room = sizes[open_classes] - quotas[open_classes]
        given = np.minimum(room, share)
        quotas[open_classes] += given
        remaining -= int(given.sum())
    return quotas


def label_prior(labels: torch.Tensor, spec: LabelSpec) -> torch.Tensor:
    """p(y) from the labels of the labelled subset.

    Args:
        labels: int64 [M] or float32 [M, A], the labelled images' labels only.

    Returns:
        Multi-class: float32 [K] class frequencies with add-one smoothing (sums to 1, no zeros, so log p(y)
        is finite for classes absent from a tiny labelled subset). Binary: float32 [A] P(attribute = 1),
        clipped to [1e-3, 1 - 1e-3].
    """
    if spec.is_multiclass:
        counts = torch.bincount(labels.to(torch.int64).reshape(-1), minlength=spec.size)[: spec.size]
        counts = counts.to(torch.float64) + 1.0
        return (counts / counts.sum()).to(torch.float32)
    if labels.shape[0] == 0:
        return torch.full((spec.size,), 0.5)
    return labels.to(torch.float64).mean(0).clamp(PRIOR_CLIP, 1 - PRIOR_CLIP).to(torch.float32)
