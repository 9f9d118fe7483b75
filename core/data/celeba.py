"""CelebA in torchvision's folder layout, loaded lazily: only the two annotation files are read up front.

Expected under ``data_dir/celeba`` (or ``data_dir`` itself):
    img_align_celeba/        the aligned jpg images
    list_attr_celeba.txt     line 1: count; line 2: 40 attribute names; then "filename v1 ... v40" (1 / -1)
    list_eval_partition.txt  "filename 0|1|2" = train / val / test
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch

from core.data.errors import DataError
from core.data.imageset import FileImageSet, ImageFileLoader
from core.labels import BINARY, LabelSpec

# The 18 attributes the CCVAE authors model (Joy et al. 2021), in their order.
CCVAE_ATTRIBUTES = ("Arched_Eyebrows", "Bags_Under_Eyes", "Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair",
                    "Bushy_Eyebrows", "Chubby", "Eyeglasses", "Heavy_Makeup", "Male", "No_Beard", "Pale_Skin",
                    "Receding_Hairline", "Smiling", "Wavy_Hair", "Wearing_Necktie", "Young")
IMAGE_SIZE = 64
IMAGE_DIR = "img_align_celeba"
ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"


def find_celeba_root(data_dir: str | None) -> Path:
    """The folder that holds img_align_celeba/ and the two text files: data_dir/celeba or data_dir."""
    if data_dir is None:
        raise DataError("celeba: no data folder given; pass --data-dir (the folder holding celeba/ or "
                        f"{IMAGE_DIR}/, {ATTR_FILE} and {PARTITION_FILE})")
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"celeba: data folder {root} does not exist")
    nested = root / "celeba"
    if nested.is_dir() and ((nested / IMAGE_DIR).is_dir() or (nested / ATTR_FILE).is_file()):
        root = nested
    missing = [name for name, ok in ((IMAGE_DIR + "/", (root / IMAGE_DIR).is_dir()),
                                     (ATTR_FILE, (root / ATTR_FILE).is_file()),
                                     (PARTITION_FILE, (root / PARTITION_FILE).is_file())) if not ok]
    if missing:
        raise DataError(f"celeba: {', '.join(missing)} missing in {root}")
    return root


def read_attributes(path: Path, wanted: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """Returns (file names, float32 [N, len(wanted)] of 0/1) from list_attr_celeba.txt."""
    lines = _read_lines(path)
    if len(lines) < 2:
        raise DataError(f"{path}: expected a count line and a line of attribute names")
    names = lines[1].split()
    missing = [a for a in wanted if a not in names]
    if missing:
        raise DataError(f"{path}: attribute(s) {', '.join(missing)} not in the header line")
    numbered = [(no, line) for no, line in enumerate(lines[2:], start=3) if line.strip()]
    if not numbered:
        raise DataError(f"{path}: no image lines")
    pairs = [line.split(None, 1) for _, line in numbered]
    files = [pair[0] for pair in pairs]
    # numpy's C parser reads the 8 million values of the real file about ten times faster than str.split;
    # when it objects, the slow line-by-line check below finds the line to name.
    try:
        values = np.loadtxt(io.StringIO("\n".join(pair[1] if len(pair) > 1 else "" for pair in pairs)),
                            dtype=np.int8, ndmin=2)
    except ValueError:
        values = None
    if values is None or values.shape != (len(files), len(names)) or not np.isin(values, (-1, 0, 1)).all():
        _raise_for_bad_line(path, numbered, names)
        raise DataError(f"{path}: cannot parse the attribute values")  # not reached for any known flaw
    columns = [names.index(a) for a in wanted]
    return files, (values[:, columns] == 1).astype(np.float32)


def _raise_for_bad_line(path: Path, numbered: list[tuple[int, str]], names: list[str]) -> None:
    """Raises a DataError naming the first line that is not 'filename' followed by one 1/-1 per attribute."""
    for line_no, line in numbered:
        parts = line.split()
        if len(parts) != len(names) + 1:
            raise DataError(f"{path}: line {line_no} has {len(parts) - 1} values, expected {len(names)}")
        for name, value in zip(names, parts[1:]):
            if value not in ("1", "-1", "0"):
                raise DataError(f"{path}: line {line_no} attribute {name} is {value!r}, expected 1 or -1")


def read_partition(path: Path) -> dict[str, int]:
    """Maps file name -> 0 (train), 1 (val) or 2 (test) from list_eval_partition.txt."""
    partition = {}
    for line_no, line in enumerate(_read_lines(path), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise DataError(f"{path}: line {line_no} should be 'filename 0|1|2', got {line.strip()!r}")
        partition[parts[0]] = int(parts[1])
    return partition


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e})") from None


def load_celeba(data_dir: str | None) -> tuple[FileImageSet, FileImageSet, FileImageSet, LabelSpec]:
    """Returns lazily loaded (train, val, test) sets of 64x64 RGB images with the 18 CCVAE attributes.

    The official partition is kept. Images are centre-cropped to a square and resized when read.
    """
    root = find_celeba_root(data_dir)
    files, attributes = read_attributes(root / ATTR_FILE, CCVAE_ATTRIBUTES)
    partition = read_partition(root / PARTITION_FILE)
    unsplit = [f for f in files if f not in partition]
    if unsplit:
        raise DataError(f"{root / PARTITION_FILE}: no partition for {unsplit[0]} "
                        f"({len(unsplit)} image(s) of {ATTR_FILE} unlisted)")
    image_dir = root / IMAGE_DIR
    # One directory listing checks 200,000 files far faster than one stat per file.
    present = set(os.listdir(image_dir))
    absent = [f for f in files if f not in present]
    if absent:
        raise DataError(f"celeba: {image_dir / absent[0]} is missing ({len(absent)} image(s) listed in "
                        f"{ATTR_FILE} are not in {image_dir})")

    paths = np.array([os.path.join(image_dir, f) for f in files], dtype=np.str_)
    split_of = np.array([partition[f] for f in files])
    labels = torch.from_numpy(attributes)
    loader = ImageFileLoader(channels=3, size=IMAGE_SIZE, resize="crop")
    sets = []
    for split, split_name in enumerate(("train", "val", "test")):
        idx = np.flatnonzero(split_of == split)
        if len(idx) == 0:
            raise DataError(f"{root / PARTITION_FILE}: no {split_name} images (partition {split})")
        sets.append(FileImageSet(paths[idx], labels[torch.from_numpy(idx)], loader))
    return sets[0], sets[1], sets[2], LabelSpec(BINARY, CCVAE_ATTRIBUTES)
