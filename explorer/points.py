"""Qt-free helpers for working with many map points at once: which points a lasso or rectangle encloses, what the
selection's CSV and image grid hold, and the nearest points of one point in each latent.

``ExplorerModel`` keeps the state (which points are selected, the neighbour trees); these are its formulas.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_bytes
from core.imaging import tile, upscale
from core.latents import SPLIT_NAMES

MAX_GRID_IMAGES = 1024  # a PNG grid of more images is unreadable; the CSV always holds every selected point


def points_in_polygon(points: np.ndarray, polygon) -> np.ndarray:
    """[N] bool: which of ``points`` [N, 2] lie inside the closed ``polygon`` [M, 2] (M >= 3; even-odd rule).

    Points outside the polygon's bounding box are rejected first, so a small lasso on a big map tests few points;
    the rest go through one vectorised crossing test per polygon edge."""
    points = np.asarray(points, dtype=np.float64)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(len(points), dtype=bool)
    if len(poly) < 3 or len(points) == 0:
        return inside
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    box = np.flatnonzero((points[:, 0] >= lo[0]) & (points[:, 0] <= hi[0]) &
                         (points[:, 1] >= lo[1]) & (points[:, 1] <= hi[1]))
    if len(box) == 0:
        return inside
    x, y = points[box, 0], points[box, 1]
    odd = np.zeros(len(box), dtype=bool)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1):
        if ay == by:
            continue  # a horizontal edge is never crossed by a horizontal ray
        crosses = (ay > y) != (by > y)
        if crosses.any():
            at = ax + (y[crosses] - ay) * (bx - ax) / (by - ay)
            hit = np.zeros_like(crosses)
            hit[crosses] = x[crosses] < at
            odd ^= hit
    inside[box] = odd
    return inside


def rectangle(corner_a, corner_b) -> np.ndarray:
    """The four corners [4, 2] of the axis-aligned rectangle spanned by two corners."""
    (ax, ay), (bx, by) = corner_a, corner_b
    return np.array([[ax, ay], [bx, ay], [bx, by], [ax, by]], dtype=np.float64)


def selection_rows(model, indices: np.ndarray) -> tuple[list[str], list[list]]:
    """Header and rows of the selection CSV: one row per selected point (index, split, index within the split,
    label, prediction, confidence, both map coordinates, z_c and the style)."""
    lat, spec = model.run.latents, model.label_spec
    zc_xy, st_xy = model.map_points("zc"), model.map_points("style")
    header = ["index", "split", "split_index", "label", "prediction", "confidence",
              "zc_x", "zc_y", "style_x", "style_y"]
    header += [f"z_c_{d}" for d in range(lat.z_c.shape[1])] + [f"style_{d}" for d in range(lat.z_style.shape[1])]
    rows = []
    for i in np.asarray(indices, dtype=np.int64):
        probs = lat.probs[i]
        if spec.is_multiclass:
            k = int(np.argmax(probs))
            prediction, confidence = spec.names[k], f"{float(probs[k]):.4f}"
        else:
            on = [n for n, p in zip(spec.names, probs) if p > 0.5]
            prediction = ";".join(on)
            confidence = f"{float(np.mean(np.maximum(probs, 1 - probs))):.4f}"  # mean certainty over attributes
        label = model.point_label_text(i)
        split = "added" if int(lat.split[i]) < 0 else SPLIT_NAMES[int(lat.split[i])]
        rows.append([int(i), split, int(lat.index[i]), label.replace(", ", ";"),
                     prediction, confidence, f"{zc_xy[i, 0]:.5g}", f"{zc_xy[i, 1]:.5g}", f"{st_xy[i, 0]:.5g}",
                     f"{st_xy[i, 1]:.5g}"]
                    + [f"{v:.6g}" for v in lat.z_c[i]] + [f"{v:.6g}" for v in lat.z_style[i]])
    return header, rows


def write_selection_csv(model, indices: np.ndarray, path) -> Path:
    header, rows = selection_rows(model, indices)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = Path(path)
    atomic_write_bytes(path, text.getvalue().encode("utf-8"))
    return path


def selection_grid(images: list[np.ndarray], scale: int = 2) -> np.ndarray:
    """uint8 picture of the images in a near-square grid (up to MAX_GRID_IMAGES), each ``scale`` times bigger."""
    images = list(images)[:MAX_GRID_IMAGES]
    if not images:
        raise ValueError("no images to lay out")
    colour = any(im.ndim == 3 for im in images)
    if colour:
        images = [im if im.ndim == 3 else np.repeat(im[..., None], 3, axis=-1) for im in images]
    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    return tile([upscale(im, scale) for im in images], rows, cols, gap=2 * scale, border=2 * scale)


def write_png(image: np.ndarray, path) -> Path:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image, mode="L" if image.ndim == 2 else "RGB").save(buffer, format="PNG")
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path
