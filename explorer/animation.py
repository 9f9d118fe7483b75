"""Interpolation between A and B, played as an animation: the moving point on both maps (the handles), the
decoded frame in the image panel, play/pause/speed/scrub, and export as an animated GIF or a PNG strip."""
from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSlider,
                             QSpinBox, QVBoxLayout, QWidget)

from explorer import export
from explorer.imaging import tile
from explorer.state import ExplorerState
from explorer.widgets import ImageView

MODES = (("full", "full latent"), ("zc", "z_c only (style of A)"), ("style", "style only (z_c of A)"))
STRIP_FRAMES = 10


class AnimationPanel(QWidget):
    def __init__(self, state: ExplorerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.path: dict | None = None   # state.interpolation(...) of the current A, B, mode and steps
        self.frame = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.step)

        self.mode = QComboBox()
        for _, text in MODES:
            self.mode.addItem(text)
        self.steps = QSpinBox()
        self.steps.setRange(2, 240)
        self.steps.setValue(30)
        self.play_button = QPushButton("\u25B6 Play")
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(1, 60)
        self.speed.setValue(12)
        self.speed_label = QLabel()
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.gif_button = QPushButton("Export GIF\u2026")
        self.strip_button = QPushButton("Export PNG strip\u2026")
        self.info = QLabel("Click a point for A and shift-click another for B.")
        self.preview = ImageView(120)

        controls = QGridLayout()
        controls.addWidget(QLabel("path"), 0, 0)
        controls.addWidget(self.mode, 0, 1)
        controls.addWidget(QLabel("frames"), 1, 0)
        controls.addWidget(self.steps, 1, 1)
        controls.addWidget(self.play_button, 2, 0, 1, 2)
        controls.addWidget(self.speed_label, 3, 0)
        controls.addWidget(self.speed, 3, 1)
        controls.addWidget(QLabel("frame"), 4, 0)
        controls.addWidget(self.scrub, 4, 1)
        exports = QHBoxLayout()
        exports.addWidget(self.gif_button)
        exports.addWidget(self.strip_button)
        controls.addLayout(exports, 5, 0, 1, 2)
        right = QVBoxLayout()
        right.addWidget(self.info)
        right.addWidget(self.preview, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(controls, 0)
        layout.addLayout(right, 1)

        self.play_button.clicked.connect(self.toggle)
        self.speed.valueChanged.connect(self._on_speed)
        self.scrub.valueChanged.connect(self._on_scrub)
        self.mode.currentIndexChanged.connect(lambda _: self.invalidate())
        self.steps.valueChanged.connect(lambda _: self.invalidate())
        self.gif_button.clicked.connect(lambda: self._export("gif"))
        self.strip_button.clicked.connect(lambda: self._export("png"))
        state.runLoaded.connect(self.invalidate)
        state.selectionChanged.connect(lambda *_: self.invalidate())
        self._on_speed(self.speed.value())

    # ------------------------------------------------------------------ the path
    @property
    def mode_name(self) -> str:
        return MODES[self.mode.currentIndex()][0]

    def invalidate(self) -> None:
        self.pause()
        self.path = None
        self.state.set_path(None) if self.state.run is not None else None
        ready = self.state.run is not None and self.state.a >= 0 and self.state.b >= 0
        for w in (self.play_button, self.gif_button, self.strip_button, self.scrub):
            w.setEnabled(ready)
        if ready:
            self.info.setText(f"A = #{self.state.a} \u2192 B = #{self.state.b}")

    def ensure_path(self) -> dict | None:
        s = self.state
        if self.path is None and s.a >= 0 and s.b >= 0:
            self.path = s.interpolation(self.mode_name, self.steps.value())
            s.set_path(self.path["positions"])
            self.scrub.blockSignals(True)
            self.scrub.setRange(0, len(self.path["images"]) - 1)
            self.scrub.setValue(0)
            self.scrub.blockSignals(False)
            self.frame = 0
            images = self.path["images"]
            picks = [images[round(i * (len(images) - 1) / (STRIP_FRAMES - 1))] for i in range(STRIP_FRAMES)]
            self.preview.set_image(tile(picks, 1, STRIP_FRAMES, gap=2))
        return self.path

    # ------------------------------------------------------------------ playing
    def show_frame(self, t: int) -> None:
        """Make frame t the current latent: the handles move on both maps, the image panel shows it."""
        path = self.ensure_path()
        if path is None:
            return
        self.frame = int(t) % len(path["images"])
        self.state.set_latent(path["z_c"][self.frame], path["z_style"][self.frame], "animation",
                              dict(path["positions"][self.frame]))
        self.scrub.blockSignals(True)
        self.scrub.setValue(self.frame)
        self.scrub.blockSignals(False)
        self.info.setText(f"A = #{self.state.a} \u2192 B = #{self.state.b}    frame {self.frame + 1}/{len(path['images'])}")

    def step(self) -> None:
        self.show_frame(self.frame + 1)

    def play(self) -> None:
        if self.ensure_path() is None:
            return
        self.show_frame(self.frame)
        self.timer.start(int(1000 / self.speed.value()))
        self.play_button.setText("\u23F8 Pause")

    def pause(self) -> None:
        self.timer.stop()
        self.play_button.setText("\u25B6 Play")

    def toggle(self) -> None:
        self.pause() if self.timer.isActive() else self.play()

    def _on_speed(self, fps: int) -> None:
        self.speed_label.setText(f"{fps} fps")
        if self.timer.isActive():
            self.timer.setInterval(int(1000 / fps))

    def _on_scrub(self, value: int) -> None:
        self.show_frame(value)

    # ------------------------------------------------------------------ exports
    def export_gif(self, path) -> None:
        export.save_gif(self.ensure_path()["images"], path, fps=self.speed.value())

    def export_strip(self, path) -> None:
        export.save_strip(self.ensure_path()["images"], path)

    def _export(self, kind: str) -> None:
        if self.ensure_path() is None:
            return
        pattern = "GIF image (*.gif)" if kind == "gif" else "PNG image (*.png)"
        name, _ = QFileDialog.getSaveFileName(self, "Export interpolation", f"interpolation.{kind}", pattern)
        if name:
            try:
                self.export_gif(name) if kind == "gif" else self.export_strip(name)
            except OSError as e:
                self.window().report_error(f"could not export: {e}")
