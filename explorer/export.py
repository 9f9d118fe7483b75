"""Writing pictures: animated GIFs and PNG strips of decoded frames (Pillow), window and map screenshots (Qt)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from explorer.imaging import tile, upscale


def _pil(frame: np.ndarray, scale: int) -> Image.Image:
    frame = upscale(np.asarray(frame, dtype=np.uint8), scale)
    return Image.fromarray(frame, mode="L" if frame.ndim == 2 else "RGB")


def save_gif(frames, path, fps: float = 12.0, scale: int = 4) -> Path:
    """frames: uint8 [T, H, W(, 3)] -> looping animated GIF, ``scale`` x bigger. Pillow merges consecutive
    identical frames into one longer frame, so a GIF of a still path may hold fewer frames than given."""
    path = Path(path)
    images = [_pil(f, scale) for f in frames]
    if not images:
        raise ValueError("no frames to save")
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(20, int(round(1000.0 / fps))), loop=0)
    return path


def save_strip(frames, path, scale: int = 2, gap: int = 2) -> Path:
    """frames: uint8 [T, H, W(, 3)] -> one PNG with the frames side by side, ``gap`` white pixels between."""
    path = Path(path)
    frames = [upscale(np.asarray(f, dtype=np.uint8), scale) for f in frames]
    _pil(tile(frames, 1, len(frames), gap=gap * scale), 1).save(path, format="PNG")
    return path


def save_grid(grid: np.ndarray, path, scale: int = 2, gap: int = 2) -> Path:
    """grid: uint8 [rows, cols, H, W(, 3)] -> one PNG (latent walks)."""
    rows, cols = grid.shape[:2]
    frames = [upscale(im, scale) for im in grid.reshape((rows * cols,) + grid.shape[2:])]
    path = Path(path)
    _pil(tile(frames, rows, cols, gap=gap * scale), 1).save(path, format="PNG")
    return path


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
    """PNG of one pyqtgraph plot at ``width`` pixels (height keeps the plot's aspect), via ImageExporter."""
    import pyqtgraph.exporters as exporters

    path = Path(path)
    _settle_maps(plot_widget)
    exporter = exporters.ImageExporter(plot_widget.getPlotItem())
    exporter.parameters()["width"] = int(width)
    exporter.export(str(path))
    if not path.is_file():
        raise OSError(f"could not write {path}")
    return path
