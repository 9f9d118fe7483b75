"""PNG figures of a run: image grids (reconstructions, generations, walks), training curves, run comparisons.

Grids are composed with numpy and PIL; curves use matplotlib's object-oriented API (Figure + FigureCanvasAgg),
which needs no GUI backend and touches no pyplot global state, so it is safe from worker threads and never
pulls in Qt. Every file is written atomically (temp file in the same folder, then ``os.replace``), so a viewer
polling the run folder never sees half a PNG.
"""
from __future__ import annotations

import io
import math
import os
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.atomic import atomic_write_bytes
from core.imaging import tile, upscale

_MARGIN = 6          # px around labels and between panels
_FONT_SIZE = 14      # px; PIL's bundled font when FreeType is available, else its fixed bitmap font
_MIN_TITLE_WIDTH = 360  # px: a title never wraps narrower than this, however narrow its grid
_BG = (255, 255, 255)
_INK = (0, 0, 0)


# --------------------------------------------------------------------------------------------------------------
# Writing files
# --------------------------------------------------------------------------------------------------------------

def _save_pil(path: str | os.PathLike, image: Image.Image) -> None:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------------------------------------------
# Image grids
# --------------------------------------------------------------------------------------------------------------

def _to_numpy_nchw(images) -> np.ndarray:
    """torch.Tensor or array [N, C, H, W] (or [N, H, W] grey) -> float32 [N, 3, H, W] clipped to [0, 1]."""
    if hasattr(images, "detach"):  # a torch tensor; duck-typed so this module never imports torch
        images = images.detach().cpu().float().numpy()
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(f"images must be [N, C, H, W] with C = 1 or 3, got {arr.shape}")
    if arr.shape[1] == 1:  # grey: the same level in R, G and B
        arr = np.repeat(arr, 3, axis=1)
    return np.clip(np.nan_to_num(arr, nan=0.0), 0.0, 1.0)


