"""Neighbours of A, as two image strips: its nearest points in z_c (the same characteristics in other styles) and
in the style latent (the same style with other characteristics). Clicking an image makes that point A."""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from explorer.qt_adapter import QtModel
from explorer.widgets import ElidedLabel, ImageView

STRIP = 10  # neighbours per strip


class ClickableImage(ImageView):
    def __init__(self, on_click, parent=None):
        super().__init__(64, parent)
        self.point = -1
        self._on_click = on_click
        self.setMinimumSize(40, 40)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.point >= 0:
            self._on_click(self.point)


class NeighboursPanel(QWidget):
    def __init__(self, qt_model: QtModel, parent=None):
        super().__init__(parent)
        self.model = qt_model.model
        self.title = QLabel()
        self.title.setWordWrap(True)
        grid = QGridLayout()
        self.strips: dict[str, list[ClickableImage]] = {}
        self.captions: dict[str, list[ElidedLabel]] = {}
        texts = {"zc": "nearest in z_c\n(same characteristics,\nother styles)",
                 "style": "nearest in style\n(same style,\nother characteristics)"}
        for row, name in enumerate(("zc", "style")):
            label = QLabel(texts[name])
            label.setStyleSheet("color: #404040;")
            grid.addWidget(label, 2 * row, 0, 2, 1)
            self.strips[name], self.captions[name] = [], []
            for k in range(STRIP):
                view = ClickableImage(self.model.select_a)
                caption = ElidedLabel()  # a binary run's attribute list would widen its column past the tab
                caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
                caption.setStyleSheet("color: #606060; font-size: 8pt;")
                grid.addWidget(view, 2 * row, k + 1)
                grid.addWidget(caption, 2 * row + 1, k + 1)
                self.strips[name].append(view)
                self.captions[name].append(caption)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(grid, 1)
        qt_model.selectionChanged.connect(self.refresh)
        qt_model.runLoaded.connect(self.refresh)

    def refresh(self) -> None:
        m = self.model
        found = m.neighbours(k=STRIP) if m.run is not None and m.a >= 0 else None
        self.title.setText("" if found is None else
                           f"<b>Neighbours of A #{m.a}</b> ({m.point_label_text(m.a)}) \u00b7 click one to make it A")
        for name, idx in zip(("zc", "style"), found if found is not None else ([], [])):
            for k, (view, caption) in enumerate(zip(self.strips[name], self.captions[name])):
                if k < len(idx):
                    i = int(idx[k])
                    view.point = i
                    view.set_image(m.run.images[i])
                    view.setToolTip(f"#{i}: {m.point_label_text(i)} (click: make it A)")
                    caption.setText(f"#{i} {m.point_label_text(i)}")
                else:
                    view.point = -1
                    view.set_image(None)
                    caption.setText("")
