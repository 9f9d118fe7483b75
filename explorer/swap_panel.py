"""Interventions on point A: swap its label (or flip one binary attribute), or transfer B's characteristics.

Shows A, B and the intervened image side by side with the classifier's verdict; the maps draw where the result
lands (a star). Everything shown is the model's: a new A (or B, for a transfer) clears the result everywhere.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout,
                             QWidget)

from explorer.image_panel import heading
from explorer.model import Kind, Using
from explorer.qt_adapter import QtModel
from explorer.widgets import ElidedLabel, ImageView, ProbBars, label_colours

USING = (Using.PRIOR, Using.CLASS_STATS)
HINT = "Choose A (click), then swap its label; shift-click a B to transfer its characteristics."


def _captioned(view: ImageView) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    label = ElidedLabel()  # one line whatever its length: the picture below keeps its room
    label.setStyleSheet("color: #404040;")
    layout.addWidget(label)
    layout.addWidget(view, 1)
    box.caption = label
    return box


class SwapPanel(QWidget):
    def __init__(self, qt_model: QtModel, parent=None):
        super().__init__(parent)
        self.model = qt_model.model
        self.target = QComboBox()
        self.target.setToolTip("The class A's z_c is moved to (binary labels: the attribute to flip)")
        self.using = QComboBox()
        self.using.addItems(["learned prior p(z_c|y)", "class statistics of the points"])
        self.using.setToolTip("How z_c moves between classes: the model's conditional prior (the paper's swap), or "
                              "the mean and spread of the encoded points of each class")
        self.swap_button = QPushButton("Swap label of A")
        self.swap_button.setToolTip("Move A's z_c to the chosen class, keeping its style; the star marks the result")
        self.transfer_button = QPushButton("Transfer: z_c of B + style of A")
        self.transfer_button.setToolTip("Decode B's characteristics z_c with A's style")
        self.use_button = QPushButton("Make it the current latent")
        self.use_button.setToolTip("Continue from the result: decode it in the side panel, walk from it")
        self.original, self.other, self.result = ImageView(120), ImageView(120), ImageView(120)
        self.original_box = _captioned(self.original)
        self.other_box = _captioned(self.other)
        self.result_box = _captioned(self.result)
        self.verdict = QLabel(HINT)
        self.verdict.setWordWrap(True)
        self.probs = ProbBars()
        self.probs.setToolTip("The classifier on the result image (re-encoded)")

        controls = QGridLayout()
        self.target_label = QLabel("to class")
        controls.addWidget(self.target_label, 0, 0)
        controls.addWidget(self.target, 0, 1)
        controls.addWidget(QLabel("using"), 1, 0)
        controls.addWidget(self.using, 1, 1)
        controls.addWidget(self.swap_button, 2, 0, 1, 2)
        controls.addWidget(self.transfer_button, 3, 0, 1, 2)
        controls.addWidget(self.use_button, 4, 0, 1, 2)
        controls.setRowStretch(5, 1)
        # the bars scroll on their own: with many attributes (18 in CelebA) they made the whole tab taller than
        # its room, and the pictures beside them, centred in that height, slid below the visible part
        bars = QScrollArea()
        bars.setWidget(self.probs)
        bars.setWidgetResizable(True)
        bars.setFrameShape(QScrollArea.Shape.NoFrame)
        bars.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bars.setMinimumHeight(3 * ProbBars.ROW + 4)
        bars.setAlignment(Qt.AlignmentFlag.AlignTop)
        right = QVBoxLayout()
        right.addWidget(heading("Classifier on the result"))
        right.addWidget(self.verdict)
        right.addWidget(bars, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(controls, 0)
        for box in (self.original_box, self.other_box, self.result_box):
            layout.addWidget(box, 1)
        layout.addLayout(right, 1)

        self.swap_button.clicked.connect(self.apply_swap)
        self.transfer_button.clicked.connect(self.apply_transfer)
        self.use_button.clicked.connect(self.model.apply_intervention)
        qt_model.runLoaded.connect(self._on_run_loaded)
        qt_model.selectionChanged.connect(self._render)
        qt_model.interventionChanged.connect(self._render)

    def _on_run_loaded(self) -> None:
        m = self.model
        spec = m.label_spec
        self.target.clear()
        self.target.addItems(spec.names)
        self.target_label.setText("to class" if spec.is_multiclass else "attribute")
        self.swap_button.setText("Swap label of A" if spec.is_multiclass else "Flip this attribute of A")
        self.probs.configure(spec.names, label_colours(spec.size), spec.is_multiclass)
        self.using.setCurrentIndex(USING.index(m.default_using()))
        self.using.setToolTip(m.swap_choice().reason())
        self._render()

    @property
    def using_value(self) -> Using:
        return USING[self.using.currentIndex()]

    def apply_swap(self) -> None:
        m = self.model
        if m.a < 0:
            return
        if m.label_spec.is_multiclass:
            m.swap(self.target.currentIndex(), self.using_value)
        else:
            m.flip(self.target.currentIndex(), self.using_value)

    def apply_transfer(self) -> None:
        if self.model.a >= 0 and self.model.b >= 0:
            self.model.transfer()

    def _render(self) -> None:
        """Draw A, B and the intervention exactly as the model has them now."""
        m, r = self.model, self.model.intervention
        if m.run is None:  # no run (one in training, before its first epoch): no classes to swap to or score
            self.target.clear()
            self.probs.configure([], [], True)
        self.transfer_button.setEnabled(m.a >= 0 and m.b >= 0)
        self.swap_button.setEnabled(m.a >= 0)
        if m.a >= 0:
            self.original.set_image(m.point_image(m.a))
            self.original_box.caption.setText(f"A #{m.a} (label {m.point_label_text(m.a)})")
        else:
            self.original.set_image(None)
            self.original_box.caption.setText("A: none")
        if m.b >= 0:
            self.other.set_image(m.point_image(m.b))
            gives = " (gives z_c)" if r is not None and r.kind is Kind.TRANSFER else ""
            self.other_box.caption.setText(f"B #{m.b} (label {m.point_label_text(m.b)}){gives}")
        else:
            self.other.set_image(None)
            self.other_box.caption.setText("B: shift-click a point")  # short: the caption is one line
        self.use_button.setEnabled(r is not None)
        if r is None:
            self.result.set_image(None)
            self.result_box.caption.setText("intervened: none yet")
            self.probs.set_values([])
            self.verdict.setText(HINT)
            return
        self.result.set_image(r.image)
        self.result_box.caption.setText(f"intervened: {r.description}")
        self.probs.set_values(r.probs)
        self.verdict.setText(f"{r.description}<br>classifier on the result image: <b>{m.prediction_text(r.probs)}</b>"
                             f"<br><span style='color:#707070'>the star on each map marks where it lands</span>")
