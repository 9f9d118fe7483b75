"""Small shared widgets: a crisp image view for uint8 arrays, probability bars, and the label palette."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PyQt6.QtWidgets import QLabel, QSizePolicy, QWidget

# tab10: ten distinguishable colours; more classes get evenly spaced hues.
_TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def label_colours(n: int) -> list[QColor]:
    if n <= len(_TAB10):
        return [QColor(c) for c in _TAB10[:n]]
    return [QColor.fromHsvF(i / n, 0.75, 0.85) for i in range(n)]


def binary_colours() -> list[QColor]:
    return [QColor("#8da0cb"), QColor("#e6550d")]  # attribute off, on


# images without a label: a light neutral grey, apart from tab10's mid grey and from every hue
UNLABELLED_COLOUR = "#c4c4c4"


def error_colours() -> list[QColor]:
    return [QColor("#b8b8b8"), QColor("#d62728"), QColor(UNLABELLED_COLOUR)]  # correct, misclassified (red), unlabelled


# viridis at 9 stops: perceptually even and readable by colour-blind users, for continuous colourings
_SCALE = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"]


def scale_colours(n: int) -> list[QColor]:
    """n colours from low to high along the continuous scale (n >= 2)."""
    stops = np.array([[QColor(c).red(), QColor(c).green(), QColor(c).blue()] for c in _SCALE], dtype=float)
    t = np.linspace(0, len(_SCALE) - 1, n)
    rgb = np.stack([np.interp(t, np.arange(len(_SCALE)), stops[:, ch]) for ch in range(3)], axis=1)
    return [QColor(int(r + 0.5), int(g + 0.5), int(b + 0.5)) for r, g, b in rgb]


def qimage(image: np.ndarray) -> QImage:
    """uint8 [H, W] or [H, W, 3] -> QImage (a copy, so the array may change afterwards)."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    if image.ndim == 2:
        return QImage(image.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def _rgb32(image: np.ndarray) -> QImage:
    """uint8 [H, W] or [H, W, 3] -> QImage in the backing store's own format (RGB32), drawn without conversion."""
    h, w = image.shape[:2]
    bgra = np.empty((h, w, 4), dtype=np.uint8)
    if image.ndim == 2:
        bgra[..., :3] = image[..., None]
    else:
        bgra[..., 0], bgra[..., 1], bgra[..., 2] = image[..., 2], image[..., 1], image[..., 0]
    bgra[..., 3] = 255
    return QImage(bgra.data, w, h, 4 * w, QImage.Format.Format_RGB32).copy()


class ImageView(QWidget):
    """Shows a uint8 image scaled to fit, pixels kept crisp, with a thin frame.

    The image is upscaled once per change by a whole factor in numpy and drawn unscaled (drawing a 28x28 image
    scaled by the painter cost ~3 ms a frame, which a live drag cannot afford)."""

    def __init__(self, side: int = 200, parent=None):
        super().__init__(parent)
        self._image: QImage | None = None   # the image at its own size (for subclasses that scale it)
        self._scaled: QImage | None = None  # upscaled to the current widget size, made on demand
        self.array: np.ndarray | None = None
        self.frame = QColor("#c8c8c8")
        self._side = side
        self.setMinimumSize(side // 2, side // 2)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(self._side, self._side)

    def set_image(self, image: np.ndarray | None) -> None:
        self.array = None if image is None else np.array(image, copy=True)
        self._image = None if image is None else qimage(image)
        self._scaled = None
        self.update()

    def resizeEvent(self, event) -> None:
        self._scaled = None
        super().resizeEvent(event)

    def _fit(self) -> QImage:
        h, w = self.array.shape[:2]
        factor = int(min(self.width() / w, self.height() / h))
        if factor >= 1:
            return _rgb32(np.repeat(np.repeat(self.array, factor, axis=0), factor, axis=1))
        return _rgb32(self.array).scaled(self.width(), self.height(), Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#f4f4f4"))
        if self.array is None:
            return
        if self._scaled is None:
            self._scaled = self._fit()
        x, y = (self.width() - self._scaled.width()) // 2, (self.height() - self._scaled.height()) // 2
        p.drawImage(x, y, self._scaled)
        p.setPen(self.frame)
        p.drawRect(x, y, self._scaled.width() - 1, self._scaled.height() - 1)


class ProbBars(QWidget):
    """Horizontal bars of q(y|z_c): one row per class (or attribute), name, bar and value."""

    ROW = 14

    def __init__(self, parent=None):
        super().__init__(parent)
        self.names: list[str] = []
        self.colours: list[QColor] = []
        self.values = np.zeros(0)
        self.multiclass = True
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def configure(self, names, colours, multiclass: bool) -> None:
        self.names, self.colours, self.multiclass = list(names), list(colours), multiclass
        self.values = np.zeros(len(self.names))
        self.setFixedHeight(self.ROW * max(1, len(self.names)) + 4)
        self.update()

    def set_values(self, values) -> None:
        self.values = np.asarray(values, dtype=float).reshape(-1)
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        bold = QFont(p.font())
        bold.setBold(True)
        fm = QFontMetrics(bold)  # the strongest row is drawn bold: measure names as they will be drawn
        value_w = fm.horizontalAdvance("0.00") + 8
        # names get what they need, but leave a bar of at least a third of the width; longer names are elided
        name_w = min(max([fm.horizontalAdvance(n) for n in self.names] + [10]) + 8,
                     max(30, (self.width() - value_w) * 2 // 3))
        bar_w = max(10, self.width() - name_w - value_w)
        best = int(np.argmax(self.values)) if len(self.values) else -1
        for i, name in enumerate(self.names):
            y = 2 + i * self.ROW
            v = float(self.values[i]) if i < len(self.values) else 0.0
            strong = (i == best) if self.multiclass else v > 0.5
            font = p.font()
            font.setBold(strong)
            p.setFont(font)
            p.setPen(QColor("#202020"))
            shown = p.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, name_w - 6)
            p.drawText(QRectF(0, y, name_w - 6, self.ROW), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, shown)
            p.fillRect(QRectF(name_w, y + 3, bar_w, self.ROW - 6), QColor("#ececec"))
            colour = self.colours[i] if self.multiclass and i < len(self.colours) else QColor("#e6550d" if v > 0.5 else "#8da0cb")
            p.fillRect(QRectF(name_w, y + 3, bar_w * min(max(v, 0.0), 1.0), self.ROW - 6), colour)
            p.drawText(QRectF(name_w + bar_w + 4, y, value_w, self.ROW), Qt.AlignmentFlag.AlignVCenter, f"{v:.2f}")


class ElidedLabel(QLabel):
    """One line of plain text, cut with an ellipsis to the label's width; the whole text is its tooltip and what
    ``text()`` returns. A long caption (the attributes of A in an 18-attribute run) took as many lines as it
    needed and pushed the picture under it out of sight."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = str(text)
        self.setToolTip(self._full)
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(1, self.width()))
        super().setText(shown)
