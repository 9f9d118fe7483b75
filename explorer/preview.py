"""A fast stand-in for the big scatter while the view moves: the points splatted into one image with numpy.

Re-drawing 70,000 pyqtgraph symbols costs ~60 ms per frame on two busy cores, and every zoom step needs a new
drawing (a cached pixmap of the scatter only survives moves of overlays). ``PreviewScatter`` paints the same
points as one premultiplied ARGB image at the painter's device resolution: each point is stamped with the very
symbol pyqtgraph renders for its brush (``renderSymbol``), edge pixels first and cores last, so the picture looks
like the scatter. Where points overlap, the scatter stacks translucent symbols; the preview draws the last point
on each pixel with the colour that n stacked symbols of it would give (n: points whose cores touch its centre),
so dense clusters saturate alike. A zoom step splats anew (a few ms for 70,000 points); a pan step shifts the
last canvas by whole pixels (a fraction of a ms). ``MapView`` shows it while the range changes and swaps the exact
scatter back once the view rests, so the picture at rest is unchanged.
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.ScatterPlotItem import renderSymbol
from PyQt6.QtCore import QPointF, QRectF
from PyQt6.QtGui import QImage


def symbol_stamp(size: float, brush, dpr: float = 1.0) -> np.ndarray:
    """uint32 [S, S] premultiplied ARGB of one pen-less 'o' symbol of ``size`` px, as the scatter draws it."""
    image = renderSymbol("o", size, pg.mkPen(None), brush, dpr=dpr)
    image = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    side = image.width()
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, dtype=np.uint32).reshape(image.height(), image.bytesPerLine() // 4)
    return rows[:, :side].copy()


MAX_PILE = 8  # stacking beyond this many symbols is drawn as this many (the colour has saturated by then)


class PreviewScatter(pg.GraphicsObject):
    """Points [N, 2] in view coordinates, each drawn with the stamp of its group (one brush per group)."""

    def __init__(self, size: float = 4.0):
        super().__init__()
        self.size = float(size)
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._groups = np.zeros(0, dtype=np.int64)
        self._brushes: list = []
        self._stamps: tuple | None = None  # (dpr, offsets dy [K], dx [K], colours [K, G * MAX_PILE]) per dpr
        self._bounds = QRectF()
        self._canvas: dict | None = None  # the last paint's splat, reused while the view only pans
        self.last_paint_ms = 0.0

    def setData(self, points: np.ndarray, groups: np.ndarray, brushes: list) -> None:
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        self._x, self._y = points[:, 0].copy(), points[:, 1].copy()
        self._groups = np.asarray(groups, dtype=np.int64).reshape(-1)
        self._brushes = list(brushes)
        self._stamps = None
        self._canvas = None
        self.prepareGeometryChange()
        if len(points):
            lo, hi = points.min(axis=0), points.max(axis=0)
            self._bounds = QRectF(QPointF(lo[0], lo[1]), QPointF(hi[0], hi[1]))
        else:
            self._bounds = QRectF()
        self.update()

    def clear(self) -> None:
        self.setData(np.zeros((0, 2)), np.zeros(0), [])

    def boundingRect(self) -> QRectF:
        # points are drawn a few pixels wide: pad by a small share of the extent (enough at any sensible zoom)
        pad = 0.05 * max(self._bounds.width(), self._bounds.height(), 1e-9)
        return self._bounds.adjusted(-pad, -pad, pad, pad)

    def _stamp_table(self, dpr: float):
        if self._stamps is not None and self._stamps[0] == dpr:
            return self._stamps[1:]
        stamps = np.stack([symbol_stamp(self.size, b, dpr) for b in self._brushes])  # [G, S, S]
        alpha = (stamps >> 24).max(axis=0)
        dy, dx = np.nonzero(alpha)
        order = np.argsort(alpha[dy, dx], kind="stable")  # faint edge pixels first, the opaque core last
        dy, dx = dy[order], dx[order]
        colours = stamps[:, dy, dx]  # [G, K] premultiplied ARGB
        # the same pixel under n stacked symbols (n = 1..MAX_PILE): alpha 1 - (1 - a)^n, colour scaled alike
        a = ((colours >> 24) & 0xFF).astype(np.float64)[..., None] / 255.0
        n = np.arange(1, MAX_PILE + 1, dtype=np.float64)
        gain = np.where(a > 0, (1.0 - (1.0 - a) ** n) / np.maximum(a, 1e-9), 1.0)  # [G, K, MAX_PILE]
        channels = [np.minimum(((colours[..., None] >> shift) & 0xFF) * gain + 0.5, 255).astype(np.uint32)
                    for shift in (24, 16, 8, 0)]
        colours = (channels[0] << 24) | (channels[1] << 16) | (channels[2] << 8) | channels[3]  # [G, K, P]
        table = np.ascontiguousarray(colours.transpose(1, 0, 2).reshape(len(dy), -1))  # [K, G * P]: one gather
        half = stamps.shape[1] / 2.0
        self._stamps = (dpr, dy - half, dx - half, table)
        return self._stamps[1:]

    def render(self, transform, width: int, height: int, dpr: float = 1.0) -> np.ndarray:
        """uint32 [height, width] premultiplied ARGB of the points under ``transform`` (view -> device px)."""
        canvas, pad = self._splat(transform, width, height, dpr)
        return canvas[pad:pad + height, pad:pad + width].copy()

    def _splat(self, transform, width: int, height: int, dpr: float) -> tuple[np.ndarray, int]:
        """The points splatted on a canvas [height + 2 pad, width + 2 pad] (pixel (0, 0) at [pad, pad])."""
        if len(self._x) == 0 or not self._brushes:
            return np.zeros((height, width), dtype=np.uint32), 0
        dy, dx, table = self._stamp_table(dpr)
        piles = table.shape[1] // len(self._brushes)
        # device pixel of each point (QTransform: x' = m11 x + m21 y + dx, y' = m12 x + m22 y + dy), top-left of
        # its stamp rounded the way the scatter's pixmap fragments land
        if transform.m21() == 0 and transform.m12() == 0:  # the map's own transform: no rotation or shear
            px = (transform.m11() * dpr) * self._x + transform.m31() * dpr
            py = (transform.m22() * dpr) * self._y + transform.m32() * dpr
        else:
            px = (transform.m11() * self._x + transform.m21() * self._y + transform.m31()) * dpr
            py = (transform.m12() * self._x + transform.m22() * self._y + transform.m32()) * dpr
        span = int(np.ceil(max(dx.max(), dy.max()) - min(dx.min(), dy.min()))) + 2
        inside = (px > -span) & (px < width + span) & (py > -span) & (py < height + span)
        pad = 2 * span  # room for every stamp pixel of the points kept above
        stride = width + 2 * pad
        size = (height + 2 * pad) * stride
        base = ((np.floor(py[inside] + 0.5).astype(np.intp) + pad) * stride
                + np.floor(px[inside] + 0.5).astype(np.intp) + pad)  # flat canvas index of each point
        groups = self._groups[inside]
        # how many points pile up near each pixel (their cores span 3x3 px): where the scatter stacks several
        # translucent symbols the colour saturates, and the preview follows that below
        centres = np.bincount(base, minlength=size).astype(np.int32)
        # points on the same pixel have the same footprint, and the later one covers the earlier everywhere:
        # keep only the last point of each pixel (a big saving when zoomed out)
        owner = np.empty(size, dtype=np.int32)
        order = np.arange(len(base), dtype=np.int32)
        owner[base] = order
        last = owner[base] == order
        base, groups = base[last], groups[last]
        piled = centres[base - stride - 1]  # points whose cores overlap each kept point's centre
        for shift in (-stride, -stride + 1, -1, 0, 1, stride - 1, stride, stride + 1):
            piled += centres[base + shift]
        np.clip(piled, 1, piles, out=piled)
        colour = groups * piles + (piled - 1)  # column of the stamp table
        canvas = np.zeros(size, dtype=np.uint32)
        offsets = np.floor(dy + 0.5).astype(np.intp) * stride + np.floor(dx + 0.5).astype(np.intp)
        for k in range(len(offsets)):  # edge pixels first, cores last; later points cover earlier ones
            canvas[base + offsets[k]] = table[k][colour]
        return canvas.reshape(-1, stride), pad

    def paint(self, p, option, widget=None) -> None:
        t0 = time.perf_counter()
        view = self.viewRect()
        if view is None or len(self._x) == 0:
            return
        transform = p.transform()
        device = transform.mapRect(view).toAlignedRect()
        if widget is not None:
            device = device.intersected(widget.rect())
        if device.isEmpty():
            return
        dpr = float(widget.devicePixelRatioF()) if widget is not None else 1.0
        w, h = int(np.ceil(device.width() * dpr)), int(np.ceil(device.height() * dpr))
        image, source = self._canvas_for(transform, device, w, h, dpr)
        p.save()
        p.resetTransform()
        p.drawImage(QRectF(device.left(), device.top(), w / dpr, h / dpr), image, source)
        p.restore()
        self.last_paint_ms = (time.perf_counter() - t0) * 1000

    def _canvas_for(self, transform, device, w: int, h: int, dpr: float) -> tuple[QImage, QRectF]:
        """The splatted points for this paint, and the rectangle of it (device pixels) that covers ``device``.

        A pan step moves every point by the same amount, so the canvas of the previous step serves again, shifted
        by whole device pixels, while it covers the view (a point may land a pixel off where a new splat would put
        it; the exact scatter replaces the preview once the view rests). The first pan step after a zoom splats
        half a view of margin on every side for the steps that follow; a zoom step splats just the view."""
        scale = np.array([transform.m11(), transform.m12(), transform.m21(), transform.m22()])
        cached = self._canvas
        panned = (cached is not None and cached["dpr"] == dpr and dpr == int(dpr)
                  and np.allclose(scale, cached["scale"], rtol=1e-9, atol=1e-12))
        if panned:
            shift_x = round((transform.m31() - cached["m31"]) * dpr)
            shift_y = round((transform.m32() - cached["m32"]) * dpr)
            x = (device.left() - cached["left"]) * dpr - shift_x
            y = (device.top() - cached["top"]) * dpr - shift_y
            if 0 <= x and x + w <= cached["width"] and 0 <= y and y + h <= cached["height"]:
                pad = cached["pad"]
                return cached["image"], QRectF(x + pad, y + pad, w, h)
        margin = (device.width() + 1) // 2 if panned else 0  # logical px on every side
        left, top = device.left() - margin, device.top() - margin
        width, height = w + int(2 * margin * dpr), h + int(2 * margin * dpr)
        shifted = transform * pg.QtGui.QTransform.fromTranslate(-left, -top)
        canvas, pad = self._splat(shifted, width, height, dpr)
        image = pg.functions.ndarray_to_qimage(canvas, QImage.Format.Format_ARGB32_Premultiplied)
        self._canvas = {"scale": scale, "dpr": dpr, "m31": transform.m31(), "m32": transform.m32(), "left": left,
                        "top": top, "width": width, "height": height, "pad": pad, "image": image, "array": canvas}
        x, y = (device.left() - left) * dpr, (device.top() - top) * dpr
        return image, QRectF(x + pad, y + pad, w, h)

    def draw_afresh(self) -> None:
        """Splat anew at the next paint (no shifted canvas of an earlier one)."""
        if self._canvas is not None:
            self._canvas = None
            self.update()

    def itemChange(self, change, value):
        if change == self.GraphicsItemChange.ItemVisibleHasChanged and not value:
            self._canvas = None  # a hidden preview keeps no canvas (tens of MB on a large screen)
        return super().itemChange(change, value)
