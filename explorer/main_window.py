"""The explorer's window: two linked maps, the image panel, and tabs for swaps, interpolations and walks."""
from __future__ import annotations

from pathlib import Path

import torch
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                             QLabel, QMainWindow, QMessageBox, QProgressBar, QSpinBox, QSplitter, QTabWidget,
                             QVBoxLayout, QWidget)

from explorer import export
from explorer.animation import AnimationPanel
from explorer.image_panel import ImagePanel
from explorer.map_view import MapView
from explorer.rundata import RunData, RunOpenError
from explorer.state import ExplorerState
from explorer.swap_panel import SwapPanel
from explorer.walks import WalkPanel
from explorer.workers import MapWorker

HELP = ("click a point: A \u00b7 shift-click: B \u00b7 drag the \u2295 handle on a map to decode "
        "\u00b7 wheel: zoom \u00b7 drag: pan")


class MainWindow(QMainWindow):
    ready = pyqtSignal()  # the run is loaded and both maps are drawn

    def __init__(self, parent=None):
        super().__init__(parent)
        # One latent per mouse move: intra-op threads only add hand-offs. Measured on 2 busy cores, decoding one
        # 28x28 image took 0.5 ms on one thread and 60 ms on two.
        torch.set_num_threads(1)
        self.setWindowTitle("CCVAE explorer")
        self.state = ExplorerState(self)
        self.worker: MapWorker | None = None

        self.run_label = QLabel()
        self.run_label.setStyleSheet("font-weight: 600;")
        self.colour_by = QComboBox()
        self.colour_label = QLabel("colour by")
        help_label = QLabel(HELP)
        help_label.setStyleSheet("color: #606060;")
        top = QHBoxLayout()
        top.addWidget(self.run_label)
        top.addSpacing(16)
        top.addWidget(self.colour_label)
        top.addWidget(self.colour_by)
        top.addStretch(1)
        top.addWidget(help_label)

        self.maps = {"zc": MapView(self.state, "zc", "z_c: characteristics (UMAP)"),
                     "style": MapView(self.state, "style", "style latent (UMAP)")}
        self.image_panel = ImagePanel(self.state)
        self.image_panel.setFixedWidth(340)
        self.swap_panel = SwapPanel(self.state)
        self.animation_panel = AnimationPanel(self.state)
        self.walk_panel = WalkPanel(self.state)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.swap_panel, "Swap label / transfer")
        self.tabs.addTab(self.animation_panel, "Interpolate")
        self.tabs.addTab(self.walk_panel, "Latent walks")

        upper = QWidget()
        row = QHBoxLayout(upper)
        row.setContentsMargins(0, 0, 0, 0)
        map_split = QSplitter(Qt.Orientation.Horizontal)
        map_split.addWidget(self.maps["zc"])
        map_split.addWidget(self.maps["style"])
        row.addWidget(map_split, 1)
        row.addWidget(self.image_panel)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([680, 280])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(260)
        self.progress_label = QLabel()
        self.statusBar().addPermanentWidget(self.progress_label)
        self.statusBar().addPermanentWidget(self.progress)
        self.progress.hide()
        self._build_menu()
        self.colour_by.currentIndexChanged.connect(self._on_colour_by)
        self.state.mapsReady.connect(self._on_maps_ready)

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (("&Open run\u2026", QKeySequence.StandardKey.Open, self._ask_open),
                                     ("Export &screenshot\u2026", "Ctrl+E", self._ask_screenshot),
                                     ("&Quit", QKeySequence.StandardKey.Quit, self.close)):
            action = QAction(text, self)
            action.setShortcut(shortcut)
            action.triggered.connect(slot)
            menu.addAction(action)

    # ------------------------------------------------------------------ runs
    def open_run(self, run_dir) -> bool:
        """Open a run folder; on failure report it and keep the current run. Returns success."""
        try:
            run = RunData.open(run_dir)
        except RunOpenError as e:
            self.report_error(str(e))
            return False
        self.show_run(run)
        return True

    def show_run(self, run: RunData) -> None:
        self._stop_worker()
        spec = run.label_spec
        self.colour_by.blockSignals(True)
        self.colour_by.clear()
        if not spec.is_multiclass:
            self.colour_by.addItems(spec.names)
        self.colour_by.blockSignals(False)
        self.colour_by.setVisible(not spec.is_multiclass)
        self.colour_label.setVisible(not spec.is_multiclass)
        self.run_label.setText(f"{run.run_dir.name}  \u00b7  {len(run.latents):,} points  \u00b7  "
                               f"z_c {run.engine.zc_dim}-D, style {run.engine.style_dim}-D")
        self.setWindowTitle(f"CCVAE explorer \u2014 {run.run_dir}")
        self.state.load(run)
        if run.maps is None:
            self._start_worker(run)

    @property
    def is_ready(self) -> bool:
        return self.state.maps is not None

    def _on_maps_ready(self) -> None:
        self.progress.hide()
        self.progress_label.setText("")
        self.ready.emit()

    def _on_colour_by(self, index: int) -> None:
        if index >= 0:
            self.state.set_colour_by(index)

    # ------------------------------------------------------------------ the map worker
    def _start_worker(self, run: RunData) -> None:
        self.worker = MapWorker(run.maps_path, run.latents.z_c, run.latents.z_style, run.seed, self)
        self.worker.progress.connect(self._on_worker_progress)
        self.worker.succeeded.connect(self._on_worker_done)
        self.worker.failed.connect(self._on_worker_failed)
        self.progress.setValue(0)
        self.progress.show()
        self.progress_label.setText(f"computing the 2-D maps of {len(run.latents):,} points\u2026")
        self.worker.start()

    def _stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait()
            self.worker = None

    def _on_worker_progress(self, phase: str, fraction: float) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress_label.setText(f"maps: {phase}")

    def _on_worker_done(self, maps) -> None:
        if self.sender() is self.worker and self.state.run is not None:
            self.state.set_maps(maps)

    def _on_worker_failed(self, message: str) -> None:
        self.progress.hide()
        self.progress_label.setText("maps failed")
        self.report_error(f"could not compute the maps: {message}")

    def closeEvent(self, event) -> None:
        self.animation_panel.pause()
        self._stop_worker()
        super().closeEvent(event)

    # ------------------------------------------------------------------ dialogs
    def report_error(self, message: str) -> None:
        QMessageBox.warning(self, "CCVAE explorer", message)

    def _ask_open(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run folder")
        if folder:
            self.open_run(folder)

    def _ask_screenshot(self) -> None:
        dialog = ScreenshotDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        name, _ = QFileDialog.getSaveFileName(self, "Export screenshot", "explorer.png", "PNG image (*.png)")
        if not name:
            return
        try:
            target = dialog.target.currentIndex()
            if target == 0:
                export.grab_widget(self, name)
            else:
                export.export_plot(self.maps["zc" if target == 1 else "style"], name, dialog.width.value())
        except OSError as e:
            self.report_error(f"could not export the screenshot: {e}")


class ScreenshotDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export screenshot")
        self.target = QComboBox()
        self.target.addItems(["the whole window", "the z_c map", "the style map"])
        self.width = QSpinBox()
        self.width.setRange(200, 8000)
        self.width.setValue(1600)
        self.width.setSuffix(" px")
        form = QFormLayout(self)
        form.addRow("picture of", self.target)
        form.addRow("map width", self.width)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.target.currentIndexChanged.connect(lambda i: self.width.setEnabled(i > 0))
        self.width.setEnabled(False)
