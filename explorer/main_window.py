"""The explorer's window: two linked maps, the side panel, and tabs for swaps, interpolations and walks.

It builds the views over one ``ExplorerModel`` (through ``QtModel``), owns the map worker, the menus, the
keyboard shortcuts, the status bar and the remembered settings (size, splitters, last folder), and nothing else.
"""
from __future__ import annotations

from pathlib import Path

import torch
from PyQt6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                             QFormLayout, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QProgressBar, QScrollArea,
                             QSpinBox, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from core.assets import DEFAULT_RUN
from core.checkpoint import MODEL_FILE
from core.data.listing import IMAGE_EXTENSIONS
from core.errors import CCVAEError
from core.reconstruction import run_reconstruction_warning
from explorer.find_bar import FindBar
from explorer.neighbours import NeighboursPanel

from explorer import export
from explorer.animation import AnimationPanel
from explorer.image_panel import ImagePanel
from explorer.live import POLL_MS, LiveSession, is_training_folder, stamp
from explorer.live_worker import LiveWorker
from explorer.map_view import MapView
from explorer.qt_adapter import QtModel
from explorer.rundata import RunData, RunOpenError
from explorer.swap_panel import SwapPanel
from explorer.walks import WalkPanel
from explorer.workers import MapWorker, start_worker, stop_worker

HELP = ("click a point: A \u00b7 shift-click: B \u00b7 drag the \u2295 handle on a map to decode "
        "\u00b7 wheel: zoom \u00b7 drag: pan \u00b7 double-click or Home: reset the view")
SHORTCUTS = (("Click a point", "choose A (the current latent jumps to it)"),
             ("Shift-click a point", "choose B (the other end for interpolations and transfers)"),
             ("Drag the \u2295 handle", "decode the latent under it live (the other block held)"),
             ("Wheel / drag on a map", "zoom / pan"),
             ("Double-click a map, Home", "reset the view: show every point"),
             ("Click a legend entry", "hide or show that group's points"),
             ("L / R / P", "a left drag on a map: lasso, rectangle (select on both maps; shift adds, alt removes) "
                           "or pan"),
             ("Esc", "clear the selection, B and the intervention (back to A)"),
             ("Ctrl+F", "find a point (#12) or select a class by name"),
             ("Ctrl+I, drop files", "add your own images as points"),
             ("Ctrl+Shift+E", "export the selection (CSV and PNG grid)"),
             ("Space", "play or pause the interpolation"),
             ("Left / Right", "previous / next interpolation frame"),
             ("Ctrl+L", "show or hide the legends"),
             ("Ctrl+O, Ctrl+E, Ctrl+Q", "open a run, export a screenshot, quit"),
             ("F1", "this list"))
DEFAULT_SIZE = (1600, 1000)
WINDOW_FRAME_PX = 40  # title bar and borders a window manager adds around the window
SIDE_WIDTH = 320


