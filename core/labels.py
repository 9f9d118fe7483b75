"""What the labels of a data set are: one multi-class label, or several binary attributes.

The model's classifier q(y|z_c) and conditional prior p(z_c|y) take their shape from a ``LabelSpec``; it is
saved in ``config.json`` so a run can be rebuilt without its data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MULTICLASS = "multiclass"
BINARY = "binary"


@dataclass(frozen=True)
class LabelSpec:
    kind: str  # MULTICLASS: one label with len(names) classes; BINARY: len(names) independent 0/1 attributes
    names: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if self.kind not in (MULTICLASS, BINARY):
            raise ValueError(f"label kind must be '{MULTICLASS}' or '{BINARY}', not {self.kind!r}")
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        minimum = 2 if self.kind == MULTICLASS else 1
        if len(self.names) < minimum:
            raise ValueError(f"a {self.kind} label needs at least {minimum} names, got {len(self.names)}")

    @property
    def is_multiclass(self) -> bool:
        return self.kind == MULTICLASS

    @property
    def size(self) -> int:
        """Number of classes (multi-class) or of attributes (binary)."""
        return len(self.names)

    def to_json(self) -> dict:
        return {"kind": self.kind, "names": list(self.names)}

    @classmethod
    def from_json(cls, data: dict) -> "LabelSpec":
        return cls(kind=data["kind"], names=tuple(data["names"]))


# An image without a label: class index -1 (multi-class) or a row of NaN attributes (binary). Such images are
# trained by the unlabelled objective only and left out of every accuracy.
UNLABELLED_CLASS = -1


def labelled_mask(labels):
    """Which rows carry a label: bool [N] (a numpy array for numpy labels, a tensor for tensor labels).

    labels: int [N] class indices (``UNLABELLED_CLASS`` for none) or float [N, A] attributes (NaN for none).
    """
    if labels.ndim == 1:
        return labels >= 0
    if hasattr(labels, "isnan"):  # torch
        return ~labels.isnan().any(-1)
    return ~np.isnan(labels).any(-1)


def first_per_class(labels, num_classes: int) -> list[int]:
    """Index of the first example of each class 0..num_classes-1, in class order; absent classes are skipped.
    ``labels``: a 1-D array or tensor of class indices."""
    found: dict[int, int] = {}
    for i, y in enumerate(np.asarray(labels).reshape(-1).tolist()):
        found.setdefault(int(y), i)
    return [found[c] for c in range(num_classes) if c in found]
