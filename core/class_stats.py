"""Where the encoder puts each class, and the label swap between those places: one implementation for the
explorer's "class statistics" swap and the study's "swap (class stats)" column.

The paper's swap moves z_c between the learned priors p(z_c|y). When the prior means do not sit where the encoder
puts the classes, that swap can miss; moving between the statistics of the encoded points works instead:

    z_c' = loc[y'] + scale[y'] * (z_c - loc[y]) / scale[y]        (``move_between``)

keeping the point's place within its class. Binary attributes use one z_c dimension per attribute, moved between
where the encoder puts y_i = 0 and y_i = 1. Qt-free and torch-free (``move_between`` works on torch tensors too).
"""
from __future__ import annotations

import numpy as np

SCALE_FLOOR = 1e-4  # spreads below this (a class of identical latents) would divide by ~0


def class_stats(z_c: np.ndarray, groups: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of z_c [N, D] within each of ``count`` groups (integers in [0, count) or
    booleans, [N]): two float32 [count, D] arrays.

    A group with no member gets the overall mean; one with fewer than two gets the overall spread (a latent scale
    is not 1, so the overall statistics are the honest guess). Spreads are floored at SCALE_FLOOR."""
    z_c = np.asarray(z_c, dtype=np.float64).reshape(len(z_c), -1)
    groups = np.asarray(groups).reshape(-1).astype(np.int64)
    if len(groups) != len(z_c):
        raise ValueError(f"{len(groups)} group labels for {len(z_c)} latents")
    overall_loc = z_c.mean(axis=0) if len(z_c) else np.zeros(z_c.shape[1])
    overall_scale = z_c.std(axis=0) if len(z_c) > 1 else np.ones(z_c.shape[1])
    loc = np.tile(overall_loc, (count, 1))
    scale = np.tile(overall_scale, (count, 1))
    for g in range(count):
        members = z_c[groups == g]
        if len(members) >= 1:
            loc[g] = members.mean(axis=0)
        if len(members) >= 2:
            scale[g] = members.std(axis=0)
    return loc.astype(np.float32), np.maximum(scale, SCALE_FLOOR).astype(np.float32)


def attribute_stats(z_c: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binary attributes, one z_c dimension per attribute: z_c [N, A], 0/1 labels [N, A] -> loc, scale [2, A]
    (row v: where the encoder puts z_c[i] for y_i = v), with ``class_stats``'s fallbacks and floor."""
    z_c = np.asarray(z_c).reshape(len(z_c), -1)
    labels = np.asarray(labels).reshape(len(z_c), -1)
    if z_c.shape[1] != labels.shape[1]:
        raise ValueError(f"attribute statistics need one z_c dimension per attribute ({labels.shape[1]}), "
                         f"z_c has {z_c.shape[1]}")
    columns = [class_stats(z_c[:, i:i + 1], labels[:, i] > 0.5, 2) for i in range(labels.shape[1])]
    loc = np.concatenate([c[0] for c in columns], axis=1) if columns else np.zeros((2, 0), np.float32)
    scale = np.concatenate([c[1] for c in columns], axis=1) if columns else np.ones((2, 0), np.float32)
    return loc, scale


def move_between(z, loc, scale, source, target):
    """z moved from group ``source`` to group ``target``, keeping its standardised place: loc[target] +
    scale[target] * (z - loc[source]) / scale[source]. Works for one latent or a batch, numpy or torch."""
    return loc[target] + scale[target] * (z - loc[source]) / scale[source]
