"""Latent walks from the current latent: one row per z_c dimension (per attribute for binary labels), the
decoded images as that dimension sweeps the range its priors cover, as in the paper's figures."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, Qt, QTimer
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel,
                             QPushButton, QSpinBox, QWidget)

from explorer import export
from explorer.imaging import tile
from explorer.state import ExplorerState
from explorer.widgets import ImageView

GAP = 2


class WalkGrid(ImageView):
    """The tiled walk with a name left of each row."""

    LEFT = 90

    def __init__(self, parent=None):
        super().__init__(200, parent)
        self.rows: list[str] = []

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#f4f4f4"))
        if self._image is None:
            return
        w, h = self._image.width(), self._image.height()
        scale = min((self.width() - self.LEFT) / w, self.height() / h)
        target = QRectF(self.LEFT, (self.height() - h * scale) / 2, w * scale, h * scale)
        p.drawImage(target, self._image)
        row_h = target.height() / max(1, len(self.rows))
        p.setPen(QColor("#202020"))
        for i, name in enumerate(self.rows):
            p.drawText(QRectF(0, target.top() + i * row_h, self.LEFT - 6, row_h),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)


class WalkPanel(QWidget):
    def __init__(self, state: ExplorerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.grid: np.ndarray | None = None  # uint8 [Dc, steps, H, W(, 3)]
        self.steps = QSpinBox()
        self.steps.setRange(3, 21)
        self.steps.setValue(9)
        self.margin = QDoubleSpinBox()
        self.margin.setRange(0.0, 10.0)
        self.margin.setSingleStep(0.5)
        self.margin.setValue(3.0)
        self.follow = QCheckBox("follow the current latent")
        self.follow.setChecked(True)
        self.walk_button = QPushButton("Walk from the current latent")
        self.export_button = QPushButton("Export PNG\u2026")
        self.view = WalkGrid()
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)
        self._debounce.timeout.connect(self.refresh)

        controls = QGridLayout()
        controls.addWidget(QLabel("steps"), 0, 0)
        controls.addWidget(self.steps, 0, 1)
        controls.addWidget(QLabel("margin (prior scales)"), 1, 0)
        controls.addWidget(self.margin, 1, 1)
        controls.addWidget(self.follow, 2, 0, 1, 2)
        controls.addWidget(self.walk_button, 3, 0, 1, 2)
        controls.addWidget(self.export_button, 4, 0, 1, 2)
        controls.setRowStretch(5, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(controls, 0)
        layout.addWidget(self.view, 1)

        self.walk_button.clicked.connect(self.refresh)
        self.export_button.clicked.connect(self._export)
        self.steps.valueChanged.connect(lambda _: self._debounce.start())
        self.margin.valueChanged.connect(lambda _: self._debounce.start())
        state.latentChanged.connect(self._on_latent_changed)

    def _on_latent_changed(self, source: str) -> None:
        # follow selections and interventions; during drags and animations only when visible, debounced
        if self.follow.isChecked() and (self.isVisible() or source in ("select", "maps", "intervention")):
            self._debounce.start()

    def refresh(self) -> None:
        s = self.state
        if s.run is None or s.z_c is None:
            return
        self.grid = s.walk(self.steps.value(), self.margin.value())
        spec = s.run.label_spec
        self.view.rows = list(spec.names) if not spec.is_multiclass else [f"z_c[{d}]" for d in range(len(self.grid))]
        rows, cols = self.grid.shape[:2]
        self.view.set_image(tile(self.grid.reshape((rows * cols,) + self.grid.shape[2:]), rows, cols, gap=GAP))

    def _export(self) -> None:
        if self.grid is None:
            self.refresh()
        name, _ = QFileDialog.getSaveFileName(self, "Export latent walk", "latent_walk.png", "PNG image (*.png)")
        if name and self.grid is not None:
            export.save_grid(self.grid, name)
