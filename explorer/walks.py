"""Latent walks from the current latent: one row per z_c dimension (per attribute for binary labels), the
decoded images as that dimension sweeps the range its priors cover, as in the paper's figures."""
from __future__ import annotations

from PyQt6.QtCore import QRectF, Qt, QTimer
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import (QCheckBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox,
                             QVBoxLayout, QWidget)

from core.imaging import tile

from explorer import export
from explorer.qt_adapter import QtModel
from explorer.widgets import ImageView

GAP = 2


class WalkGrid(ImageView):
    """The tiled walk with a name left of each row."""

    LEFT = 90               # the names' column at least; wider for longer names, up to MAX_LEFT_SHARE of the width
    MAX_LEFT_SHARE = 0.3
    MIN_FONT_PX = 7
    MIN_ROW_PX = 20

    def __init__(self, parent=None):
        super().__init__(200, parent)
        self.rows: list[str] = []

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#f4f4f4"))
        if self._image is None:
            return
        widest = max((p.fontMetrics().horizontalAdvance(name) for name in self.rows), default=0) + 8
        left = max(self.LEFT, min(widest, int(self.width() * self.MAX_LEFT_SHARE)))
        w, h = self._image.width(), self._image.height()
        scale = min((self.width() - left) / w, self.height() / h)
        target = QRectF(left, (self.height() - h * scale) / 2, w * scale, h * scale)
        p.drawImage(target, self._image)
        row_h = target.height() / max(1, len(self.rows))
        if row_h < p.fontMetrics().height():  # many rows (18 attributes): a smaller font keeps one name per row
            font = p.font()
            font.setPixelSize(max(self.MIN_FONT_PX, int(row_h)))
            p.setFont(font)
        p.setPen(QColor("#202020"))
        for i, name in enumerate(self.rows):  # a name longer than the column ends in an ellipsis, not cut off
            shown = p.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, left - 6)
            p.drawText(QRectF(0, target.top() + i * row_h, left - 6, row_h),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, shown)


class WalkPanel(QWidget):
    """Draws the model's walk and says which latent it starts from. With "follow" ticked, a walk that is not of
    the current latent is redone once this panel is visible (at once when it is shown, debounced while the latent
    keeps moving); until then the caption says it is of an earlier latent."""

    def __init__(self, qt_model: QtModel, parent=None):
        super().__init__(parent)
        self.model = qt_model.model
        m = self.model
        self.steps = QSpinBox()
        self.steps.setRange(3, 21)
        self.steps.setValue(m.walk_steps)
        self.steps.setToolTip("Images per walk")
        self.margin = QDoubleSpinBox()
        self.margin.setRange(0.0, 10.0)
        self.margin.setSingleStep(0.5)
        self.margin.setValue(m.walk_margin)
        self.margin.setToolTip("How far past the priors' range the walk goes, in prior scales")
        self.follow = QCheckBox("follow the current latent")
        self.follow.setChecked(m.walk_follows)
        self.follow.setToolTip("Redo the walk whenever the current latent moves")
        self.walk_button = QPushButton("Walk from the current latent")
        self.walk_button.setToolTip("Walk each z_c dimension from the latent shown in the side panel")
        self.export_button = QPushButton("Export PNG\u2026")
        self.export_button.setToolTip("Save the walk grid as a PNG")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.view = WalkGrid()
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)
        self._debounce.timeout.connect(self._catch_up)

        controls = QGridLayout()
        controls.addWidget(QLabel("steps"), 0, 0)
        controls.addWidget(self.steps, 0, 1)
        controls.addWidget(QLabel("margin (prior scales)"), 1, 0)
        controls.addWidget(self.margin, 1, 1)
        controls.addWidget(self.follow, 2, 0, 1, 2)
        controls.addWidget(self.walk_button, 3, 0, 1, 2)
        controls.addWidget(self.export_button, 4, 0, 1, 2)
        controls.setRowStretch(5, 1)
        right = QVBoxLayout()
        right.addWidget(self.caption)
        right.addWidget(self.view, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(controls, 0)
        layout.addLayout(right, 1)

        self.walk_button.clicked.connect(self.refresh)
        self.export_button.clicked.connect(self._export)
        self.steps.valueChanged.connect(lambda v: m.set_walk_options(steps=v))
        self.margin.valueChanged.connect(lambda v: m.set_walk_options(margin=v))
        self.follow.toggled.connect(lambda on: m.set_walk_options(follows=on))
        qt_model.walkChanged.connect(self._render)
        qt_model.currentChanged.connect(self._on_current_changed)
        self._render()

    @property
    def grid(self):
        return self.model.walk.images if self.model.walk is not None else None

    def refresh(self) -> None:
        if self.model.run is not None:
            self.model.compute_walk()

    def _catch_up(self) -> None:
        if self.model.run is not None and self.isVisible():
            self.model.ensure_walk()

    def _on_current_changed(self) -> None:
        self._render_caption()
        if self.model.walk_follows and self.isVisible() and not self.model.walk_is_current:
            self._debounce.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._catch_up()  # opening the tab shows the walk of the current latent, never an older one

    def _render(self) -> None:
        w = self.model.walk
        if w is None:
            self.view.rows = []
            self.view.set_image(None)
            if self.isVisible():
                self._debounce.start()
        else:
            self.view.rows = list(w.rows)
            rows, cols = w.images.shape[:2]
            self.view.set_image(tile(w.images.reshape((rows * cols,) + w.images.shape[2:]), rows, cols, gap=GAP))
            # a row stays readable however many there are (60 classes: 60 rows); the tab scrolls instead
            self.view.setMinimumHeight(max(self.view.minimumWidth(), rows * WalkGrid.MIN_ROW_PX))
        self._render_caption()

    def _render_caption(self) -> None:
        m, w = self.model, self.model.walk
        if w is None:
            self.caption.setText("walk of the current latent: updating\u2026" if m.walk_follows else
                                 "press the button to walk from the current latent")
        elif m.walk_is_current:
            self.caption.setText(f"walk from the current latent: {w.origin_text}")
        else:
            then = "updating\u2026" if m.walk_follows else "press the button to walk from the current one"
            self.caption.setText(f"walk from an earlier latent ({w.origin_text}); {then}")

    def _export(self) -> None:
        if self.model.ensure_walk() is None:
            return
        window = self.window()
        name = window.ask_save_name("Export latent walk", "latent_walk.png", "PNG image (*.png)")
        if name:
            try:
                export.save_grid(self.model.walk.images, name)
                self.model.report(f"exported the latent walk to {name}")
            except OSError as e:
                window.report_error(f"could not export: {e}")
