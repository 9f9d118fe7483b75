"""The study comparison window: ``python -m explorer runs/study``.

One small pair of maps (z_c and style) per cell of the grid, columns by beta and rows by latent size (times the
labelled fraction when the grid has several), the report's measures under each pair, the selected point ringed
in every cell, and the chosen swap decoded by every cell in a strip along the top. Click a point in any map to
select it (it becomes the swap's source); choose the swap's target above the strip; double-click a cell to open it
in the full explorer window.

Everything shown is read from ``StudyModel`` (``explorer.study_model``, Qt-free) through ``QtStudyModel``; the
widgets keep nothing of their own. Cells open one per event-loop turn, so the window paints at once; then one
background worker (``explorer.study_maps``) fits the UMAP maps that are not cached, and each cell's provisional
PCA maps are replaced as its UMAP maps arrive.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import (QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QMainWindow, QProgressBar,
                             QScrollArea, QSizePolicy, QVBoxLayout, QWidget)

from core.study.folder import StudyFolder

from explorer.map_view import A_COLOUR, OverlayScatter
from explorer.model import NONE
from explorer.study_maps import StudyMapWorker
from explorer.study_model import StudyModel
from explorer.widgets import UNLABELLED_COLOUR, ImageView, binary_colours, label_colours
from explorer.workers import start_worker, stop_worker

MAP_SIDE = 96           # a small map's minimum side: ten cells and the swap strip fit a 1280x720 screen
CELL_POINT_SIZE = 3
CLICK_RADIUS_PX = 7
SWAP_SIDE = 56
LANDED, MISSED = "#2a7a2a", "#b03030"
# short enough to stay whole beside the map progress at 1280 px (the swap's target has its own box at the top)
HELP = "click a point: select and swap it in every cell \u00b7 double-click a cell: open it in the explorer"


class QtStudyModel(QObject):
    """``StudyModel``'s events as Qt signals (the explorer's ``QtModel`` pattern)."""

    opened = pyqtSignal()
    cellLoaded = pyqtSignal(int)
    mapsChanged = pyqtSignal(int)
    selectionChanged = pyqtSignal()
    swapChanged = pyqtSignal()
    message = pyqtSignal(str)

    def __init__(self, model: StudyModel | None = None, parent=None):
        super().__init__(parent)
        self.model = model if model is not None else StudyModel()
        e = self.model.events
        for event, signal in ((e.opened, self.opened), (e.cell_loaded, self.cellLoaded), (e.maps, self.mapsChanged),
                              (e.selection, self.selectionChanged), (e.swap, self.swapChanged),
                              (e.message, self.message)):
            event.connect(signal.emit)


def _group_brushes(model: StudyModel) -> list:
    """One brush per colour group (the label, as the explorer colours by default; "unlabelled" grey last)."""
    names = model.group_names()
    colours = label_colours(len(model.reference.run.label_spec.names)) if model.is_multiclass else binary_colours()
    colours = list(colours) + [QColor(UNLABELLED_COLOUR)] * (len(names) - len(colours))
    return [pg.mkBrush(c.red(), c.green(), c.blue(), 170) for c in colours[:len(names)]]


def _small_label(text: str = "", colour: str = "#505050", bold: bool = False) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(f"color: {colour}; font-size: 8pt;" + (" font-weight: 600;" if bold else ""))
    return label


class CellMap(pg.PlotWidget):
    """One small map of one cell: every point coloured by its label, the selected point ringed, the swapped
    latent as a star. A click selects the nearest point; a double-click opens the cell."""

    def __init__(self, window: "StudyWindow", index: int, name: str):
        super().__init__(background="w")
        self.window, self.model, self.index, self.name = window, window.model, index, name
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        for axis in ("left", "bottom"):
            plot.hideAxis(axis)
        self.view = plot.getViewBox()
        self.view.setAspectLocked(True)
        self.view.setMouseEnabled(False, False)  # a small map inside a scrolling grid: clicks select, no pan/zoom
        self.setMinimumSize(MAP_SIDE, MAP_SIDE)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._drawn_names: list[str] = []  # the colour groups the scatter was drawn with
        self.scatter = pg.ScatterPlotItem(size=CELL_POINT_SIZE, pen=None, pxMode=True)
        self.ring = OverlayScatter(size=18, pen=pg.mkPen(A_COLOUR, width=2.2), brush=None)
        self.star = OverlayScatter(size=13, symbol="star", pen=pg.mkPen("#000000", width=1), brush=pg.mkBrush("#ffd92f"))
        self.addItem(self.scatter)
        for item in (self.ring, self.star):
            item.setZValue(10)
            self.addItem(item, ignoreBounds=True)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.setToolTip(HELP)

    def points(self) -> np.ndarray:
        return self.model.cells[self.index].model.map_points(self.name)

    def draw_points(self) -> None:
        brushes = _group_brushes(self.model)
        groups = self.model.colour_groups(self.index)
        self.scatter.setData(pos=self.points(), brush=[brushes[g] for g in groups])
        self._drawn_names = self.model.group_names()
        self.view.autoRange(padding=0.04)
        self.draw_marks()

    def draw_marks(self) -> None:
        if self._drawn_names != self.model.group_names():  # binary labels: the swap now flips another attribute
            self.draw_points()
            return
        i = self.model.selected
        self.ring.setData(pos=self.points()[[i]] if i >= 0 else np.zeros((0, 2)))
        result = self.model.swap_result(self.index)
        place = result.positions.get(self.name) if result is not None else None
        self.star.setData(pos=np.asarray(place, dtype=float).reshape(1, 2) if place is not None else np.zeros((0, 2)))

    def mouseDoubleClickEvent(self, event) -> None:
        # handled here and not passed on: neither the scene nor the cell frame around this map opens it again
        event.accept()
        self.window.open_cell(self.index)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        xy = self.view.mapSceneToView(event.scenePos())
        radius = CLICK_RADIUS_PX * max(self.view.viewPixelSize())
        i = self.model.nearest_point(self.index, self.name, (xy.x(), xy.y()), radius)
        if i != NONE:
            self.model.select(i)


class WrappedText(QWidget):
    """A line that wraps inside whatever room it is given and asks for none: a QLabel with word wrap would make
    the whole grid height-for-width, and the scroll area would then size it from the maps' large size hints."""

    def __init__(self, text: str = "", colour: str = "#505050"):
        super().__init__()
        self._text, self._colour = text, colour
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)

    def text(self) -> str:
        return self._text

    def set_text(self, text: str, colour: str | None = None) -> None:
        self._text, self._colour = text, colour or self._colour
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        font = p.font()
        font.setPointSizeF(8)
        p.setFont(font)
        p.setPen(QColor(self._colour))
        p.drawText(self.rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap),
                   self._text)


