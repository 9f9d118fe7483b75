"""Settings that say which data set to load and how much of it is labelled."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

DATASET_NAMES = ("mnist5k", "mnist", "fashion-mnist", "celeba", "folder")


@dataclass
class DataConfig:
    """Which data set, where it lives, and which training labels the model may see.

    Round-trips to JSON through ``dataclasses.asdict`` / ``DataConfig(**d)`` (or ``to_json`` / ``from_json``).
    """

    dataset: str = "mnist5k"       # one of DATASET_NAMES
    data_dir: str | None = None    # root folder for mnist, fashion-mnist, celeba and folder
    labels_csv: str | None = None  # folder: CSV of labels (default: <data_dir>/labels.csv)
    image_size: int | None = None  # folder: side length after resizing (default 28 grey, 64 colour)
    channels: int | None = None    # folder: 1 (grey) or 3 (RGB); default: taken from the first image
    sup_frac: float | None = None  # share of training images that keep their label (1.0 if num_labels is None)
    num_labels: int | None = None  # or: exact number of labelled training images (wins over sup_frac)
    seed: int = 0                  # fixes the labelled subset (and the split of a folder data set)
    num_workers: int = 0           # DataLoader workers for file-backed (lazily loaded) sets

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "DataConfig":
        return cls(**d)