def image_grid(images, nrow: int, *, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile images [N, C, H, W] (floats in [0, 1], numpy or torch) into one uint8 image [H', W', 3].

    ``nrow`` is the number of images per grid row (as in torchvision's make_grid); rows = ceil(N / nrow).
    H' = rows * H + (rows + 1) * padding and W' = nrow * W + (nrow + 1) * padding: padding frames every cell.
    Empty cells of the last row are filled with ``pad_value``.
    """
    arr = _to_numpy_nchw(images)
    if len(arr) == 0:
        raise ValueError("image_grid needs at least one image")
    cols = max(1, int(nrow))
    cells = np.round(arr.transpose(0, 2, 3, 1) * 255.0).astype(np.uint8)
    fill = int(round(float(np.clip(pad_value, 0.0, 1.0)) * 255.0))
    return tile(cells, math.ceil(len(cells) / cols), cols, gap=padding, fill=fill, border=padding)


def _font(size: int = _FONT_SIZE) -> ImageFont.ImageFont:
    """PIL's default font at ``size`` px (Pillow >= 10.1 with FreeType), else its small fixed bitmap font."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _text_size(font, text: str) -> tuple[int, int]:
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _text_image(text: str, font, rotate: bool = False) -> Image.Image:
    """The text rendered black on white, one line tall (ascent + descent, so captions share a baseline whatever
    their letters), 1 px of air around it; rotated 90 degrees counter-clockwise if ``rotate``."""
    left, _, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    try:
        ascent, descent = font.getmetrics()
        height = max(bottom, ascent + descent)
    except AttributeError:  # bitmap fonts of old Pillows have no metrics
        height = bottom
    img = Image.new("RGB", (max(1, right - left + 2), max(1, height + 2)), _BG)
    ImageDraw.Draw(img).text((1 - left, 1), text, fill=_INK, font=font)
    return img.rotate(90, expand=True) if rotate else img


def _wrapped_text_image(text: str, font, max_width: int) -> Image.Image:
    """The text in as few lines as keep each within ``max_width`` px (a word longer than that gets a line of its
    own), each line centred: a long title as wide as the grid it names, not wider."""
    lines: list[str] = []
    for word in text.split():
        if lines and _text_size(font, f"{lines[-1]} {word}")[0] + 2 <= max_width:  # + _text_image's air
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    rendered = [_text_image(line, font) for line in lines or [""]]
    img = Image.new("RGB", (max(im.width for im in rendered), sum(im.height for im in rendered)), _BG)
    y = 0
    for im in rendered:
        img.paste(im, ((img.width - im.width) // 2, y))
        y += im.height
    return img


def _upscale(grid: np.ndarray, scale: int) -> Image.Image:
    """uint8 [H, W, 3] -> PIL image scale times larger, nearest-neighbour so pixels stay crisp."""
    return Image.fromarray(np.ascontiguousarray(upscale(grid[..., :3], max(1, int(scale)))), mode="RGB")


def _labelled_grid(grid_img: Image.Image, cell: tuple[int, int], origin: tuple[int, int], n_rows: int,
                   n_cols: int, row_labels, col_labels, title) -> Image.Image:
    """Add a left margin of row labels, a top margin of column labels and a title above a rendered grid.

    cell = (cell_w, cell_h) is the scaled pitch from one image to the next and origin = (x0, y0) the scaled padding
    before the first image (image size = pitch - padding); they centre each label on its row's or column's images. Column labels wider than a cell are drawn vertically.
    """
    font = _font()
    row_imgs = [_text_image(str(t), font) for t in (row_labels or [])][:n_rows]
    col_texts = [str(t) for t in (col_labels or [])][:n_cols]
    vertical = any(_text_size(font, t)[0] > cell[0] - 2 for t in col_texts)
    col_imgs = [_text_image(t, font, rotate=vertical) for t in col_texts]
    left = max((im.width for im in row_imgs), default=0)
    left = left + 2 * _MARGIN if left else 0
    body = left + grid_img.width + (_MARGIN if left else 0)
    # the title wraps to the grid's width (but not below a readable line), so a narrow grid gets no wide margin
    title_img = _wrapped_text_image(str(title), _font(_FONT_SIZE + 4), max(body - 2 * _MARGIN, _MIN_TITLE_WIDTH)) \
        if title else None
    col_h = max((im.height for im in col_imgs), default=0)
    col_h = col_h + _MARGIN if col_h else 0
    title_h = title_img.height + 2 * _MARGIN if title_img else 0
    width = max(body, (title_img.width + 2 * _MARGIN) if title_img else 0)
    top = title_h + col_h
    canvas = Image.new("RGB", (width, top + grid_img.height + (_MARGIN if top or left else 0)), _BG)
    canvas.paste(grid_img, (left, top))
    if title_img:
        canvas.paste(title_img, ((width - title_img.width) // 2, _MARGIN))
    for r, im in enumerate(row_imgs):  # right-aligned against the grid, centred on the row
        y = top + origin[1] + r * cell[1] + (cell[1] - origin[1] - im.height) // 2
        canvas.paste(im, (left - _MARGIN - im.width, y))
    for c, im in enumerate(col_imgs):  # centred on the column, bottom-aligned just above the grid
        x = left + origin[0] + c * cell[0] + (cell[0] - origin[0] - im.width) // 2
        canvas.paste(im, (x, top - _MARGIN // 2 - im.height))
    return canvas


def save_image_grid(path: str | os.PathLike, images, nrow: int, *, row_labels: Sequence[str] | None = None,
                    col_labels: Sequence[str] | None = None, title: str | None = None, scale: int = 2) -> None:
    """Write images [N, C, H, W] in [0, 1] as a PNG grid of ``nrow`` images per row, upscaled ``scale`` times.

    row_labels name grid rows (ceil(N / nrow) of them), col_labels name the nrow columns; both and the title
    go in white margins around the grid. Without labels or title the PNG is just the (upscaled) grid.
    """
    padding = 2
    arr = _to_numpy_nchw(images)
    grid = image_grid(arr, nrow, padding=padding)
    img = _upscale(grid, scale)
    if row_labels or col_labels or title:
        s = max(1, int(scale))
        h, w = arr.shape[2:]
        n_cols = max(1, int(nrow))
        n_rows = math.ceil(len(arr) / n_cols)
        cell = ((w + padding) * s, (h + padding) * s)
        img = _labelled_grid(img, cell, (padding * s, padding * s), n_rows, n_cols, row_labels, col_labels, title)
    _save_pil(path, img)


# --------------------------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------------------------

def _clean_series(points, logy: bool) -> tuple[np.ndarray, np.ndarray]:
    """[(x, y), ...] -> x [n], y [n] float64 without NaN/inf (and without y <= 0 on a log axis), sorted by x."""
    arr = np.asarray(list(points), dtype=np.float64).reshape(-1, 2)
    keep = np.isfinite(arr).all(axis=1)
    if logy:
        keep &= arr[:, 1] > 0
    arr = arr[keep]
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    return arr[:, 0], arr[:, 1]


def save_curves(path: str | os.PathLike, series: dict[str, Sequence[tuple[float, float]]], *, title: str,
                xlabel: str, ylabel: str, logy: bool = False, dpi: int = 120, dashed_suffix: str | None = None,
                legend_outside: bool = False) -> None:
    """Line plot of named series {name: [(x, y), ...]} to a PNG, with legend and grid. NaN/inf points are skipped.

    Series with few points get markers, so a single point is still visible; an all-empty plot says "no data".
    ``dashed_suffix``: a series named ``<base><suffix>`` is drawn dashed in the colour of ``<base>`` (the
    unlabelled loss of a study cell beside its labelled loss). ``legend_outside``: the legend goes to the right
    of the plot (many lines), which then widens.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.6 if legend_outside else 6.4, 4.0), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colours: dict[str, str] = {}
    for name, points in series.items():
        x, y = _clean_series(points, logy)
        if len(x) == 0:
            continue
        name = str(name)
        base = name[: -len(dashed_suffix)] if dashed_suffix and name.endswith(dashed_suffix) else name
        colour = colours.setdefault(base, f"C{len(colours) % 10}")
        ax.plot(x, y, label=name, linewidth=1.6, marker="o" if len(x) <= 30 else None, markersize=3.5,
                color=colour, linestyle="--" if base != name else "-")
    plotted = bool(colours)
    if logy and plotted:
        ax.set_yscale("log")
    if not plotted:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.35)
    ax.xaxis.get_major_locator().set_params(integer=True)  # epochs
    if plotted and legend_outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    elif plotted:
        ax.legend(loc="best", frameon=True)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------------------------------------------
# Side-by-side comparison
# --------------------------------------------------------------------------------------------------------------

def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 [H, W], [H, W, 1], [H, W, 3] or [H, W, 4] -> uint8 [H, W, 3]."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"panels must be uint8 images, got {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"panels must be [H, W, 3] uint8, got shape {arr.shape}")
    return np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr[..., :3]


def save_side_by_side(path: str | os.PathLike, panels: Sequence[tuple[str, np.ndarray]], title: str | None = None,
                      *, scale: int = 2) -> None:
    """Write several images (e.g. grids of different runs) in one row, each under its caption, to a PNG.

    panels: [(caption, uint8 [H, W, 3]), ...], as made by ``image_grid``; they are upscaled ``scale`` times
    (nearest-neighbour, so 28x28 digits stay legible) and top-aligned. ``title`` goes above them all.
    """
    if not panels:
        raise ValueError("save_side_by_side needs at least one panel")
    font = _font()
    imgs = [_upscale(_as_rgb_uint8(img), scale) for _, img in panels]
    caps = [_text_image(str(cap), font) for cap, _ in panels]
    col_w = [max(im.width, cap.width) for im, cap in zip(imgs, caps)]
    cap_h = max(cap.height for cap in caps)
    title_img = _text_image(str(title), _font(_FONT_SIZE + 4)) if title else None
    title_h = title_img.height + 2 * _MARGIN if title_img else 0

    width = max(sum(col_w) + _MARGIN * (len(imgs) + 1), (title_img.width + 2 * _MARGIN) if title_img else 0)
    height = title_h + _MARGIN + cap_h + _MARGIN + max(im.height for im in imgs) + _MARGIN
    canvas = Image.new("RGB", (width, height), _BG)
    if title_img:
        canvas.paste(title_img, ((width - title_img.width) // 2, _MARGIN))
    x = _MARGIN
    for im, cap, w in zip(imgs, caps, col_w):
        canvas.paste(cap, (x + (w - cap.width) // 2, title_h + _MARGIN + cap_h - cap.height))
        canvas.paste(im, (x + (w - im.width) // 2, title_h + _MARGIN + cap_h + _MARGIN))
        x += w + _MARGIN
    _save_pil(path, canvas)