class CellView(QFrame):
    """One cell: its two maps side by side over the report's measures; or the reason it cannot be shown."""

    def __init__(self, window: "StudyWindow", index: int):
        super().__init__()
        self.window, self.model, self.index = window, window.model, index
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("CellView { background: #ffffff; border: 1px solid #d4d4d4; }")
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(3, 2, 3, 2)
        self.layout_.setSpacing(1)
        self.status = WrappedText("opening\u2026", "#808080")
        self.layout_.addWidget(self.status)
        self.maps: dict[str, CellMap] = {}
        self.map_titles: dict[str, QLabel] = {}
        self.measures = QLabel()
        self.measures.setStyleSheet("font-size: 8pt; color: #303030;")
        cell = self.model.cells[index].cell
        self.setToolTip(f"{cell.name}: double-click to open it in the explorer")

    def show_cell(self) -> None:
        """The cell opened (maps and measures) or failed (its reason)."""
        state = self.model.cells[self.index]
        if not state.ok:
            self.status.set_text(f"\u26a0 {state.problem}", MISSED)
            self.status.setToolTip(state.problem)
            return
        self.status.hide()
        pair = QHBoxLayout()
        pair.setSpacing(3)
        for name in ("zc", "style"):
            column = QVBoxLayout()
            column.setSpacing(0)
            self.map_titles[name] = _small_label()
            # a long title (a provisional map's) gives way: it must never widen the cell past the window
            self.map_titles[name].setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.maps[name] = CellMap(self.window, self.index, name)
            column.addWidget(self.map_titles[name])
            column.addWidget(self.maps[name], 1)
            pair.addLayout(column)
        self.layout_.addLayout(pair, 1)
        self.layout_.addWidget(self.measures)
        self.show_measures()
        self.show_maps()

    def show_measures(self) -> None:
        cell = self.model.cells[self.index].cell
        items = cell.measures()
        if not items:
            reason = self.model.folder.report_problem or "not in report.json yet"
            self.measures.setText(f"<span style='color:#808080'>measures: {reason.replace(' (', '<br>(')}</span>")
            return
        half = (len(items) + 1) // 2
        rows = []
        for r in range(half):
            row = []
            for short, value, _ in (items[r], items[r + half] if r + half < len(items) else ("", "", "")):
                row.append(f"<td style='color:#707070'>{short}&nbsp;</td><td align='right'><b>{value}</b></td>")
            rows.append("<tr>" + "<td width='10'></td>".join(row) + "</tr>")
        self.measures.setText("<table cellspacing='0' cellpadding='0'>" + "".join(rows) + "</table>")
        self.measures.setToolTip("From the study's report.json:\n" + "\n".join(f"{full}: {value}"
                                                                              for _, value, full in items))

    def show_maps(self) -> None:
        state = self.model.cells[self.index]
        if not state.ok:
            return
        method, why = (("UMAP", "") if state.has_final_maps else
                       ("PCA (UMAP failed)", f"UMAP failed: {state.maps_problem}") if state.maps_problem else
                       ("PCA for now", "a PCA of the latents, until the UMAP map is fitted"))
        for name, title in (("zc", "z_c"), ("style", "style")):
            self.map_titles[name].setText(f"{title} \u00b7 {method}")
            self.map_titles[name].setToolTip(why)
            self.maps[name].draw_points()

    def show_marks(self) -> None:
        for view in self.maps.values():
            view.draw_marks()

    def mouseDoubleClickEvent(self, event) -> None:
        self.window.open_cell(self.index)


