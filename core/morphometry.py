"""Morphometry of digit images in numpy: stroke thickness, slant, width, height and area, per image.

These are the measurements of the Morpho-MNIST benchmark (Castro et al., JMLR 2019), computed here from first
principles so the project can label real digits with binary attributes (``core.data.morpho``) and score a CCVAE's
interventions against the same ruler (``core.morpho_measures``). Every function takes a batch of grey images,
uint8 [N, H, W] (0-255) or float [N, H, W] / [N, 1, H, W] in [0, 1], and works on the whole batch at once;
the 5,000 embedded digits take 2-4 s on one core (more on a busy machine), and are cached (``core.data.morpho``).

Ink: a pixel is ink when its grey level is at least one half (``INK_LEVEL``); anti-aliased edges below that are
background except where a measurement says otherwise. Coordinates: x = column (to the right), y = row (down).

- **area** (pixels): the sum of the grey levels of the ink pixels, so a crisp shape of n pixels has area n and
  the faint rims of a real stroke count a little less than a full pixel.
- **thickness** (pixels): the stroke width t that explains the area along the skeleton. The skeleton is the ink
  thinned to one-pixel-wide lines (Zhang & Suen's parallel thinning, Comm. ACM 1984). Thinning eats about t/2 of
  the stroke at each line end, so t solves area = t * (skeleton pixels + ends * t / 2): a bar of width w comes
  out as w whatever its length, a closed loop (no ends) as area / skeleton length. Ink that thins away
  completely (a 2 x 2 blob) counts one skeleton pixel with two ends.
- **slant** (degrees): the shear of the ink's second moments, atan(-cov(x, y) / var(y)) over ink pixels weighted
  by grey level. 0 = upright; positive = leaning right (the top to the right of the bottom), like italics.
- **width** and **height** (pixels): the bounding box of everything visibly drawn, to sub-pixel precision:
  the lines (columns, rows) whose darkest pixel reaches ``FAINT_LEVEL`` delimit it, and the two end lines count
  by their darkest grey instead of as whole pixels. A crisp box of h rows has height h; a stroke that ends in a
  faint anti-aliased row counts that row partly. On MNIST this matters for the height: every digit was scaled
  to fit a 20 x 20 box, so most are 19-20 px tall and the whole-pixel height would tie most digits at 20.

A blank image (no ink pixel) cannot be measured: ``measure`` raises ``BlankImageError`` naming it, or with
``blank="nan"`` returns NaN for each of its measurements (the measures of decoded images use that and count a
blank decoding as an intervention that failed).
"""
from __future__ import annotations

import numpy as np

from core.errors import CCVAEError

MEASUREMENTS = ("thickness", "slant", "width", "height", "area")
UNITS = {"thickness": "px", "slant": "deg", "width": "px", "height": "px", "area": "px"}
INK_LEVEL = 0.5
FAINT_LEVEL = 0.1  # a line (row or column) with a pixel this dark belongs to the bounding box


class BlankImageError(CCVAEError, ValueError):
    """An image without ink that the morphometry cannot measure; one-line message naming the images."""


def as_grey(images) -> np.ndarray:
    """uint8 or float images [N, H, W] / [N, 1, H, W] (numpy or torch) -> float32 [N, H, W] in [0, 1]."""
    if hasattr(images, "detach"):  # a torch tensor, without importing torch here
        images = images.detach().cpu().numpy()
    x = np.asarray(images)
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"morphometry measures grey images; got {x.shape[1]} channels")
        x = x[:, 0]
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"morphometry takes images [N, H, W] or [N, 1, H, W], got shape {x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return np.clip(x.astype(np.float32), 0.0, 1.0)


