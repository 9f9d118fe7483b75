"""Interventions on point A: swap its label (or flip one binary attribute), or transfer B's characteristics.

Shows the original and the intervened image side by side with the classifier's verdict; the maps draw where the
result lands (a star).
"""
from __future__ import annotations

from PyQt6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from explorer.image_panel import heading
from explorer.state import ExplorerState
from explorer.widgets import ImageView, ProbBars, label_colours


def _captioned(title: str, view: ImageView) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    label = QLabel(title)
    label.setStyleSheet("color: #404040;")
    layout.addWidget(label)
    layout.addWidget(view, 1)
    box.caption = label
    return box


class SwapPanel(QWidget):
    def __init__(self, state: ExplorerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.target = QComboBox()
        self.using = QComboBox()
        self.using.addItems(["learned prior p(z_c|y)", "class statistics of the points"])
        self.using.setToolTip("How z_c moves between classes: the model's conditional prior (the paper's swap), or "
                              "the mean and spread of the encoded points of each class")
        self.swap_button = QPushButton("Swap label of A")
        self.transfer_button = QPushButton("Transfer: z_c of B + style of A")
        self.use_button = QPushButton("Make it the current latent")
        self.original, self.other, self.result = ImageView(150), ImageView(150), ImageView(150)
        self.original_box = _captioned("A (original)", self.original)
        self.other_box = _captioned("B (gives z_c)", self.other)
        self.result_box = _captioned("intervened", self.result)
        self.verdict = QLabel("Click a point to choose A, then swap its label.")
        self.verdict.setWordWrap(True)
        self.probs = ProbBars()

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
        right = QVBoxLayout()
        right.addWidget(heading("Classifier on the result"))
        right.addWidget(self.verdict)
        right.addWidget(self.probs)
        right.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(controls, 0)
        for box in (self.original_box, self.other_box, self.result_box):
            layout.addWidget(box, 1)
        layout.addLayout(right, 1)
        self.other_box.hide()

        self.swap_button.clicked.connect(self.apply_swap)
        self.transfer_button.clicked.connect(self.apply_transfer)
        self.use_button.clicked.connect(self._use_result)
        state.runLoaded.connect(self._on_run_loaded)
        state.selectionChanged.connect(self._on_selection)
        state.interventionChanged.connect(self._show_result)

    def _on_run_loaded(self) -> None:
        spec = self.state.run.label_spec
        self.target.clear()
        self.target.addItems(spec.names)
        self.target_label.setText("to class" if spec.is_multiclass else "attribute")
        self.swap_button.setText("Swap label of A" if spec.is_multiclass else "Flip this attribute of A")
        self.probs.configure(spec.names, label_colours(spec.size), spec.is_multiclass)
        self.transfer_button.setEnabled(False)
        self.use_button.setEnabled(False)
        agreement = self.state.prior_agreement()
        self.using.setCurrentIndex(0 if agreement >= 0.8 else 1)
        self.using.setToolTip(f"the classifier puts {agreement:.0%} of the learned prior's class means in their own "
                              "class" + ("" if agreement >= 0.8 else "; class statistics chosen by default"))
        for view in (self.original, self.other, self.result):
            view.set_image(None)

    def _on_selection(self, a: int, b: int) -> None:
        """Show the chosen points right away; a shown result stays until the next intervention."""
        self.transfer_button.setEnabled(a >= 0 and b >= 0)
        s = self.state
        if a >= 0 and (s.intervention is None or s.intervention.source != a):
            self.original.set_image(s.run.images[a])
            self.original_box.caption.setText(f"A #{a} (label {s.point_label_text(a)})")
        if b >= 0:
            self.other.set_image(s.run.images[b])
            self.other_box.caption.setText(f"B #{b} (gives z_c)")

    def apply_swap(self) -> None:
        if self.state.a < 0:
            return
        using = ("prior", "data")[self.using.currentIndex()]
        if self.state.run.label_spec.is_multiclass:
            self.state.swap(self.target.currentIndex(), using)
        else:
            self.state.flip(self.target.currentIndex(), using)

    def apply_transfer(self) -> None:
        if self.state.a >= 0 and self.state.b >= 0:
            self.state.transfer()

    def _use_result(self) -> None:
        r = self.state.intervention
        if r is not None:
            self.state.set_latent(r.z_c, r.z_style, "intervention", dict(r.positions))

    def _show_result(self) -> None:
        r, s = self.state.intervention, self.state
        if r is None:
            return
        self.original.set_image(s.run.images[r.source])
        self.original_box.caption.setText(f"A #{r.source} (label {s.point_label_text(r.source)})")
        if r.kind == "transfer":
            self.other.set_image(s.run.images[s.b])
            self.other_box.caption.setText(f"B #{s.b} (gives z_c)")
            self.other_box.show()
        else:
            self.other_box.hide()
        self.result.set_image(r.image)
        self.result_box.caption.setText(f"intervened: {r.description}")
        self.probs.set_values(r.probs)
        self.verdict.setText(f"{r.description}<br>classifier on the result image: <b>{s.prediction_text(r.probs)}</b>"
                             f"<br><span style='color:#707070'>the star on each map marks where it lands</span>")
        self.use_button.setEnabled(True)
