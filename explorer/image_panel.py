"""The right-hand panel: the decoded current latent with q(y|z_c), and the point under the mouse (or A)."""
from __future__ import annotations

from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.latents import SPLIT_NAMES

from explorer.state import ExplorerState
from explorer.widgets import ImageView, ProbBars, label_colours

_SOURCES = {"zc": "dragging on the z_c map (style held)", "style": "dragging on the style map (z_c held)",
            "select": "point A", "animation": "interpolation frame", "maps": "point A", "intervention": "intervention"}


def heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600; font-size: 11pt; color: #202020;")
    return label


class ImagePanel(QWidget):
    def __init__(self, state: ExplorerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.decoded = ImageView(240)
        self.decoded_caption = QLabel()
        self.decoded_caption.setWordWrap(True)
        self.decoded_probs = ProbBars()
        self.point_title = heading("Point")
        self.point_image = ImageView(110)
        self.point_image.setFixedSize(110, 110)
        self.point_info = QLabel()
        self.point_info.setWordWrap(True)
        self.point_probs = ProbBars()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(heading("Decoded latent"))
        layout.addWidget(self.decoded, 3)
        layout.addWidget(self.decoded_caption)
        layout.addWidget(self.decoded_probs)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet("color: #d0d0d0;")
        layout.addWidget(line)
        layout.addWidget(self.point_title)
        row = QHBoxLayout()
        row.addWidget(self.point_image)
        row.addWidget(self.point_info, 1)
        layout.addLayout(row)
        layout.addWidget(self.point_probs)
        layout.addStretch(0)

        state.runLoaded.connect(self._on_run_loaded)
        state.latentChanged.connect(self._on_latent_changed)
        state.hoverChanged.connect(lambda _: self._show_point())
        state.selectionChanged.connect(lambda *_: self._show_point())

    def _on_run_loaded(self) -> None:
        spec = self.state.run.label_spec
        colours = label_colours(spec.size)
        for bars in (self.decoded_probs, self.point_probs):
            bars.configure(spec.names, colours, spec.is_multiclass)

    def _on_latent_changed(self, source: str) -> None:
        s = self.state
        self.decoded.set_image(s.image)
        self.decoded_probs.set_values(s.probs)
        where = _SOURCES.get(source, source)
        if source in ("select", "maps") and s.a >= 0:
            where = f"point A (#{s.a})"
        self.decoded_caption.setText(f"<b>{where}</b><br>classifier q(y|z_c): <b>{s.prediction_text(s.probs)}</b>")

    def _show_point(self) -> None:
        s = self.state
        i, title = (s.hover, "Point under the mouse") if s.hover >= 0 else (s.a, "Selected point A")
        if i < 0:
            self.point_image.set_image(None)
            self.point_info.setText("")
            return
        lat = s.run.latents
        self.point_title.setText(title)
        self.point_image.set_image(s.run.images[i])
        self.point_probs.set_values(lat.probs[i])
        self.point_info.setText(
            f"<b>#{i}</b> ({SPLIT_NAMES[int(lat.split[i])]} image {int(lat.index[i])})<br>"
            f"label: <b>{s.point_label_text(i)}</b><br>classifier: <b>{s.prediction_text(lat.probs[i])}</b>")
