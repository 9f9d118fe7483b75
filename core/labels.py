"""What the labels of a data set are: one multi-class label, or several binary attributes.

The model's classifier q(y|z_c) and conditional prior p(z_c|y) take their shape from a ``LabelSpec``; it is
saved in ``config.json`` so a run can be rebuilt without its data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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
