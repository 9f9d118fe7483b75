"""A user's own images listed in a CSV file, loaded lazily.

The CSV needs a header row. Its first column is the image path relative to ``data_dir``; then either one
label column (multi-class: any values, at least two distinct ones) or several columns of binary attributes
(0/1, -1/1 or true/false).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.data.errors import DataError
from core.data.imageset import FileImageSet, ImageFileLoader
from core.data.splits import split_keeping_label_share
from core.labels import BINARY, MULTICLASS, UNLABELLED_CLASS, LabelSpec, labelled_mask
from core.networks import IMAGE_SIZES

VAL_FRAC = 0.1
TEST_FRAC = 0.1
GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
TRUE_WORDS = {"1", "true"}
FALSE_WORDS = {"0", "-1", "false"}


def read_label_csv(csv_path: Path, data_dir: Path) -> tuple[np.ndarray, torch.Tensor, LabelSpec]:
    """Parses the CSV; returns (image paths as a numpy string array, labels, LabelSpec).

    Labels: int64 [N] class indices (one label column) or float32 [N, A] of 0/1 (several columns).
    Every listed image is checked to exist (one stat each; none is opened).
    """
    rows, line_numbers, header = _read_rows(csv_path, data_dir)
    label_names = header[1:]
    if len(label_names) == 1:
        labels, spec = _multiclass_labels(csv_path, [r[1] for r in rows], label_names[0])
    else:
        labels, spec = _binary_labels(csv_path, rows, line_numbers, label_names)

    paths = np.array([os.path.join(data_dir, r[0]) for r in rows], dtype=np.str_)
    for path, line_no in zip(paths, line_numbers):
        if not os.path.isfile(path):
            raise DataError(f"{csv_path}: line {line_no} lists {path}, which does not exist")
    return paths, labels, spec


def _read_rows(csv_path: Path, data_dir: Path) -> tuple[list[list[str]], list[int], list[str]]:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets often add a BOM
            reader = csv.reader(f)
            table = [([cell.strip() for cell in row], reader.line_num) for row in reader
                     if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{csv_path}: cannot read CSV ({type(e).__name__}: {e})") from None
    if not table:
        raise DataError(f"{csv_path}: empty; expected a header row (path, label...) and one row per image")
    header = table[0][0]
    if len(header) < 2:
        raise DataError(f"{csv_path}: header has {len(header)} column(s); expected an image path column "
                        "and at least one label column")
    if os.path.isfile(os.path.join(data_dir, header[0])):
        raise DataError(f"{csv_path}: the first row names an image ({header[0]}); a header row is required")
    if len(set(header[1:])) != len(header) - 1:
        raise DataError(f"{csv_path}: label column names in the header must be distinct, got {header[1:]}")
    rows, line_numbers = [], []
    for row, line_no in table[1:]:
        if len(row) != len(header):
            raise DataError(f"{csv_path}: line {line_no} has {len(row)} columns, the header has {len(header)}")
        if not row[0]:
            raise DataError(f"{csv_path}: line {line_no} has an empty image path")
        rows.append(row)
        line_numbers.append(line_no)
    if not rows:
        raise DataError(f"{csv_path}: no image rows after the header")
    return rows, line_numbers, header


def _numeric_aware_key(value: str) -> tuple:
    """Sorts "2" before "10", and numbers before words."""
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _multiclass_labels(csv_path: Path, values: list[str], column: str) -> tuple[torch.Tensor, LabelSpec]:
    """Class indices; an empty cell leaves the image unlabelled (UNLABELLED_CLASS), it is never a class."""
    names = sorted({v for v in values if v}, key=_numeric_aware_key)
    if len(names) < 2:
        raise DataError(f"{csv_path}: column {column!r} has {len(names)} distinct label(s) among the labelled "
                        "rows; a multi-class label needs at least 2 (an empty cell means: no label)")
    index = {name: k for k, name in enumerate(names)}
    labels = torch.tensor([index[v] if v else UNLABELLED_CLASS for v in values], dtype=torch.int64)
    return labels, LabelSpec(MULTICLASS, tuple(names))


def _binary_labels(csv_path: Path, rows: list[list[str]], line_numbers: list[int],
                   names: list[str]) -> tuple[torch.Tensor, LabelSpec]:
    """0/1 attributes; a row whose attribute cells are all empty is unlabelled (NaN), a partly empty row is refused.

    Partial rows are refused rather than guessed: the model's labelled objective needs every attribute of y, and
    filling the gaps (with 0 or the prior) would teach it values nobody gave.
    """
    values = np.zeros((len(rows), len(names)), dtype=np.float32)
    for r, (row, line_no) in enumerate(zip(rows, line_numbers)):
        cells = row[1:]
        empty = [names[c] for c, cell in enumerate(cells) if not cell]
        if len(empty) == len(names):
            values[r] = np.nan
            continue
        if empty:
            raise DataError(f"{csv_path}: line {line_no} leaves {', '.join(map(repr, empty))} empty but sets other "
                            "attributes; give every attribute, or leave them all empty for an unlabelled image")
        for c, cell in enumerate(cells):
            word = cell.lower()
            if word in TRUE_WORDS:
                values[r, c] = 1.0
            elif word not in FALSE_WORDS:
                raise DataError(f"{csv_path}: line {line_no} column {names[c]!r} is {cell!r}; binary "
                                "attributes must be 0/1, -1/1 or true/false")
    if np.isnan(values[:, 0]).all():
        raise DataError(f"{csv_path}: no row has attribute values; at least some images need labels")
    return torch.from_numpy(values), LabelSpec(BINARY, tuple(names))


def detect_channels(path: str) -> int:
    """1 if the image's mode is grey, else 3 (read from the header only; pixels are not decoded)."""
    try:
        with Image.open(path) as img:
            mode = img.mode
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: cannot decode image ({type(e).__name__}: {e})") from None
    return 1 if mode in GREY_MODES else 3


def load_folder(data_dir: str | None, labels_csv: str | None, image_size: int | None, channels: int | None,
                seed: int) -> tuple[FileImageSet, FileImageSet, FileImageSet, LabelSpec]:
    """Returns lazily loaded (train, val, test) sets, split 80/10/10 at random with ``seed``."""
    if data_dir is None:
        raise DataError("folder: no data folder given; pass --data-dir (the folder the CSV's paths are "
                        "relative to)")
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"folder: data folder {root} does not exist")
    csv_path = Path(labels_csv) if labels_csv is not None else root / "labels.csv"
    if not csv_path.is_file():
        raise DataError(f"folder: label CSV {csv_path} does not exist (pass --labels-csv or put labels.csv "
                        f"in {root})")
    paths, labels, spec = read_label_csv(csv_path, root)

    if channels is None:
        channels = detect_channels(str(paths[0]))
    if channels not in (1, 3):
        raise DataError(f"folder: channels must be 1 (grey) or 3 (RGB), got {channels}")
    if image_size is None:
        image_size = 28 if channels == 1 else 64
    if isinstance(image_size, bool) or image_size not in IMAGE_SIZES:
        raise DataError(f"folder: image size must be one of {', '.join(map(str, IMAGE_SIZES))} (the networks' "
                        f"sizes), got {image_size}")

    parts = split_keeping_label_share(labelled_mask(labels).numpy(), VAL_FRAC, TEST_FRAC, seed, str(csv_path))
    loader = ImageFileLoader(channels=channels, size=int(image_size), crop_square=False)
    sets = [FileImageSet(paths[idx], labels[torch.from_numpy(idx)], loader) for idx in parts]
    return sets[0], sets[1], sets[2], spec
