"""A user's own images, listed in a CSV file or laid out in class folders, loaded lazily.

The CSV needs a header row. Its first column is the image path relative to ``data_dir``; then either one
label column (multi-class: any values, at least two distinct ones) or several columns of binary attributes
(0/1, -1/1 or true/false). An empty label cell (all attribute cells empty) means the image has no label. An
optional column named ``split`` (train, val or test on every row) gives the data's own split.
Without a CSV the folder is read as class folders (``core.data.classfolders``).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import torch

from core.data.classfolders import has_class_folders, numeric_aware_key, read_class_folders
from core.data.errors import DataError
from core.data.imageset import DEFAULT_RESIZE, RESIZE_MODES, FileImageSet, ImageFileLoader
from core.data.listing import SPLITS, Listing, check_images, is_grey, split_listing
from core.labels import BINARY, MULTICLASS, UNLABELLED_CLASS, LabelSpec
from core.networks import IMAGE_SIZES

SPLIT_COLUMN = "split"
TRUE_WORDS = {"1", "true", "yes"}
FALSE_WORDS = {"0", "-1", "false", "no"}


def read_label_csv(csv_path: Path, data_dir: Path) -> Listing:
    """Parses the CSV into a Listing (full paths, labels, LabelSpec, the split column if there is one).

    Labels: int64 [N] class indices (one label column) or float32 [N, A] of 0/1 (several columns); -1 or a
    NaN row for an image without a label. Every listed image is checked to exist (one stat each).
    """
    rows, line_numbers, header = _read_rows(csv_path, data_dir)
    split = None
    split_cols = [c for c in range(1, len(header)) if header[c].lower() == SPLIT_COLUMN]
    if split_cols:
        col = split_cols[0]
        split = np.empty(len(rows), dtype=np.int8)
        for r, (row, line_no) in enumerate(zip(rows, line_numbers)):
            word = row[col].lower()
            if word not in SPLITS:
                raise DataError(f"{csv_path}: line {line_no} has split {row[col]!r}; the split column takes "
                                "train, val or test on every row")
            split[r] = SPLITS.index(word)
        header = header[:col] + header[col + 1:]
        rows = [row[:col] + row[col + 1:] for row in rows]
        if len(header) < 2:
            raise DataError(f"{csv_path}: no label column beside the path and split columns")
    label_names = header[1:]
    if len(label_names) == 1:
        labels, spec = _multiclass_labels(csv_path, [r[1] for r in rows], label_names[0])
    else:
        labels, spec = _binary_labels(csv_path, rows, line_numbers, label_names)

    paths = np.array([_image_path(data_dir, r[0]) for r in rows], dtype=np.str_)
    first_line: dict[str, int] = {}
    for path, line_no in zip(paths, line_numbers):
        if not os.path.isfile(path):
            raise DataError(f"{csv_path}: line {line_no} lists {path}, which does not exist")
        # an image listed twice (tables joined by hand) could land in both the training and the test split, or
        # carry two labels: refused rather than trained on
        key = os.path.normpath(path)  # "./img/a.png" is "img/a.png" (realpath's lookups cost 4 s per 200,000)
        if key in first_line:
            raise DataError(f"{csv_path}: line {line_no} lists {path} again (first on line {first_line[key]}); "
                            "list each image once")
        first_line[key] = line_no
    return Listing(paths=paths, labels=labels, spec=spec, split=split, source=str(csv_path))


def _image_path(data_dir: Path, cell: str) -> str:
    """The file a path cell names, relative to the data folder. A table written on Windows separates folders with
    backslashes ("imgs\\p001.png"), which are ordinary characters in a file name here: read as separators when
    no file has the name as written."""
    path = os.path.join(data_dir, cell)
    if "\\" in cell and os.sep == "/" and not os.path.isfile(path):
        return os.path.join(data_dir, cell.replace("\\", "/"))
    return path


def _delimiter(header_line: str) -> str:
    """Spreadsheets in many locales save "CSV" separated by semicolons, and tab-separated tables are common: the
    header row says which (the separator it holds most of; a comma when it holds none of them)."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_table(csv_path: Path, encoding: str) -> list[tuple[list[str], int]]:
    """The non-blank rows of the CSV, cells stripped, each with its line number."""
    with open(csv_path, newline="", encoding=encoding) as f:
        delimiter = _delimiter(f.readline())
        f.seek(0)
        reader = csv.reader(f, delimiter=delimiter)
        return [([cell.strip() for cell in row], reader.line_num) for row in reader if any(cell.strip() for cell in row)]


