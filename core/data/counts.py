"""How many images each split holds, with and without labels, per class (or per attribute value).

Written into a run's ``config.json`` (``extra.counts``) and ``summary.json`` and printed at the start of
training, so a user sees at once what the model was given: a label column read wrongly shows up here.
"""
from __future__ import annotations

import numpy as np

from core.data.splits import DataSplits
from core.labels import LabelSpec, labelled_mask


def _per_label(labels: np.ndarray, spec: LabelSpec) -> dict:
    """Multi-class: {class: images}; binary: {attribute: {"1": images, "0": images}} (labelled rows only)."""
    if spec.is_multiclass:
        found = np.bincount(labels.astype(np.int64), minlength=spec.size)
        return {name: int(found[k]) for k, name in enumerate(spec.names)}
    on = (labels > 0.5).sum(0) if len(labels) else np.zeros(spec.size, dtype=np.int64)
    return {name: {"1": int(on[a]), "0": int(len(labels) - on[a])} for a, name in enumerate(spec.names)}


def split_counts(splits: DataSplits) -> dict:
    """{"train": {...}, "val": {...}, "test": {...}} with, for each split:

    images (for train: those training uses, fewer than the split under --limit-train), labelled (images whose label training or scoring uses), unlabelled, and per_class (per_attribute for
    binary labels) counting the labelled images. The training split also gives unlabelled_in_data (images that
    have no label at all) and labels_hidden (labelled in the data, trained as unlabelled by --sup-frac /
    --num-labels).
    """
    spec = splits.label_spec
    key = "per_class" if spec.is_multiclass else "per_attribute"
    out = {}
    train_labels = splits.train.labels.numpy()
    in_data = labelled_mask(train_labels)
    used = train_labels[splits.labelled]
    out["train"] = {"images": int(len(splits.labelled) + len(splits.unlabelled)), "labelled": int(len(splits.labelled)),
                    "unlabelled": int(len(splits.unlabelled)),
                    "unlabelled_in_data": int((~in_data[splits.unlabelled]).sum()),
                    "labels_hidden": int(in_data[splits.unlabelled].sum()), key: _per_label(used, spec)}
    for name in ("val", "test"):
        labels = getattr(splits, name).labels.numpy()
        has = labelled_mask(labels)
        out[name] = {"images": len(labels), "labelled": int(has.sum()), "unlabelled": int((~has).sum()),
                     key: _per_label(labels[has], spec)}
    return out


def counts_line(counts: dict) -> str:
    """One line for the terminal: images, labelled and unlabelled per split."""
    parts = []
    for name, c in counts.items():
        hidden = f", {c['labels_hidden']} of them with labels hidden" if c.get("labels_hidden") else ""
        parts.append(f"{name} {c['images']} ({c['labelled']} labelled, {c['unlabelled']} unlabelled{hidden})")
    return "images: " + "; ".join(parts)


def label_warnings(counts: dict) -> list[str]:
    """What the labelled training images cannot teach: a class none of them has, an attribute that is the same on
    all of them. Training still runs (the rest of the labels are worth it), but the user should know before it
    does: nothing in the model will correspond to that label."""
    train = counts["train"]
    n = train["labelled"]
    if n == 0:
        return []
    out = []
    for name, found in train.get("per_class", {}).items():
        if found == 0:
            out.append(f"class {name!r} has no labelled training image: the classifier never learns it and its "
                       f"prior p(z_c|y) stays where it started (swaps to it and generations of it show nothing)")
    for name, values in train.get("per_attribute", {}).items():
        for value, other in (("1", "0"), ("0", "1")):
            if values[value] == n:
                out.append(f"attribute {name!r} is {value} on all {n:,} labelled training images, never {other}: "
                           f"the model cannot learn it (its flips, walks and generations show nothing)")
    return out
