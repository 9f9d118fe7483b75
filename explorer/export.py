"""Writing pictures: animated GIFs and PNG strips of decoded frames (Pillow), window and map screenshots (Qt)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from core.atomic import atomic_write_bytes
from core.figures import save_image_grid
from core.imaging import tile, upscale


def _pil(frame: np.ndarray, scale: int) -> Image.Image:
    frame = upscale(np.asarray(frame, dtype=np.uint8), scale)
    return Image.fromarray(frame, mode="L" if frame.ndim == 2 else "RGB")


def _save(image: Image.Image, path: Path, fmt: str, **options) -> Path:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def save_gif(frames, path, fps: float = 12.0, scale: int = 4, size: int | None = None) -> Path:
    """frames: uint8 [T, H, W(, 3)] -> looping animated GIF at ``fps`` frames per second, each frame ``scale``
    times bigger, or ``size`` pixels tall (nearest-neighbour to the largest whole factor, then resampled to the
    exact size). Pillow merges consecutive identical frames into one longer frame, so a GIF of a still path may
    hold fewer frames than given."""
    path = Path(path)
    frames = [np.asarray(f, dtype=np.uint8) for f in frames]
    if not frames:
        raise ValueError("no frames to save")
    if size is not None:
        h, w = frames[0].shape[:2]
        scale = max(1, int(size) // h)
        target = (max(1, round(w * int(size) / h)), int(size))
    images = [_pil(f, scale) for f in frames]
    if size is not None and images[0].size != target:
        images = [im.resize(target, Image.NEAREST) for im in images]
    first = images[0]
    return _save(first, path, "GIF", save_all=True, append_images=images[1:],
                 duration=max(20, int(round(1000.0 / fps))), loop=0)


def save_strip(frames, path, scale: int = 2, gap: int = 2, labels=None) -> Path:
    """frames: uint8 [T, H, W(, 3)] -> one PNG with the frames side by side, ``gap`` white pixels between;
    with ``labels`` (one text per frame) a caption above each frame (``core.figures`` draws it)."""
    path = Path(path)
    frames = np.asarray(frames, dtype=np.uint8)
    if labels is not None:
        images = frames[:, None] if frames.ndim == 3 else np.moveaxis(frames, -1, 1)
        save_image_grid(path, images.astype(np.float32) / 255.0, nrow=len(frames), col_labels=list(labels),
                        scale=scale)
        return path
    frames = [upscale(f, scale) for f in frames]
    return _save(_pil(tile(frames, 1, len(frames), gap=gap * scale), 1), path, "PNG")


def save_grid(grid: np.ndarray, path, scale: int = 2, gap: int = 2) -> Path:
    """grid: uint8 [rows, cols, H, W(, 3)] -> one PNG (latent walks)."""
    rows, cols = grid.shape[:2]
    frames = [upscale(im, scale) for im in grid.reshape((rows * cols,) + grid.shape[2:])]
    return _save(_pil(tile(frames, rows, cols, gap=gap * scale), 1), Path(path), "PNG")


def _settle_maps(widget) -> None:
    """Maps drawn with their fast preview while the view moved show the exact scatter before a picture."""
    from explorer.map_view import MapView

    for view in ([widget] if isinstance(widget, MapView) else []) + widget.findChildren(MapView):
        view.settle()


def grab_widget(widget, path) -> Path:
    """PNG of a widget as it is drawn now (works offscreen); maps show their exact scatter."""
    path = Path(path)
    _settle_maps(widget)
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path


def export_plot(plot_widget, path, width: int = 1600) -> Path:
    """PNG of one pyqtgraph plot ``width`` pixels wide (height keeps the plot's aspect), via ImageExporter.

    The exporter scales the plot as drawn on screen to the width asked for, except the legend, which keeps its
    on-screen pixel size: in a picture 8,000 pixels wide it would be a speck. So for a wider picture the legend is
    scaled with the picture for the export; for a narrower one the plot is laid out at that size for the export
    (the legend at its own size, not shrunk), then given back its size."""
    import pyqtgraph.exporters as exporters

    path = Path(path)
    width = int(width)
    _settle_maps(plot_widget)
    size = plot_widget.size()
    legend = getattr(plot_widget, "legend", None)
    if width < size.width():
        plot_widget.resize(width, max(1, round(size.height() * width / size.width())))
        plot_widget.getPlotItem().layout.activate()
    elif legend is not None and size.width() > 0:
        legend.setScale(width / size.width())
    try:
        exporter = exporters.ImageExporter(plot_widget.getPlotItem())
        exporter.parameters()["width"] = width
        exporter.export(str(path))
    finally:
        if legend is not None:
            legend.setScale(1.0)
        if plot_widget.size() != size:
            plot_widget.resize(size)
    if not path.is_file():
        raise OSError(f"could not write {path}")
    return path
