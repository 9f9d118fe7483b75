"""A folder of images laid out one subfolder per class (torchvision's ImageFolder layout), read without a CSV.

    DIR/cat/*.jpg  DIR/dog/*.png  ...   one subfolder per class (images may sit in deeper folders)
    DIR/unlabelled/*   DIR/*.jpg        images without a label (unlabeled/ also works)
    DIR/train/<class>/*  DIR/val/...  DIR/test/...   the same layout under train/ val/ test/: the data's own split

Hidden files and folders (a leading dot), the folders systems leave beside images (``SYSTEM_FOLDERS``: a Mac zip's
__MACOSX/, ...) and files that are not images by their extension are ignored.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from core.data.errors import DataError
from core.data.listing import IMAGE_EXTENSIONS, SPLITS, Listing
from core.labels import MULTICLASS, UNLABELLED_CLASS, LabelSpec

UNLABELLED_FOLDERS = ("unlabelled", "unlabeled")  # either spelling, any case


def numeric_aware_key(value: str) -> tuple:
    """Sorts "2" before "10", and numbers before words."""
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


# folders that systems leave beside a user's images: a zip made on a Mac unpacks __MACOSX/ (resource forks named
# like the images), Windows drives hold $RECYCLE.BIN/ and System Volume Information/, Synology NAS shares @eaDir/
SYSTEM_FOLDERS = ("__MACOSX", "$RECYCLE.BIN", "System Volume Information", "@eaDir")


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in SYSTEM_FOLDERS


def _visible(entries) -> list[Path]:
    return sorted((e for e in entries if not _hidden(e.name)), key=lambda e: e.name)


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()


def _images_under(folder: Path) -> list[str]:
    """Every image file under ``folder``, at any depth, in a stable (sorted) order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        found += [os.path.join(dirpath, f) for f in sorted(filenames)
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
    return found


def has_class_folders(root: Path) -> bool:
    """True when ``root`` has at least one visible subfolder (the layout this module reads)."""
    return any(e.is_dir() for e in _visible(root.iterdir()))


def _read_one(folder: Path) -> tuple[dict[str, list[str]], list[str]]:
    """{class: image paths} and the unlabelled image paths of one class-folder tree."""
    classes: dict[str, list[str]] = {}
    unlabelled = [str(e) for e in _visible(folder.iterdir()) if _is_image(e)]
    for sub in (e for e in _visible(folder.iterdir()) if e.is_dir()):
        images = _images_under(sub)
        if sub.name.lower() in UNLABELLED_FOLDERS:
            unlabelled += images
            continue
        if not images:
            raise DataError(f"folder: class folder {sub} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                            "remove it or add its images")
        classes[sub.name] = images
    return classes, unlabelled


def read_class_folders(root: Path) -> Listing:
    """Reads the layout described in the module docstring; DataError naming what is wrong."""
    subfolders = [e for e in _visible(root.iterdir()) if e.is_dir()]
    split_folders = [e for e in subfolders if e.name.lower() in SPLITS]
    if split_folders:
        others = [e.name for e in subfolders if e.name.lower() not in SPLITS]
        if others:
            raise DataError(f"folder: {root} mixes split folders ({', '.join(e.name for e in split_folders)}) "
                            f"with other folders ({', '.join(others[:5])}); put class folders inside "
                            "train/, val/ and test/, or use no split folders at all")
        loose = [e.name for e in _visible(root.iterdir()) if _is_image(e)]
        if loose:
            raise DataError(f"folder: {root} has images ({loose[0]}, ...) beside its train/ val/ test/ folders; "
                            "move them into one of those (into <split>/unlabelled/ if they have no label)")
        trees = [(SPLITS.index(e.name.lower()), e) for e in split_folders]
    else:
        trees = [(None, root)]

    read = [(k, *_read_one(folder)) for k, folder in trees]
    names = sorted({name for _, classes, _ in read for name in classes}, key=numeric_aware_key)
    if len(names) < 2:
        raise DataError(f"folder: {root} has {len(names)} class folder(s) ({', '.join(names) or 'none'}); "
                        "a multi-class label needs at least 2 (one subfolder per class, unlabelled/ for the rest)")
    index = {name: i for i, name in enumerate(names)}
    paths, labels, split = [], [], []
    for k, classes, unlabelled in read:
        for name, images in classes.items():
            paths += images
            labels += [index[name]] * len(images)
        paths += unlabelled
        labels += [UNLABELLED_CLASS] * len(unlabelled)
        split += [k if k is not None else -1] * (len(paths) - len(split))
    if len(paths) == 0:
        raise DataError(f"folder: {root} holds no images")
    return Listing(paths=np.array(paths, dtype=np.str_), labels=torch.tensor(labels, dtype=torch.int64),
                   spec=LabelSpec(MULTICLASS, tuple(names)),
                   split=np.array(split, dtype=np.int8) if split_folders else None, source=str(root))