def _read_rows(csv_path: Path, data_dir: Path) -> tuple[list[list[str]], list[int], list[str]]:
    try:
        try:
            table = _read_table(csv_path, "utf-8-sig")  # -sig: spreadsheets often add a BOM
        except UnicodeDecodeError as not_utf8:
            try:  # Excel on Windows saves "CSV" in the system's code page: café is one byte, not UTF-8
                table = _read_table(csv_path, "cp1252")
            except UnicodeDecodeError:
                raise not_utf8 from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{csv_path}: cannot read CSV ({type(e).__name__}: {e})") from None
    if not table:
        raise DataError(f"{csv_path}: empty; expected a header row (path, label...) and one row per image")
    header = table[0][0]
    width = len(header)  # the columns every row has
    while len(header) > 1 and not header[-1]:  # spreadsheets save columns once touched: ",," after the last name
        header = header[:-1]
    if len(header) < 2:
        raise DataError(f"{csv_path}: header has {len(header)} column(s); expected an image path column "
                        "and at least one label column, separated by commas, semicolons or tabs")
    if os.path.isfile(os.path.join(data_dir, header[0])):
        raise DataError(f"{csv_path}: the first row names an image ({header[0]}); a header row is required")
    if not all(header[1:]):
        raise DataError(f"{csv_path}: header column {header.index('', 1) + 1} has no name; name every label column")
    if len(set(header[1:])) != len(header) - 1:
        raise DataError(f"{csv_path}: label column names in the header must be distinct, got {header[1:]}")
    rows, line_numbers = [], []
    for row, line_no in table[1:]:
        if not len(header) <= len(row) <= width:  # the unnamed columns at the end may be left off
            raise DataError(f"{csv_path}: line {line_no} has {len(row)} columns, the header has {width}")
        unnamed = [len(header) + 1 + k for k, cell in enumerate(row[len(header):]) if cell]
        if unnamed:
            raise DataError(f"{csv_path}: line {line_no} has a value in column {unnamed[0]}, which the header does "
                            "not name")
        row = row[:len(header)]
        if not row[0]:
            raise DataError(f"{csv_path}: line {line_no} has an empty image path")
        rows.append(row)
        line_numbers.append(line_no)
    if not rows:
        raise DataError(f"{csv_path}: no image rows after the header")
    return rows, line_numbers, header


def _multiclass_labels(csv_path: Path, values: list[str], column: str) -> tuple[torch.Tensor, LabelSpec]:
    """Class indices; an empty cell leaves the image unlabelled (UNLABELLED_CLASS), it is never a class."""
    names = sorted({v for v in values if v}, key=numeric_aware_key)
    if len(names) < 2:
        raise DataError(f"{csv_path}: column {column!r} has {len(names)} distinct label(s) among the labelled "
                        "rows; a multi-class label needs at least 2 (an empty cell means: no label)")
    index = {name: k for k, name in enumerate(names)}
    labels = torch.tensor([index[v] if v else UNLABELLED_CLASS for v in values], dtype=torch.int64)
    return labels, LabelSpec(MULTICLASS, tuple(names))


def _attribute_value(cell: str) -> float | None:
    """1.0 or 0.0 for a binary attribute's cell, None for anything else. Numbers count by value: pandas writes a
    0/1 column that has empty cells as floats, "1.0" and "0.0"."""
    word = cell.lower()
    if word in TRUE_WORDS:
        return 1.0
    if word in FALSE_WORDS:
        return 0.0
    try:
        number = float(word)
    except ValueError:
        return None
    return {1.0: 1.0, 0.0: 0.0, -1.0: 0.0}.get(number)


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
            value = _attribute_value(cell)
            if value is None:
                raise DataError(f"{csv_path}: line {line_no} column {names[c]!r} is {cell!r}; binary "
                                "attributes must be 0/1, -1/1, true/false or yes/no")
            values[r, c] = value
    if np.isnan(values[:, 0]).all():
        raise DataError(f"{csv_path}: no row has attribute values; at least some images need labels")
    return torch.from_numpy(values), LabelSpec(BINARY, tuple(names))


def load_folder(data_dir: str | None, labels_csv: str | None, image_size: int | None, channels: int | None,
                seed: int, resize: str = DEFAULT_RESIZE,
                check: bool = True) -> tuple[FileImageSet, FileImageSet, FileImageSet, LabelSpec]:
    """Returns lazily loaded (train, val, test) sets: the data's own split, else 80/10/10 at random with ``seed``.

    A label CSV is read when ``labels_csv`` is given or ``data_dir/labels.csv`` exists; otherwise the folder
    must hold class subfolders. Every image's header is read once here (unless ``check`` is False), so an
    undecodable file is refused before training starts.
    """
    if data_dir is None:
        raise DataError("folder: no data folder given; pass --data-dir (your images: class subfolders, or the "
                        "folder the CSV's paths are relative to)")
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"folder: data folder {root} does not exist")
    csv_path = Path(labels_csv) if labels_csv is not None else root / "labels.csv"
    if labels_csv is not None and not csv_path.is_file():
        raise DataError(f"folder: label CSV {csv_path} does not exist")
    if csv_path.is_file():
        listing = read_label_csv(csv_path, root)
    elif has_class_folders(root):
        listing = read_class_folders(root)
    else:
        raise DataError(f"folder: {root} holds neither labels.csv nor class subfolders; give a CSV (--labels-csv) "
                        "or put each class's images in a subfolder named after it (unlabelled/ for the rest)")
    if resize not in RESIZE_MODES:
        raise DataError(f"folder: resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")

    modes = check_images(listing.paths if check else listing.paths[:1])
    if channels is None:  # colour when any image is: a grey picture sorted first made a colour folder train grey
        channels = 1 if all(is_grey(mode) for mode in modes) else 3
    if channels not in (1, 3):
        raise DataError(f"folder: channels must be 1 (grey) or 3 (RGB), got {channels}")
    if image_size is None:
        image_size = 28 if channels == 1 else 64
    if isinstance(image_size, bool) or image_size not in IMAGE_SIZES:
        raise DataError(f"folder: image size must be one of {', '.join(map(str, IMAGE_SIZES))} (the networks' "
                        f"sizes), got {image_size}")

    loader = ImageFileLoader(channels=channels, size=int(image_size), resize=resize)
    sets = [FileImageSet(listing.paths[idx], listing.labels[torch.from_numpy(idx)], loader)
            for idx in split_listing(listing, seed)]
    return sets[0], sets[1], sets[2], listing.spec