class SwapTile(QWidget):
    """The chosen swap as one cell decoded it: the picture and its own classifier's verdict."""

    def __init__(self, caption: str):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        layout.setSpacing(0)
        self.caption = _small_label(caption, "#404040")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.image = ImageView(SWAP_SIDE)
        self.image.setFixedSize(SWAP_SIDE, SWAP_SIDE)
        self.verdict = _small_label()
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)
        layout.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.verdict)


class SwapStrip(QWidget):
    """The swap's source image, then every cell's swapped picture side by side, in grid order."""

    def __init__(self, window: "StudyWindow"):
        super().__init__()
        self.model = window.model
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(4)
        self.source = SwapTile("source")
        self.layout_.addWidget(self.source)
        arrow = QLabel("\u2192")
        arrow.setStyleSheet("font-size: 16pt; color: #606060;")
        self.layout_.addWidget(arrow)
        self.tiles: list[SwapTile] = []

    def build(self) -> None:
        with_sup = self.model.folder.with_sup
        for state in self.model.cells:
            tile = SwapTile(state.cell.caption(with_sup))
            tile.setToolTip(f"{state.cell.name}: the swap as this cell's model decodes it, and its own "
                            f"classifier's verdict on the picture (green: the target)")
            self.tiles.append(tile)
            self.layout_.addWidget(tile)
        self.layout_.addStretch(1)

    def refresh(self) -> None:
        m = self.model
        if m.swap_source >= 0:
            self.source.image.set_image(m.point_image(m.swap_source))
            self.source.verdict.setText(f"#{m.swap_source}")
        for i, tile in enumerate(self.tiles):
            state, result, verdict = m.cells[i], m.swap_result(i), m.swap_verdict(i)
            tile.image.set_image(result.image if result is not None else None)
            if verdict is None:
                tile.verdict.setText("\u2014" if not state.pending else "\u2026")
                tile.verdict.setStyleSheet("color: #808080; font-size: 8pt;")
                continue
            text, landed = verdict
            mark = "\u2713" if landed else "\u2717"
            tile.verdict.setText(f"{text} {mark}")
            tile.verdict.setStyleSheet(f"color: {LANDED if landed else MISSED}; font-size: 8pt; font-weight: 600;")
            tile.verdict.setToolTip(f"{result.description}, through the {m.swap_method(i)} "
                                    f"(core.swap_choice's pick for this cell)")


