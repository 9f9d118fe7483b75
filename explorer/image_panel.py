"""The side panel: the decoded current latent with q(y|z_c) and what it is, A and B side by side, and the point
under the mouse. It draws the model and keeps nothing of its own."""
from __future__ import annotations

from PyQt6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from explorer.qt_adapter import QtModel
from explorer.widgets import ImageView, ProbBars, label_colours


def heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600; font-size: 11pt; color: #202020;")
    return label


def rule() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setStyleSheet("color: #d0d0d0;")
    return line


class ImagePanel(QWidget):
    def __init__(self, qt_model: QtModel, parent=None):
        super().__init__(parent)
        self.model = qt_model.model
        self.decoded = ImageView(220)
        self.decoded.setToolTip("The current latent, decoded: point A, a dragged handle, a frame or an intervention")
        self.decoded_caption = QLabel()
        self.decoded_caption.setWordWrap(True)
        self.decoded_probs = ProbBars()
        self.decoded_probs.setToolTip("The classifier q(y|z_c) on the current latent")
        self.a_image, self.b_image = ImageView(72), ImageView(72)
        for view in (self.a_image, self.b_image):
            view.setMinimumSize(56, 56)
        self.a_image.setToolTip("Point A (click a point on a map)")
        self.b_image.setToolTip("Point B (shift-click a point on a map)")
        self.a_caption, self.b_caption = QLabel(), QLabel()
        for label in (self.a_caption, self.b_caption):
            label.setWordWrap(True)
        self.clear_b_button = QPushButton("Clear B")
        self.clear_b_button.setToolTip("Forget point B (Esc also clears B and the intervention)")
        self.point_title = heading("Point")
        self.point_image = ImageView(80)
        self.point_image.setFixedSize(80, 80)
        self.point_image.setToolTip("The point under the mouse (or A when the mouse is off the maps)")
        self.point_info = QLabel()
        self.point_info.setWordWrap(True)
        self.point_probs = ProbBars()
        self.point_probs.setToolTip("The classifier on this point's encoding")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(heading("Decoded latent"))
        layout.addWidget(self.decoded, 3)
        layout.addWidget(self.decoded_caption)
        layout.addWidget(self.decoded_probs)
        layout.addWidget(rule())
        ab = QGridLayout()
        ab.addWidget(self.a_image, 0, 0)
        ab.addWidget(self.b_image, 0, 1)
        ab.addWidget(self.a_caption, 1, 0)
        ab.addWidget(self.b_caption, 1, 1)
        ab.addWidget(self.clear_b_button, 2, 1)
        layout.addLayout(ab)
        layout.addWidget(rule())
        layout.addWidget(self.point_title)
        row = QHBoxLayout()
        row.addWidget(self.point_image)
        row.addWidget(self.point_info, 1)
        layout.addLayout(row)
        layout.addWidget(self.point_probs)
        layout.addStretch(0)

        self.clear_b_button.clicked.connect(self.model.clear_b)
        qt_model.runLoaded.connect(self._on_run_loaded)
        qt_model.currentChanged.connect(self._show_current)
        qt_model.hoverChanged.connect(lambda _: self._show_point())
        qt_model.selectionChanged.connect(self._show_selection)

    def _on_run_loaded(self) -> None:
        spec = self.model.label_spec
        colours = label_colours(spec.size)
        for bars in (self.decoded_probs, self.point_probs):
            bars.configure(spec.names, colours, spec.is_multiclass)
        self._show_selection()
        self._show_current()

    def _show_current(self) -> None:
        m, c = self.model, self.model.current
        if m.run is None:  # no run (one in training, before its first epoch): no labels to draw bars for
            for bars in (self.decoded_probs, self.point_probs):
                bars.configure([], [], True)
        if c is None:
            self.decoded.set_image(None)
            self.decoded_probs.set_values([])
            self.decoded_caption.setText("")
            return
        self.decoded.set_image(c.image)
        self.decoded_probs.set_values(c.probs)
        self.decoded_caption.setText(f"<b>{m.current_text()}</b><br>classifier q(y|z_c): "
                                     f"<b>{m.prediction_text(c.probs)}</b>")

    def _show_selection(self) -> None:
        m = self.model
        for slot, i, view, caption in (("A", m.a, self.a_image, self.a_caption),
                                       ("B", m.b, self.b_image, self.b_caption)):
            if i < 0:
                view.set_image(None)
                caption.setText(f"<b>{slot}</b>: none" + (" (shift-click a point)" if slot == "B" else ""))
            else:
                view.set_image(m.point_image(i))
                caption.setText(f"<b>{slot} #{i}</b> {m.point_label_text(i)}")
        self.clear_b_button.setEnabled(m.b >= 0)
        self._show_point()

    def _show_point(self) -> None:
        m = self.model
        i, title = (m.hover, "Point under the mouse") if m.hover >= 0 else (m.a, "Point A")
        self.point_title.setText(title)
        if i < 0 or m.run is None:
            self.point_image.set_image(None)
            self.point_info.setText("")
            self.point_probs.set_values([])
            return
        lat = m.run.latents
        self.point_image.set_image(m.point_image(i))
        self.point_probs.set_values(lat.probs[i])
        self.point_info.setText(
            f"<b>#{i}</b> ({m.source_text(i)})<br>"
            f"label: <b>{m.point_label_text(i)}</b><br>classifier: <b>{m.prediction_text(lat.probs[i])}</b>")