def _scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` inside a frameless scroll area: at small window sizes it scrolls instead of squeezing."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    return area


def free_screen_size(window: QWidget) -> tuple[int, int] | None:
    """The free area of ``window``'s screen less the title bar and borders a window manager adds (None: no screen)."""
    screen = window.screen() or QApplication.primaryScreen()
    if screen is None:
        return None
    free = screen.availableGeometry()
    return free.width(), free.height() - WINDOW_FRAME_PX


def default_window_size(window: QWidget) -> tuple[int, int]:
    """DEFAULT_SIZE, shrunk to fit the screen's free area (a laptop at 1280x720 gets all of it)."""
    free = free_screen_size(window)
    if free is None:
        return DEFAULT_SIZE
    return min(DEFAULT_SIZE[0], free[0]), min(DEFAULT_SIZE[1], free[1])


class MainWindow(QMainWindow):
    ready = pyqtSignal()  # the run is loaded and both maps are drawn

    def __init__(self, parent=None, remember_layout: bool = True):
        """``remember_layout``: open with the size, splitters and legends the user last left, and save them on
        closing. Off for rendered pictures (``--screenshot``): those come out the same on every machine, and
        rendering one leaves the user's saved layout alone."""
        super().__init__(parent)
        self.remember_layout = remember_layout
        # One latent per mouse move: intra-op threads only add hand-offs. Measured on 2 busy cores, decoding one
        # 28x28 image took 0.5 ms on one thread and 60 ms on two.
        torch.set_num_threads(1)
        self.setWindowTitle("CCVAE explorer")
        self.qt_model = QtModel(parent=self)
        self.model = self.qt_model.model
        self.worker: MapWorker | None = None
        # the live view of a run in training (explorer/live.py): a timer looks at the folder, a worker encodes
        self.live: LiveSession | None = None
        self.live_worker: LiveWorker | None = None
        self.live_timer = QTimer(self)
        self.live_timer.setInterval(POLL_MS)
        self.live_timer.timeout.connect(self._tick_live)
        self._held_maps: list = []  # map views drawing a run's first display on later turns (_display_in_turns)
        self._map_turns = QTimer(self)
        self._map_turns.setSingleShot(True)
        self._map_turns.setInterval(1)
        self._map_turns.timeout.connect(self._release_next_map)
        self.study_windows: list = []  # studies opened with File > Open (explorer.study_window)

        self.run_label = QLabel()
        self.run_label.setStyleSheet("font-weight: 600;")
        self.run_label.setToolTip("The run folder shown, its number of map points and latent sizes")
        self.colour_by = QComboBox()
        self.colour_by.setToolTip("What colours the maps: the label, the classifier's prediction, its confidence "
                                  "(a colour bar) or its mistakes; for binary runs each attribute and its probability")
        self.colour_label = QLabel("colour by")
        self.unlabelled_by_prediction = QCheckBox("unlabelled by prediction")
        self.unlabelled_by_prediction.setToolTip("Colour the images that have no label by the classifier's "
                                                 "prediction instead of the neutral \"unlabelled\" grey")
        self.selection_label = QLabel()
        self.selection_label.setToolTip("The chosen points: A (click) and B (shift-click)")
        top = QHBoxLayout()
        top.addWidget(self.run_label)
        top.addSpacing(16)
        top.addWidget(self.colour_label)
        top.addWidget(self.colour_by)
        top.addWidget(self.unlabelled_by_prediction)
        top.addStretch(1)
        self.selected_label = QLabel()
        self.selected_label.setToolTip("Points in the lasso/rectangle selection (Esc clears it; File > Export "
                                       "selection writes them)")
        top.addWidget(self.selected_label)
        top.addSpacing(12)
        top.addWidget(self.selection_label)

        self.maps = {"zc": MapView(self.qt_model, "zc", "z_c: characteristics"),
                     "style": MapView(self.qt_model, "style", "style latent")}
        for view in self.maps.values():
            view.setMinimumSize(180, 160)
            view.setToolTip(HELP)
        self.image_panel = ImagePanel(self.qt_model)
        self.swap_panel = SwapPanel(self.qt_model)
        self.animation_panel = AnimationPanel(self.qt_model)
        self.walk_panel = WalkPanel(self.qt_model)
        self.neighbours_panel = NeighboursPanel(self.qt_model)
        self.find_bar = FindBar(self.qt_model)
        self.addToolBar(self.find_bar)
        self.tabs = QTabWidget()
        self.tabs.addTab(_scrolling(self.swap_panel), "Swap label / transfer")
        self.tabs.addTab(_scrolling(self.animation_panel), "Interpolate")
        self.tabs.addTab(_scrolling(self.walk_panel), "Latent walks")
        self.tabs.addTab(_scrolling(self.neighbours_panel), "Neighbours")
        for i, tip in enumerate(("Swap A's label, flip an attribute, or give A the characteristics of B",
                                 "Play, scrub and export the path from A to B",
                                 "Walk each characteristic from the current latent",
                                 "Neighbours of A: its nearest points in z_c and in the style")):
            self.tabs.setTabToolTip(i, tip)
        self.tabs.setMinimumHeight(120)
        self.side = _scrolling(self.image_panel)
        self.side.setMinimumWidth(220)
        self.side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.map_split = QSplitter(Qt.Orientation.Horizontal)
        self.map_split.addWidget(self.maps["zc"])
        self.map_split.addWidget(self.maps["style"])
        self.v_split = QSplitter(Qt.Orientation.Vertical)
        self.v_split.addWidget(self.map_split)
        self.v_split.addWidget(self.tabs)
        self.v_split.setStretchFactor(0, 3)
        self.v_split.setStretchFactor(1, 1)
        self.v_split.setSizes([620, 360])  # maps first; the tabs keep room for their images and bars
        self.h_split = QSplitter(Qt.Orientation.Horizontal)
        self.h_split.addWidget(self.v_split)
        self.h_split.addWidget(self.side)
        self.h_split.setStretchFactor(0, 1)
        self.h_split.setStretchFactor(1, 0)
        self.h_split.setSizes([1200, SIDE_WIDTH])
        for split in (self.map_split, self.v_split, self.h_split):
            split.setChildrenCollapsible(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(self.h_split, 1)
        self.setCentralWidget(central)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setToolTip("Computing the 2-D maps of this run (once; they are cached beside it)")
        self.progress_label = QLabel()
        self.data_label = QLabel()  # stays while full images are missing (a transient message could be missed)
        self.data_label.setStyleSheet("color: #a05a00;")
        self.statusBar().addPermanentWidget(self.data_label)
        # core.reconstruction decides whether a run's reconstructions deserve a warning, and its words; a
        # permanent widget, so the status bar's passing messages never hide it
        self.recon_warning = QLabel()
        self.recon_warning.setStyleSheet("color: #b34700;")
        self.recon_warning.setWordWrap(True)
        self.recon_warning.hide()
        self.statusBar().addPermanentWidget(self.recon_warning, 1)
        self.training_label = QLabel()  # the watched run's epoch and accuracy (model.training), permanent
        self.training_label.setToolTip("This run is watched: each new epoch's model.pt is encoded in the "
                                       "background and both maps move to it")
        self.training_label.hide()
        self.statusBar().addPermanentWidget(self.training_label)
        self.statusBar().addPermanentWidget(self.progress_label)
        self.statusBar().addPermanentWidget(self.progress)
        self.progress.hide()
        self._build_menus()
        self.colour_by.currentIndexChanged.connect(self._on_colour_by)
        self.unlabelled_by_prediction.toggled.connect(self.model.set_unlabelled_by_prediction)
        self.qt_model.mapsReady.connect(self._on_maps_ready)
        self.qt_model.selectionChanged.connect(self._show_selection)
        self.qt_model.selectedChanged.connect(self._show_selected)
        self.qt_model.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.qt_model.message.connect(self._show_data_state)
        self.qt_model.runLoaded.connect(self._show_data_state)
        self.qt_model.trainingChanged.connect(self._show_training)
        self.statusBar().showMessage(HELP)
        self._restore_settings()
        self.setAcceptDrops(True)  # image files dropped on the window are added as points

    # ------------------------------------------------------------------ menus and shortcuts
    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
            # Space and arrows must reach the window even when a button or slider has focus
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(tip or text.replace("&", "").rstrip("\u2026"))
        action.setStatusTip(action.toolTip())
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open run\u2026", self._ask_open, QKeySequence.StandardKey.Open,
                     "Open a run folder written by train_cli.py (a study folder opens the comparison of its cells)")
        self._action(file, "Export &screenshot\u2026", self._ask_screenshot, "Ctrl+E",
                     "Save the window, or one map at any width, as a PNG")
        self._action(file, "&Locate data folder\u2026", self._ask_data_folder, None,
                     "Point this run at its data folder's new place, for full-size point images")
        self._action(file, "&Add images\u2026", self._ask_add_images, "Ctrl+I",
                     "Encode your own PNG or JPEG images and show them as stars on both maps (also: drop files "
                     "on the window)")
        polarity = file.addMenu("Added images' &polarity")
        group = QActionGroup(self)
        for value, text in (("auto", "&Detect (match the run's images)"), ("keep", "&Keep as they are"),
                            ("invert", "&Invert")):
            action = QAction(text, self, checkable=True)
            action.setChecked(value == self.model.add_polarity)
            action.triggered.connect(lambda _=False, v=value: setattr(self.model, "add_polarity", v))
            group.addAction(action)
            polarity.addAction(action)
        self._action(file, "Export se&lection\u2026", self._ask_export_selection, "Ctrl+Shift+E",
                     "Write the lasso/rectangle selection as a CSV and a PNG grid of its images")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view = bar.addMenu("&View")
        self._action(view, "&Reset view", self.reset_views, "Home", "Show every point on both maps")
        self.legends_action = self._action(view, "Show &legends", self.set_legends_visible, "Ctrl+L",
                                           "Show or hide the maps' legends", checkable=True)
        self.legends_action.setChecked(True)
        explore = bar.addMenu("&Explore")
        self._action(explore, "&Clear selection, B and the intervention", self.model.clear, "Esc",
                     "Forget the lasso selection, B and the intervention; the current latent goes back to A")
        for tool, key in self.find_bar.tool_keys():
            self._action(explore, f"{tool.value.capitalize()} tool", lambda _=False, t=tool: self.model.set_tool(t),
                         key, f"A left drag on a map: {tool.value}")
        self._action(explore, "&Find\u2026", self.find_bar.focus_search, QKeySequence.StandardKey.Find,
                     "Find a point by index (#12) or select a class by name")
        self._action(explore, "&Play / pause", self.animation_panel.toggle, "Space",
                     "Play or pause the interpolation from A to B")
        self._action(explore, "&Next frame", lambda: self.model.step_frame(1), "Right", "Next interpolation frame")
        self._action(explore, "P&revious frame", lambda: self.model.step_frame(-1), "Left",
                     "Previous interpolation frame")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(help_menu, "&About", self.show_about)

    def reset_views(self) -> None:
        for view in self.maps.values():
            view.reset_view()

    def set_legends_visible(self, visible: bool) -> None:
        for view in self.maps.values():
            view.set_legend_visible(visible)

    def shortcuts_text(self) -> str:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
        return f"<table>{rows}</table>"

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", self.shortcuts_text())

    def about_text(self) -> str:
        from importlib import metadata

        try:
            version = metadata.version("ccvae-explorer")
        except metadata.PackageNotFoundError:
            version = "(not installed)"
        lines = [f"<b>ccvae-explorer</b> {version}",
                 "Explore what a Characteristic Capturing VAE (Joy et al., ICLR 2021) captured."]
        run = self.model.run
        if run is not None:
            engine = run.engine
            params = sum(p.numel() for p in engine.model.parameters())
            lines += [f"run folder: {run.run_dir}",
                      f"images {'x'.join(str(s) for s in engine.image_shape)}, z_c {engine.zc_dim}-D, "
                      f"style {engine.style_dim}-D, {params:,} parameters, {len(run.latents):,} map points"]
        return "<br>".join(lines)

    def show_about(self) -> None:
        QMessageBox.about(self, "About CCVAE explorer", self.about_text())

    # ------------------------------------------------------------------ settings
    def _settings(self) -> QSettings:
        return QSettings("ccvae-explorer", "explorer")

    def _restore_settings(self) -> None:
        if not self.remember_layout:
            self.resize(*self.default_size())
            return
        s = self._settings()
        geometry, size = s.value("window/geometry"), s.value("window/size")
        fits = isinstance(size, QSize) and self._fits_screen(size.width(), size.height())
        if fits and isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:  # nothing saved, or saved on a larger screen: Qt would shrink it to 2/3 of this one; fill it instead
            self.resize(*self.default_size())
        for key, split in (("split/maps", self.map_split), ("split/vertical", self.v_split),
                           ("split/side", self.h_split)):
            state = s.value(key)
            if isinstance(state, QByteArray) and not state.isEmpty():
                split.restoreState(state)
        self.legends_action.setChecked(s.value("view/legends", True, type=bool))

    def save_settings(self) -> None:
        if not self.remember_layout:
            return
        s = self._settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/size", self.size())
        s.setValue("split/maps", self.map_split.saveState())
        s.setValue("split/vertical", self.v_split.saveState())
        s.setValue("split/side", self.h_split.saveState())
        s.setValue("view/legends", self.legends_action.isChecked())
        s.sync()

    def _fits_screen(self, width: int, height: int) -> bool:
        free = free_screen_size(self)
        return free is None or (width <= free[0] and height <= free[1])

    def default_size(self) -> tuple[int, int]:
        return default_window_size(self)

    @property
    def last_folder(self) -> str:
        return str(self._settings().value("files/last_folder", str(Path.home())))

    def remember_folder(self, path) -> None:
        path = Path(path)
        self._settings().setValue("files/last_folder", str(path if path.is_dir() else path.parent))

    def ask_save_name(self, title: str, default_name: str, pattern: str) -> str:
        """A save dialog that starts in the last folder used; remembers the folder chosen."""
        name, _ = QFileDialog.getSaveFileName(self, title, str(Path(self.last_folder) / default_name), pattern)
        if name:
            self.remember_folder(name)
        return name

    # ------------------------------------------------------------------ runs
    def open_run(self, run_dir) -> bool:
        """Open a run folder (a study folder opens its comparison in a window of its own); on failure report it
        and keep the current run. Returns success."""
        from core.study.folder import folder_kind

        if folder_kind(run_dir) == "study":
            return self.open_study(run_dir)
        try:
            run = RunData.open(run_dir)
        except RunOpenError as e:
            if is_training_folder(run_dir):  # no points written yet: a run in training, watched
                self.watch(run_dir)
                return True
            self.report_error(str(e))
            return False
        self.show_run(run)
        return True

    def open_study(self, folder) -> bool:
        """The comparison of a study's cells (explorer.study_window), in a window of its own."""
        from core.study.folder import StudyFolder
        from core.study.grid import StudyError
        from explorer.study_window import StudyWindow

        try:
            study = StudyFolder.open(folder)
        except StudyError as e:
            self.report_error(str(e))
            return False
        window = StudyWindow()
        window.resize(*window.default_size())
        window.open_folder(study)
        window.show()
        self.study_windows.append(window)
        return True

    def show_run(self, run: RunData) -> None:
        """Show a run from its folder (its latents and maps), and watch it for a later model.pt (--resume)."""
        self._stop_live()
        self._display(run)
        if run.maps is None:
            self._start_worker(run)
        if run.run_dir.resolve() != DEFAULT_RUN.resolve():
            self._start_live(run.run_dir, shown=stamp(run.run_dir / MODEL_FILE))

    def watch(self, run_dir) -> None:
        """Watch a run in training: its points appear with the first epoch's model.pt and move with each one."""
        self._stop_worker()
        self._stop_live()
        run_dir = Path(run_dir)
        self.model.unload()  # nothing of another run stays: panels show no A, B or result; the maps clear below
        self.run_label.setText(f"{run_dir.name}  \u00b7  training")
        self.setWindowTitle(f"CCVAE explorer \u2014 {run_dir} (training)")
        self.recon_warning.hide()
        for view in self.maps.values():
            view.clear_points("waiting for the first epoch of this run\u2026", title="training")
        self._set_run_widgets_enabled(False)  # nothing to swap, walk or find until the first epoch is shown
        self.model.report(f"watching {run_dir}")
        self._start_live(run_dir, shown=None)

    def _start_live(self, run_dir: Path, shown) -> None:
        worker = LiveWorker(run_dir, self)
        try:
            session = LiveSession(run_dir, self.model, worker.submit, show_run=self._display_in_turns, shown=shown)
        except CCVAEError as e:  # config.json unreadable: no watching, the run shown stays
            self.report_error(str(e))
            return
        self.live, self.live_worker = session, worker
        worker.encoded.connect(session.encoded)
        worker.mapped.connect(session.mapped)
        worker.failed.connect(session.failed)
        worker.progress.connect(session.progress)
        if shown is None:  # a run in training: its first epoch is awaited, so get the worker ready now
            worker.start_child()
        self.live_timer.start()
        session.tick()

    def _tick_live(self) -> None:
        if self.live is not None:
            self.live.tick()

    def _stop_live(self) -> None:
        self.live_timer.stop()
        self._release_maps_now()
        if self.live_worker is not None:
            self.live_worker.stop()
            self.live_worker.deleteLater()
        self.live = self.live_worker = None
        self.model.set_training(None)

    def _show_training(self) -> None:
        status = self.model.training
        self.training_label.setText(status.text() if status is not None else "")
        self.training_label.setVisible(status is not None)

    def _set_run_widgets_enabled(self, enabled: bool) -> None:
        for widget in (self.tabs, self.side, self.find_bar, self.colour_by, self.unlabelled_by_prediction):
            widget.setEnabled(enabled)

    def _display(self, run: RunData, held: list | None = None) -> None:
        """Show ``run``; the map views in ``held`` draw it on later event-loop turns (``_display_in_turns``)."""
        self._release_maps_now()
        for view in held or ():
            view.hold()
        self._held_maps = list(held or ())
        self._stop_worker()
        self._set_run_widgets_enabled(True)
        self.unlabelled_by_prediction.blockSignals(True)
        self.unlabelled_by_prediction.setChecked(False)
        self.unlabelled_by_prediction.blockSignals(False)
        self.run_label.setText(f"{run.run_dir.name}  \u00b7  {len(run.latents):,} points  \u00b7  "
                               f"z_c {run.engine.zc_dim}-D, style {run.engine.style_dim}-D")
        self.setWindowTitle(f"CCVAE explorer \u2014 {run.run_dir}")
        warning = run_reconstruction_warning(run.run_dir, run.engine.config.model.likelihood)
        self.recon_warning.setText(f"\u26a0 {warning}" if warning else "")
        self.recon_warning.setToolTip(warning or "")
        self.recon_warning.setVisible(bool(warning))
        self.model.load(run)
        self.unlabelled_by_prediction.setVisible(self.model.has_unlabelled)
        self.colour_by.blockSignals(True)  # the options depend on the run's labels
        self.colour_by.clear()
        self.colour_by.addItems([text for _, _, text in self.model.colour_options()])
        self.colour_by.blockSignals(False)
        self.model.report(f"opened {run.run_dir}")
        if self._held_maps:
            self._map_turns.start()

    def _display_in_turns(self, run: RunData) -> None:
        """``_display`` for a watched run's first epoch, over three event-loop turns so the window never stalls
        (in one go it took ~100 ms plus its paint): the panels, point A and the status now, the z_c map on the
        next turn, the style map on the one after; each map says it awaits the epoch until it draws."""
        self._display(run, held=list(self.maps.values()))

    def _release_next_map(self) -> None:
        """One held map draws the model as it is now; the next one on a later turn (a timer, not a posted call:
        Qt runs every posted call and paint before any timer, which would join the turns into one stall)."""
        if self._held_maps:
            self._held_maps.pop(0).release()
        if self._held_maps:
            self._map_turns.start()

    def _release_maps_now(self) -> None:
        self._map_turns.stop()
        while self._held_maps:
            self._held_maps.pop(0).release()

    @property
    def is_ready(self) -> bool:
        """The run's UMAP maps are drawn (a provisional PCA map, shown while they are computed, is not enough)."""
        return self.model.maps is not None and not self.model.maps.provisional

    def _on_maps_ready(self) -> None:
        if self.model.maps.provisional:  # the worker is still on its way to the UMAP maps
            return
        self.progress.hide()
        self.progress_label.setText("")
        self.ready.emit()

    def _show_selection(self) -> None:
        self.selection_label.setText(self.model.selection_text())

    def _on_colour_by(self, index: int) -> None:
        if index >= 0:
            mode, attribute, _ = self.model.colour_options()[index]
            self.model.set_colouring(mode, attribute)

    def add_images(self, paths) -> bool:
        """Add image files as points (menu, drop). A file that cannot be read: one line in a dialog, nothing
        added. Returns success."""
        from explorer.own_images import ImageReadError

        try:
            added = self.model.add_images([str(p) for p in paths])
        except (ImageReadError, ValueError) as e:
            self.report_error(str(e))
            return False
        if added:
            self.model.select_a(added[-1].index)
        return True

    def _ask_add_images(self) -> None:
        patterns = " ".join(f"*{ext} *{ext.upper()}" for ext in IMAGE_EXTENSIONS)  # what training reads, too
        names, _ = QFileDialog.getOpenFileNames(self, "Add images", self.last_folder,
                                                f"Images ({patterns});;All files (*)")
        if names:
            self.remember_folder(names[0])
            self.add_images(names)

    @staticmethod
    def _dropped_files(event) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]

    def dragEnterEvent(self, event) -> None:
        if self._dropped_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._dropped_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = self._dropped_files(event)
        if files:
            event.acceptProposedAction()
            self.add_images(files)

    def _show_selected(self) -> None:
        self.selected_label.setText(self.model.selected_text() if len(self.model.selected) else "")

    def _ask_export_selection(self) -> None:
        if not len(self.model.selected):
            self.report_error("nothing is selected: choose the lasso or rectangle tool and draw on a map")
            return
        name = self.ask_save_name("Export selection", "selection.csv", "CSV table (*.csv)")
        if not name:
            return
        csv_path = Path(name).with_suffix(".csv")
        png_path = csv_path.with_suffix(".png")
        try:
            self.model.export_selection(csv_path, png_path)
            self.model.report(f"exported {len(self.model.selected):,} points to {csv_path} and {png_path.name}")
        except (OSError, ValueError) as e:
            self.report_error(f"could not export the selection: {e}")

    # ------------------------------------------------------------------ the map worker
    def _start_worker(self, run: RunData) -> None:
        self.worker = start_worker(MapWorker(run.maps_path, run.latents.z_c, run.latents.z_style, run.seed, self),
                                   self.progress, self.progress_label,
                                   f"computing the 2-D maps of {len(run.latents):,} points\u2026",
                                   self._on_worker_progress, self._on_worker_done, self._on_worker_failed)

    def _stop_worker(self) -> None:
        stop_worker(self.worker)
        self.worker = None

    def _on_worker_progress(self, phase: str, fraction: float) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress_label.setText(f"maps: {phase}")

    def _on_worker_done(self, maps) -> None:
        if self.sender() is self.worker and self.model.run is not None:
            self.model.set_maps(maps)
            self.model.report("maps ready")

    def _on_worker_failed(self, message: str) -> None:
        self.progress.hide()
        self.progress_label.setText("maps failed")
        self.report_error(f"could not compute the maps: {message}")

    def closeEvent(self, event) -> None:
        self.model.set_playing(False)
        self._stop_worker()
        self._stop_live()
        self.save_settings()
        super().closeEvent(event)

    # ------------------------------------------------------------------ dialogs
    def report_error(self, message: str) -> None:
        self.statusBar().showMessage(f"error: {message}", 15000)
        QMessageBox.warning(self, "CCVAE explorer", message)

    def _show_data_state(self, *_) -> None:
        run = self.model.run
        problem = run.images.problem if run is not None else None
        self.data_label.setText("thumbnails only: data folder not found" if problem else "")
        self.data_label.setToolTip(f"{problem}\nFile > Locate data folder\u2026 to show full-size images"
                                   if problem else "")

    def _ask_data_folder(self) -> None:
        if self.model.run is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Locate this run's data folder", self.last_folder)
        if folder:
            self.model.locate_data(folder)

    def _ask_open(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run folder", self.last_folder)
        if folder:
            self.remember_folder(Path(folder).parent)
            self.open_run(folder)

    def _ask_screenshot(self) -> None:
        dialog = ScreenshotDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        name = self.ask_save_name("Export screenshot", "explorer.png", "PNG image (*.png)")
        if not name:
            return
        try:
            target = dialog.target.currentIndex()
            if target == 0:
                export.grab_widget(self, name)
            else:
                export.export_plot(self.maps["zc" if target == 1 else "style"], name, dialog.width.value())
            self.model.report(f"exported a screenshot to {name}")
        except OSError as e:
            self.report_error(f"could not export the screenshot: {e}")


class ScreenshotDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export screenshot")
        self.target = QComboBox()
        self.target.addItems(["the whole window", "the z_c map", "the style map"])
        self.target.setToolTip("What to save")
        self.width = QSpinBox()
        self.width.setRange(200, 8000)
        self.width.setValue(1600)
        self.width.setSuffix(" px")
        self.width.setToolTip("Width of the exported map; its legend is drawn at a readable size at any width")
        form = QFormLayout(self)
        form.addRow("picture of", self.target)
        form.addRow("map width", self.width)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.target.currentIndexChanged.connect(lambda i: self.width.setEnabled(i > 0))
        self.width.setEnabled(False)
