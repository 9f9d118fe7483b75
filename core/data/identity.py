"""Whether a run's data are still the data it was trained on.

A run reloads its data set whenever it is resumed or measured, and the split is cut again from whatever the folder
holds then. Images added to a folder, removed from it or relabelled move other images between the training and the
test split: a resumed run would train on images it was tested on, and a measure would score on images the model
had learnt, without a word. So a run records a fingerprint of its split (``fingerprint``) and refuses to go on
when the data no longer give the same one (``check_same_data``).
"""
from __future__ import annotations

import hashlib
import os

from core.data.counts import split_counts
from core.data.errors import DataError
from core.data.splits import DataSplits

SPLITS = ("train", "val", "test")
EXTRA_KEY = "data_fingerprint"  # where config.json keeps it (RunConfig.extra)


def fingerprint(splits: DataSplits, root: str | None = None) -> str:
    """16 hex digits over which images are in which split, in order, with which labels: file paths relative to
    ``root`` (the data folder, so a moved folder with the same content keeps its fingerprint) for images read from
    files, and the count with the labels for in-memory data sets, whose images are the package's own. The labels
    training keeps (--sup-frac, --num-labels) are not part of it: they follow from the run's own settings."""
    digest = hashlib.sha1()
    prefix = os.path.join(root, "") if root else None
    for name in SPLITS:
        part = getattr(splits, name)
        digest.update(f"{name}:{len(part)}\n".encode())
        paths = getattr(part, "paths", None)
        if paths is not None:
            relative = (p[len(prefix):] if prefix and p.startswith(prefix) else p for p in map(str, paths))
            digest.update("\n".join(relative).encode())
        digest.update(part.labels.numpy().tobytes())
    return digest.hexdigest()[:16]


def _what_changed(stored_counts: dict | None, counts: dict) -> str:
    """'train 97 -> 112 images, test 12 -> 14 images' from the run's recorded counts (the splits they hold), or
    what is left when they agree."""
    if not stored_counts:
        return "other images or labels"
    moved = [f"{name} {stored_counts[name]['images']} -> {counts[name]['images']} images" for name in SPLITS
             if name in stored_counts and stored_counts[name].get("images") != counts[name]["images"]]
    return ", ".join(moved) if moved else "as many images as before, but other files or labels"


def check_same_data(run_dir, cfg, splits: DataSplits, doing: str) -> str:
    """The fingerprint of ``splits``, the data of the run ``cfg`` (a RunConfig) as loaded now; refuses
    (``DataError``, one line) to ``doing`` ("resume", "measure") the run when it differs from the one recorded
    when it was trained. A run without one recorded (new, or saved before fingerprints existed) is let through."""
    now = fingerprint(splits, cfg.data.get("data_dir"))
    recorded = cfg.extra.get(EXTRA_KEY)
    if recorded is None or recorded == now:
        return now
    stored_counts = dict(cfg.extra.get("counts") or {})
    if cfg.train.limit_train > 0:  # the training count was recorded after --limit-train cut it
        stored_counts.pop("train", None)
    raise DataError(f"{run_dir}: the data changed since this run was trained "
                    f"({_what_changed(stored_counts, split_counts(splits))}), so its split is no longer the one it "
                    f"was trained and tested on; cannot {doing} it. Put the data back as they were, or train a new run")
