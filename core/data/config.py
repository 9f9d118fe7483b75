"""Settings that say which data set to load and how much of it is labelled."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

DATASET_NAMES = ("mnist5k", "mnist5k-morpho", "mnist", "fashion-mnist", "celeba", "folder")


@dataclass
class DataConfig:
    """Which data set, where it lives, and which training labels the model may see.

    Round-trips to JSON through ``dataclasses.asdict`` / ``DataConfig(**d)`` (or ``to_json`` / ``from_json``).
    """

    dataset: str = "mnist5k"       # one of DATASET_NAMES
    data_dir: str | None = None    # root folder for mnist, fashion-mnist, celeba and folder
    labels_csv: str | None = None  # folder: CSV of labels (default: <data_dir>/labels.csv)
    image_size: int | None = None  # folder: side length after resizing (default 28 grey, 64 colour)
    channels: int | None = None    # folder: 1 (grey) or 3 (RGB); default: RGB when any image is in colour
    resize: str = "squash"         # folder: squash | crop | pad, how pictures that are not square become square
    sup_frac: float | None = None  # share of training images that keep their label (1.0 if num_labels is None)
    num_labels: int | None = None  # or: exact number of labelled training images (wins over sup_frac)
    seed: int = 0                  # fixes the labelled subset (and the split of a folder data set)
    num_workers: int = 0           # DataLoader workers for file-backed (lazily loaded) sets

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "DataConfig":
        return cls(**d)


def add_source_arguments(group) -> None:
    """The command-line options that say where the data are (shared by training and the study)."""
    group.add_argument("--dataset", default="mnist5k", help="mnist5k (embedded, default), mnist5k-morpho (the same digits, 5 binary shape attributes), mnist, fashion-mnist, celeba or folder")
    group.add_argument("--data-dir", help="folder holding the data set (torchvision layout, IDX files, CelebA, or your images)")
    group.add_argument("--labels-csv", help="folder data set: CSV of labels (default <data-dir>/labels.csv)")
    group.add_argument("--image-size", type=int, help="folder data set: side of the square images the model takes: 28, 32, 64 or 128 (default 28 grey, 64 RGB)")
    group.add_argument("--channels", type=int, choices=(1, 3), help="folder data set: 1 grey or 3 RGB")
    group.add_argument("--resize", choices=("squash", "crop", "pad"), default="squash",
                       help="folder data set: how pictures that are not square become square: squash (stretch; "
                            "default: nothing is cut off), crop (centre square) or pad (black borders)")


def source_settings(args: argparse.Namespace) -> dict:
    """The DataConfig fields that ``add_source_arguments`` set."""
    return dict(dataset=args.dataset, data_dir=args.data_dir, labels_csv=args.labels_csv,
                image_size=args.image_size, channels=args.channels, resize=args.resize)