class StudyWindow(QMainWindow):
    ready = pyqtSignal()         # every cell opened and shows its UMAP maps (or says why not)
    cells_opened = pyqtSignal()  # every cell has opened or failed to (the maps may still be on their way)

    def __init__(self, parent=None):
        super().__init__(parent)
        torch.set_num_threads(1)  # one latent at a time: extra intra-op threads only add hand-offs (main_window.py)
        self.setWindowTitle("CCVAE explorer \u2014 study")
        self.qt_model = QtStudyModel(parent=self)
        self.model = self.qt_model.model
        self.worker: StudyMapWorker | None = None
        self.cell_windows: list = []
        self._fitting: dict[int, float] = {}  # cell index -> fraction of its map fit done
        self._ready_told = False

        self.title = QLabel()
        self.title.setStyleSheet("font-weight: 600;")
        self.selected_image = ImageView(36)
        self.selected_image.setFixedSize(36, 36)
        self.selected_text = QLabel()
        self.selected_text.setToolTip("The selected point, ringed in red in every cell (click a point to select it)")
        self.target = QComboBox()
        self.target.setToolTip("The swap's target: every cell swaps the selected point to it (binary attributes: "
                               "flips it), each with its own model")
        self.swap_label = QLabel("swap to")
        self.legend = QLabel()
        self.legend.setToolTip("Points are coloured by their label")
        for label, least in ((self.title, 160), (self.selected_text, 120)):  # long texts give way, never widen
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(least)
        top = QHBoxLayout()
        top.addWidget(self.title, 4)
        top.addSpacing(14)
        top.addWidget(self.selected_image)
        top.addWidget(self.selected_text, 2)
        top.addSpacing(10)
        top.addWidget(self.swap_label)
        top.addWidget(self.target)
        top.addSpacing(10)
        top.addWidget(self.legend)

        self.strip = SwapStrip(self)
        strip_area = QScrollArea()
        strip_area.setWidget(self.strip)
        strip_area.setWidgetResizable(True)
        strip_area.setFrameShape(QFrame.Shape.NoFrame)
        strip_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        strip_area.setFixedHeight(SWAP_SIDE + 40)
        self.strip_area = strip_area

        self.grid_widget = QWidget()
        self.grid = QGridLayout(self.grid_widget)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        self.cell_views: list[CellView] = []
        grid_area = QScrollArea()
        grid_area.setWidget(self.grid_widget)
        grid_area.setWidgetResizable(True)
        grid_area.setFrameShape(QFrame.Shape.NoFrame)
        self.grid_area = grid_area

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(strip_area)
        layout.addWidget(grid_area, 1)
        self.setCentralWidget(central)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(200)
        self.progress.hide()
        self.progress_label = QLabel()
        self.statusBar().addPermanentWidget(self.progress_label)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().showMessage(HELP)

        q = self.qt_model
        q.cellLoaded.connect(self._on_cell_loaded)
        q.mapsChanged.connect(self._on_maps_changed)
        q.selectionChanged.connect(self._on_selection)
        q.swapChanged.connect(self._on_swap)
        q.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.target.currentIndexChanged.connect(self._on_target)

    def default_size(self) -> tuple[int, int]:
        """The explorer's default size, shrunk to the screen's free area (main_window.default_window_size)."""
        from explorer.main_window import default_window_size

        return default_window_size(self)

    # ------------------------------------------------------------------ opening
    def open_folder(self, folder: StudyFolder) -> None:
        """Show the grid at once; the cells open one per event-loop turn, then the map worker starts."""
        self._stop_worker()
        self.setWindowTitle(f"CCVAE explorer \u2014 study {folder.path}")
        self._ready_told = False
        self.model.open(folder, load=False)
        self._build_grid()
        self._show_title()
        QTimer.singleShot(0, self._load_next)

    def _build_grid(self) -> None:
        folder = self.model.folder
        for c, text in enumerate(folder.column_captions()):
            label = QLabel(text)
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            label.setStyleSheet("font-weight: 600;")
            self.grid.addWidget(label, 0, c + 1)
        for r, text in enumerate(folder.row_captions()):
            label = QLabel(text)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("font-weight: 600;")
            self.grid.addWidget(label, r + 1, 0)
            self.grid.setRowStretch(r + 1, 1)
        for c in range(len(folder.betas)):
            self.grid.setColumnStretch(c + 1, 1)
        for i, state in enumerate(self.model.cells):
            view = CellView(self, i)
            self.cell_views.append(view)
            r, c = folder.grid_position(state.cell)
            self.grid.addWidget(view, r + 1, c + 1)
        self.strip.build()
        for view in self.cell_views:
            if not self.model.cells[view.index].pending:  # could not open: say so now
                view.show_cell()

    def _load_next(self) -> None:
        if self.model.load_next() is not None:
            QTimer.singleShot(0, self._load_next)
            return
        self._show_title()
        self.cells_opened.emit()
        self._start_worker()
        self._check_ready()

    def _on_cell_loaded(self, index: int) -> None:
        self.cell_views[index].show_cell()
        self._show_title()
        if self.model.reference is not None and self.target.count() == 0:
            self.target.blockSignals(True)
            self.target.addItems(self.model.target_names())
            self.target.setCurrentIndex(self.model.swap_target)
            self.target.blockSignals(False)
            self.swap_label.setText("swap to" if self.model.is_multiclass else "flip")
            self._show_legend()
        self.strip.refresh()

    def _show_title(self) -> None:
        self.title.setText(self.model.title())
        count = f"\n{self.model.point_count:,} points in each cell" if self.model.point_count else ""
        self.title.setToolTip(f"{self.model.folder.path}\n{self.model.title()}{count}")

    def _show_legend(self) -> None:
        m = self.model
        brushes = _group_brushes(m)
        parts = [f"<span style='color:{b.color().name()}; font-size:12pt'>\u25cf</span>{name}"
                 for b, name in zip(brushes, m.group_names())]
        self.legend.setText("&nbsp;".join(parts))

    # ------------------------------------------------------------------ the model's changes
    def _on_maps_changed(self, index: int) -> None:
        self.cell_views[index].show_maps()
        self._check_ready()

    def _on_selection(self) -> None:
        m = self.model
        if m.selected >= 0:
            self.selected_image.set_image(m.point_image(m.selected))
            self.selected_text.setText(m.point_text(m.selected))
            self.selected_text.setToolTip(m.point_text(m.selected) + "\nringed in red in every cell (click a point "
                                          "to select another)")
        for view in self.cell_views:
            view.show_marks()

    def _on_swap(self) -> None:
        if self.target.currentIndex() != self.model.swap_target:
            self.target.blockSignals(True)
            self.target.setCurrentIndex(self.model.swap_target)
            self.target.blockSignals(False)
        if not self.model.is_multiclass:
            self._show_legend()  # the maps are coloured by the attribute flipped
        self.strip.refresh()
        for view in self.cell_views:
            view.show_marks()

    def _on_target(self, index: int) -> None:
        if index >= 0:
            self.model.set_swap_target(index)

    @property
    def cells_pending(self) -> bool:
        return any(c.pending for c in self.model.cells)

    @property
    def is_ready(self) -> bool:
        return self.model.folder is not None and self.model.ready

    def _check_ready(self) -> None:
        """Emit ``ready`` once, when the model is ready and no worker runs any more."""
        if self._ready_told or not self.is_ready or (self.worker is not None and self.worker.isRunning()):
            return
        self._ready_told = True
        self.progress.hide()
        self.progress_label.setText("")
        self.ready.emit()

    # ------------------------------------------------------------------ the map worker
    def _start_worker(self) -> None:
        todo = self.model.cells_without_maps()
        if not todo:
            return
        jobs = []
        for i in todo:
            run = self.model.cells[i].run
            jobs.append((i, run.maps_path, run.latents.z_c, run.latents.z_style, run.seed))
        self._fitting = {i: 0.0 for i in todo}
        worker = StudyMapWorker(jobs, self)
        worker.finished.connect(self._check_ready)
        self.worker = start_worker(worker, self.progress, self.progress_label, f"UMAP maps of {len(todo)} cells\u2026",
                                   self._on_worker_progress, self._on_worker_done, self._on_worker_failed)

    def _stop_worker(self) -> None:
        stop_worker(self.worker)
        self.worker = None

    def _on_worker_progress(self, index: int, phase: str, fraction: float) -> None:
        if self.sender() is not self.worker:
            return
        self._fitting[index] = fraction
        done = sum(self._fitting.values()) / max(1, len(self._fitting))
        self.progress.setValue(int(done * 1000))
        finished = sum(f >= 1.0 for f in self._fitting.values())
        self.progress_label.setText(f"maps {finished}/{len(self._fitting)} \u00b7 "
                                    f"{self.model.cells[index].cell.caption(self.model.folder.with_sup)}: {phase}")

    def _on_worker_done(self, index: int, maps) -> None:
        if self.sender() is self.worker:
            self._fitting[index] = 1.0
            self.model.set_maps(index, maps)

    def _on_worker_failed(self, index: int, message: str) -> None:
        if self.sender() is self.worker:
            self._fitting[index] = 1.0
            self.model.maps_failed(index, message)

    # ------------------------------------------------------------------ a cell in full
    def open_cell(self, index: int):
        """Open cell ``index`` in the explorer's main window with the chosen swap made there (its source as A).
        Returns the window (None for a cell that cannot be opened)."""
        from explorer.main_window import MainWindow

        state = self.model.cells[index]
        if not state.ok:
            self.statusBar().showMessage(f"cannot open {state.cell.name}: {state.problem}", 10000)
            return None
        window = MainWindow()
        window.show_run(self.model.cell_run_for_window(index))  # maps computed here; new ones go to the cache
        if self.model.swap_source >= 0:  # the study's swap, as the cell's own swap panel makes it
            window.model.select_a(self.model.swap_source)
            window.swap_panel.target.setCurrentIndex(self.model.swap_target)
            window.swap_panel.apply_swap()
        window.show()
        self.cell_windows.append(window)
        return window

    def closeEvent(self, event) -> None:
        self._stop_worker()
        for window in self.cell_windows:
            window.close()
        super().closeEvent(event)
