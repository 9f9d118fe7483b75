"""Mini-batches over a chosen part of a data set (e.g. its labelled or unlabelled training images)."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from core.data.imageset import ImageSet


def iterate_batches(data: ImageSet, indices: np.ndarray, batch_size: int, *, shuffle: bool,
                    generator: torch.Generator | None, drop_last: bool = False, num_workers: int = 0,
                    pin_memory: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yields (images float32 [B, C, H, W], labels int64 [B] or float32 [B, A]) over ``indices`` once.

    Every index is visited exactly once per call (the last batch may be smaller unless ``drop_last``).
    With ``shuffle`` the order is ``torch.randperm`` drawn from ``generator`` (the global RNG when None), so a
    seeded generator repeats the same epoch order. In-memory sets index their uint8 tensor per batch, with
    no per-item Python work; file-backed sets go through a DataLoader (``num_workers``, ``pin_memory``),
    which only ever holds a few batches, never the whole set.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = torch.as_tensor(np.asarray(indices, dtype=np.int64).reshape(-1))
    if shuffle and len(order) > 1:
        order = order[torch.randperm(len(order), generator=generator)]
    n_batches = len(order) // batch_size if drop_last else -(-len(order) // batch_size)
    if n_batches == 0:
        return

    if data.in_memory:
        pin = pin_memory and torch.cuda.is_available()
        for b in range(n_batches):
            images, labels = data.get_batch(order[b * batch_size:(b + 1) * batch_size])
            yield (images.pin_memory(), labels.pin_memory()) if pin else (images, labels)
        return

    # The order is already fixed above, so the loader reads the subset sequentially: both paths give the
    # same batches for the same generator.
    subset = torch.utils.data.Subset(data, order.tolist())
    loader = torch.utils.data.DataLoader(subset, batch_size=batch_size, shuffle=False, drop_last=drop_last,
                                         num_workers=num_workers,
                                         pin_memory=pin_memory and torch.cuda.is_available())
    yield from loader
