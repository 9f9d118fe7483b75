"""Interpolation between A and B, played as an animation: the moving point on both maps (the handles), the
decoded frame in the side panel, play/pause/speed/scrub, and export as an animated GIF or a PNG strip.

The path itself is the model's (``ExplorerModel.interpolation``); this panel draws it and runs the clock.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGridLayout,
                             QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QStyle, QVBoxLayout, QWidget)

from core.imaging import tile

from explorer import export
from explorer.model import PATH_MODE_TEXT, Origin, PathMode
from explorer.qt_adapter import QtModel
from explorer.widgets import ImageView

MODES = tuple(PathMode)
STRIP_FRAMES = 10


class AnimationPanel(QWidget):
    def __init__(self, qt_model: QtModel, parent=None):
        super().__init__(parent)
        self.model = qt_model.model
        self.timer = QTimer(self)
        self.timer.timeout.connect(lambda: self.model.step_frame(1))

        self.mode = QComboBox()
        for mode in MODES:
            self.mode.addItem(PATH_MODE_TEXT[mode])
        self.mode.setToolTip("What moves from A to B: the whole latent, z_c only, or the style only")
        self.steps = QSpinBox()
        self.steps.setRange(2, 240)
        self.steps.setValue(self.model.steps)
        self.steps.setToolTip("Number of frames on the path from A to B")
        # text and a standard icon: media symbols such as U+23F8 are missing from common fonts (DejaVu)
        self.play_button = QPushButton()
        self.play_button.setToolTip("Play or pause the interpolation (Space)")
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(1, 60)
        self.speed.setValue(12)
        self.speed.setToolTip("Playback speed in frames per second (also the GIF's default rate)")
        self.speed_label = QLabel()
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setToolTip("Show one frame (Left / Right arrows step)")
        self.gif_button = QPushButton("Export GIF\u2026")
        self.gif_button.setToolTip("Save the interpolation as an animated GIF (frame size and rate)")
        self.strip_button = QPushButton("Export PNG strip\u2026")
        self.strip_button.setToolTip("Save the frames side by side as one PNG, optionally with step labels")
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.preview = ImageView(100)
        self.preview.setToolTip("Ten frames of the path, from A (left) to B (right)")
        # the path of A and B is computed once this tab is in view (debounced while A, B, mode or frames keep
        # changing), so its frames and its line on the maps are there before Play; while hidden, nothing is decoded
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)
        self._debounce.timeout.connect(self._catch_up)

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
        self.scrub.valueChanged.connect(self.model.show_frame)
        self.mode.currentIndexChanged.connect(lambda i: self.model.set_path_mode(MODES[i]))
        self.steps.valueChanged.connect(self.model.set_steps)
        self.gif_button.clicked.connect(lambda: self._export("gif"))
        self.strip_button.clicked.connect(lambda: self._export("png"))
        qt_model.runLoaded.connect(self._render)
        qt_model.selectionChanged.connect(self._render)
        qt_model.interpolationChanged.connect(self._render)
        qt_model.frameChanged.connect(self._render_frame)
        qt_model.currentChanged.connect(self._render_frame)
        qt_model.playingChanged.connect(self._on_playing)
        self._on_speed(self.speed.value())
        self._on_playing()
        self._render()

    # ------------------------------------------------------------------ drawing the model
    def _render(self) -> None:
        m = self.model
        ready = m.can_interpolate
        for w in (self.play_button, self.gif_button, self.strip_button, self.scrub):
            w.setEnabled(ready)
        path = m.interpolation
        if path is None:
            self.preview.set_image(None)
            self._set_scrub(0, max(1, m.steps - 1))
            self.info.setText(f"A #{m.a} \u2192 B #{m.b}: press Play or drag the frame slider" if ready else
                              "Click a point for A and shift-click another for B.")
            if ready and self.isVisible():
                self._debounce.start()
            return
        images = path.images
        picks = [images[round(i * (len(images) - 1) / (STRIP_FRAMES - 1))] for i in range(STRIP_FRAMES)]
        self.preview.set_image(tile(picks, 1, STRIP_FRAMES, gap=2))
        self._render_frame()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._catch_up()  # opening the tab shows the path of the current A and B at once

    def _catch_up(self) -> None:
        if self.isVisible() and self.model.interpolation is None:
            self.model.ensure_interpolation()  # its frames and its line on the maps; A stays the current latent

    def _render_frame(self) -> None:
        m, path = self.model, self.model.interpolation
        if path is None:
            return
        on_path = m.current is not None and m.current.origin is Origin.FRAME
        self._set_scrub(m.frame, path.steps - 1)
        where = f"frame {m.frame + 1}/{path.steps}" if on_path else "press Play or drag the frame slider"
        self.info.setText(f"{path.label} ({PATH_MODE_TEXT[path.mode]})    {where}")

    def _set_scrub(self, value: int, maximum: int) -> None:
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, maximum)
        self.scrub.setValue(value)
        self.scrub.blockSignals(False)

    def _on_playing(self) -> None:
        playing = self.model.playing
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText("Pause" if playing else "Play")
        if playing:
            self.timer.start(int(1000 / self.speed.value()))
        else:
            self.timer.stop()

    # ------------------------------------------------------------------ controls
    def play(self) -> None:
        self.model.set_playing(True)

    def pause(self) -> None:
        self.model.set_playing(False)

    def toggle(self) -> None:
        self.model.set_playing(not self.model.playing)

    def _on_speed(self, fps: int) -> None:
        self.speed_label.setText(f"{fps} fps")
        if self.timer.isActive():
            self.timer.setInterval(int(1000 / fps))

    # ------------------------------------------------------------------ exports
    def export_gif(self, path, size: int | None = None, fps: float | None = None) -> None:
        frames = self.model.ensure_interpolation().images
        export.save_gif(frames, path, fps=fps or self.speed.value(), **({"size": size} if size else {}))

    def export_strip(self, path, labels: bool = False) -> None:
        frames = self.model.ensure_interpolation().images
        texts = [f"{t}" for t in range(len(frames))] if labels else None
        export.save_strip(frames, path, labels=texts)

    def _export(self, kind: str) -> None:
        if self.model.ensure_interpolation() is None:
            return
        dialog = InterpolationExportDialog(kind, self.model.ensure_interpolation().images.shape[1],
                                           self.speed.value(), self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        window = self.window()
        pattern = "GIF image (*.gif)" if kind == "gif" else "PNG image (*.png)"
        name = window.ask_save_name("Export interpolation", f"interpolation.{kind}", pattern)
        if not name:
            return
        try:
            if kind == "gif":
                self.export_gif(name, dialog.size.value(), dialog.fps.value())
            else:
                self.export_strip(name, dialog.labels.isChecked())
            self.model.report(f"exported the interpolation to {name}")
        except OSError as e:
            window.report_error(f"could not export: {e}")


class InterpolationExportDialog(QDialog):
    """GIF: frame size and rate; PNG strip: step labels or not."""

    def __init__(self, kind: str, image_side: int, fps: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export GIF" if kind == "gif" else "Export PNG strip")
        form = QFormLayout(self)
        self.size = QSpinBox()
        self.size.setRange(image_side, 2048)
        self.size.setValue(image_side * 4)
        self.size.setSuffix(" px")
        self.size.setToolTip("Height of each GIF frame; pixels stay crisp at whole multiples of the image size")
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(fps)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Frames per second of the GIF")
        self.labels = QCheckBox("label each step (0, 1, 2, \u2026)")
        self.labels.setToolTip("Write the step number above each frame of the strip")
        if kind == "gif":
            form.addRow("frame size", self.size)
            form.addRow("frame rate", self.fps)
        else:
            form.addRow(self.labels)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