def skeleton(ink: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of boolean images [N, H, W], all images at once; returns boolean [N, H, W].

    Each pass removes, in two sub-steps, the boundary pixels whose removal keeps the shape connected
    (exactly one 0->1 transition around the pixel) and that are not line ends (2..6 ink neighbours), first
    from the south-east, then from the north-west, until nothing changes."""
    img = np.pad(ink.astype(np.uint8), ((0, 0), (1, 1), (1, 1)))
    while True:
        changed = False
        for step in (0, 1):
            c = img[:, 1:-1, 1:-1]
            # neighbours P2..P9, clockwise from north
            p2, p3, p4 = img[:, :-2, 1:-1], img[:, :-2, 2:], img[:, 1:-1, 2:]
            p5, p6, p7 = img[:, 2:, 2:], img[:, 2:, 1:-1], img[:, 2:, :-2]
            p8, p9 = img[:, 1:-1, :-2], img[:, :-2, :-2]
            ring = (p2, p3, p4, p5, p6, p7, p8, p9, p2)
            neighbours = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9
            transitions = sum(((a == 0) & (b == 1)).astype(np.uint8) for a, b in zip(ring[:-1], ring[1:]))
            if step == 0:
                side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (c == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & side
            if remove.any():
                c[remove] = 0  # c is a view into img
                changed = True
        if not changed:
            return img[:, 1:-1, 1:-1].astype(bool)


def _subpixel_extent(profile: np.ndarray) -> np.ndarray:
    """profile: darkest grey per row (or column) [N, L]. The extent from the first to the last line whose darkest
    pixel reaches FAINT_LEVEL, the two end lines counted by their darkest grey. NaN where no line does."""
    length = profile.shape[1]
    seen = profile >= FAINT_LEVEL
    has = seen.any(1)
    first = np.argmax(seen, 1)
    last = length - 1 - np.argmax(seen[:, ::-1], 1)
    rows = np.arange(len(profile))
    ends = profile[rows, first] + np.where(last > first, profile[rows, last], 0.0)
    extent = np.maximum(last - first - 1, 0) + ends
    return np.where(has, extent, np.nan)


def _skeleton_ends(skel: np.ndarray) -> np.ndarray:
    """Number of line ends of each skeleton [N, H, W]: pixels with exactly one 8-neighbour in the skeleton; an
    isolated pixel is a line with both ends in one place, so it counts two."""
    s = np.pad(skel.astype(np.uint8), ((0, 0), (1, 1), (1, 1)))
    h, w = skel.shape[1:]
    neighbours = sum(s[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                     if (dy, dx) != (0, 0))
    return (skel & (neighbours == 1)).sum((1, 2)) + 2 * (skel & (neighbours == 0)).sum((1, 2))


def _thickness(area: np.ndarray, length: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Stroke width t with area = t * (skeleton length + ends * t / 2): thinning eats about t/2 of the stroke at
    each line end, so a bar of width w and length L (skeleton about L - w) comes out as w, and a closed loop
    (no ends) as area / length."""
    length = np.maximum(length, 1).astype(np.float64)
    e = ends.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-length + np.sqrt(length * length + 2.0 * e * area)) / np.where(e > 0, e, 1.0)
    return np.where(e > 0, t, area / length)


def measure(images, blank: str = "raise") -> dict[str, np.ndarray]:
    """The five measurements of every image: {name: float64 [N]} for each name in MEASUREMENTS.

    ``blank``: "raise" (BlankImageError naming the images without ink) or "nan" (their measurements are NaN).
    """
    if blank not in ("raise", "nan"):
        raise ValueError(f"blank must be 'raise' or 'nan', not {blank!r}")
    x = as_grey(images).astype(np.float64)
    ink = x >= INK_LEVEL
    empty = ~ink.reshape(len(x), -1).any(1)
    if empty.any() and blank == "raise":
        where = np.flatnonzero(empty)
        shown = ", ".join(str(i) for i in where[:10]) + (" ..." if len(where) > 10 else "")
        raise BlankImageError(f"{len(where)} blank image(s) without ink (grey >= {INK_LEVEL}) cannot be measured: "
                              f"index {shown}")
    weight = np.where(ink, x, 0.0)
    area = weight.sum((1, 2))
    skel = skeleton(ink)
    thickness = _thickness(area, skel.sum((1, 2)), _skeleton_ends(skel))

    h, w = x.shape[1:]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    mass = np.maximum(area, 1e-12)
    my = (weight * ys).sum((1, 2)) / mass
    mx = (weight * xs).sum((1, 2)) / mass
    dy, dx = ys[None] - my[:, None, None], xs[None] - mx[:, None, None]
    var_y = (weight * dy * dy).sum((1, 2)) / mass
    cov_xy = (weight * dx * dy).sum((1, 2)) / mass
    # rows grow downward: a right-leaning stroke has x growing as y shrinks, so cov(x, y) < 0 and the slant > 0
    slant = np.degrees(np.arctan2(-cov_xy, np.maximum(var_y, 1e-12)))

    height = _subpixel_extent(x.max(2))
    width = _subpixel_extent(x.max(1))
    out = {"thickness": thickness, "slant": slant, "width": width, "height": height, "area": area}
    for k in out:
        out[k] = np.where(empty, np.nan, out[k]).astype(np.float64)
    return out


def as_matrix(measurements: dict[str, np.ndarray]) -> np.ndarray:
    """{name: [N]} -> float64 [N, 5] in MEASUREMENTS order."""
    return np.stack([np.asarray(measurements[k], dtype=np.float64) for k in MEASUREMENTS], 1)
