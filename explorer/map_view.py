"""One 2-D map of the latents: a static scatter of every point, small overlays, and a draggable handle.

The big ScatterPlotItem is set once per run (and recoloured when the colouring changes); hover, selection,
intervention, path and the drag handle are separate small items, so moving them never redraws the data of the
scatter. Hover uses a k-d tree on the 2-D points, throttled by a SignalProxy, instead of per-point hit tests.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QGraphicsItem
from scipy.spatial import cKDTree

from explorer.model import COLOUR_BINS, NONE, Origin, Tool
from explorer.preview import PreviewScatter
from explorer.qt_adapter import QtModel
from explorer.widgets import UNLABELLED_COLOUR, binary_colours, error_colours, label_colours, scale_colours

HOVER_RADIUS_PX = 8
POINT_SIZE = 4
A_COLOUR, B_COLOUR = "#d62728", "#1f4e9c"
POINT_ALPHA, DIMMED_ALPHA = 170, 22  # points the filter dims keep a faint trace of the map's shape
SELECTED_PEN = "#101010"
SELECTION_Z = 5  # the veil and the selected points: above the scatter, below the overlays
# the legend lists every group while it takes at most this share of the map's height; beyond it (a folder of 60
# classes), the groups that fit and, in the last place, how many more there are
LEGEND_MAX_SHARE = 0.4
LEGEND_TEXT_PT = 8
LEGEND_ENTRY_PX = 40  # an entry's width beside its text: the sample (20), the label's margins (8), two spacings
# the plot's size inside this widget, less the axes, the title and margins: a resize reaches the widget before the
# plot inside it is laid out again, so the legend is sized from the widget's new size
PLOT_FRAME_PX = (40, 52)


def _legend_text(name: str, counts, group: int) -> str:
    """A legend entry: the group's name, and with a selection "7: 47 / 412" (selected / all points of the group;
    the colon keeps a digit class apart from its count)."""
    return name if counts is None else f"{name}: {counts[0][group]} / {counts[1][group]}"


class CompactLegend(pg.LegendItem):
    """pyqtgraph's legend, sized from what its entries need. The stock ``updateSize`` sums the entries' current
    heights, which its layout has already stretched to the legend's last height: with the negative row spacing
    that keeps this legend compact, every entry added grew it by that spacing per row (a 60-class legend reached
    2,400 px and covered the map; 20 classes took 123 px instead of 99)."""

    def updateSize(self) -> None:
        if self.size is not None:  # a fixed size asked for
            return
        need = self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)  # entries' own sizes, spacing included
        self.setGeometry(0, 0, need.width(), need.height())


class Veil(pg.UIGraphicsItem):
    """Translucent white over the whole view: points under it fade while a selection is drawn above it."""

    def paint(self, p, *args) -> None:
        from PyQt6.QtGui import QColor

        p.fillRect(self.boundingRect(), QColor(255, 255, 255, 175))
# Maps with at least this many points draw a numpy-splatted image of them (PreviewScatter) while the view pans or
# zooms, and the exact scatter again once the range has rested SETTLE_MS: re-drawing 70,000 symbols per zoom step
# took ~60 ms, the image a few. Smaller maps always draw the exact scatter (it is fast enough there). Splatted
# layers (the preview, a selection) shift their last image while the view pans and are splatted anew at rest.
PREVIEW_MIN_POINTS = 20_000
SETTLE_MS = 150


class OverlayScatter(pg.ScatterPlotItem):
    """A small scatter drawn over the map (hover ring, A and B rings, the intervention's star).

    pyqtgraph's ``ScatterPlotItem.clear()`` (which ``setData`` also calls first) drops the spots without
    ``prepareGeometryChange()``, so Qt is never told to repaint where they were drawn: on a real screen the last
    ring stayed behind as a ghost until something forced a full repaint (seen under Xvfb; ``grab()`` renders
    afresh and hides it). Announcing the change first makes Qt repaint the old area."""

    def clear(self):
        self.prepareGeometryChange()
        super().clear()

    def paint(self, p, *args):
        if len(self.data):  # an empty overlay skips pyqtgraph's set-up, which every pan or zoom step would pay
            super().paint(p, *args)


class MapView(pg.PlotWidget):
    def __init__(self, qt_model: QtModel, name: str, title: str, parent=None):
        super().__init__(parent=parent, background="w")
        self.model, self.name = qt_model.model, name
        self._tree: cKDTree | None = None
        self._tree_index = np.zeros(0, dtype=np.int64)  # tree row -> point index (visible points only)
        self._placing = False  # True while the handle is moved by code, not by the mouse
        plot = self.getPlotItem()
        self._title = title
        self._set_title("UMAP")
        plot.hideButtons()
        plot.setMenuEnabled(False)
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setPen("#b0b0b0")
            plot.getAxis(axis).setTextPen("#808080")
        for axis in ("left", "bottom", "top", "right"):  # (top and right are hidden, but follow the range too)
            # no axis has a label to put an SI prefix in; left on, every pan or zoom step re-set its label's HTML
            plot.getAxis(axis).enableAutoSIPrefix(False)
        self.view = plot.getViewBox()
        self.view.setAspectLocked(True)

        self.scatter = pg.ScatterPlotItem(size=POINT_SIZE, pen=None, pxMode=True)
        # Keep the drawn scatter as a pixmap: moving the handle or the hover ring then repaints from the cache
        # instead of redrawing every point (measured: ~3.7 ms -> ~0.5 ms per move at 10,000 points).
        self.scatter.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.preview = PreviewScatter(size=POINT_SIZE)
        self.preview.hide()
        self._preview_min_points = PREVIEW_MIN_POINTS
        self._quiet_range = False  # True while code (not the user) sets the range: no preview for that
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(self.settle)
        self.path_item = pg.PlotDataItem(pen=pg.mkPen("#404040", width=1.5, style=Qt.PenStyle.DashLine))
        self.hover_item = OverlayScatter(size=14, pen=pg.mkPen("#000000", width=2), brush=None)
        self.selection_item = OverlayScatter(size=16, brush=None)
        self.intervention_item = OverlayScatter(size=20, symbol="star", pen=pg.mkPen("#000000", width=1.2),
                                                    brush=pg.mkBrush("#ffd92f"))
        self.labels = {slot: pg.TextItem(slot, color=colour, anchor=(-0.3, 1.1))
                       for slot, colour in (("A", A_COLOUR), ("B", B_COLOUR))}
        self.handle = pg.TargetItem(size=18, symbol="crosshair", movable=True,
                                    pen=pg.mkPen("#000000", width=2.5), hoverPen=pg.mkPen("#d62728", width=3),
                                    brush=pg.mkBrush(255, 255, 255, 90))
        self.handle.setZValue(20)
        self.message = pg.TextItem("", color="#606060", anchor=(0.5, 0.5))
        # The lasso/rectangle selection: a white veil over the map fades the other points, and the selected ones
        # are drawn above it in their colours with a dark rim, splatted with numpy like the preview (a
        # ScatterPlotItem of 10,000 rings took ~70 ms per map just to set its data; a splat sets in ~1 ms).
        self.veil = Veil()
        self.veil.setZValue(SELECTION_Z)
        self.veil.hide()
        self.selected_item = PreviewScatter(size=POINT_SIZE + 3)  # the rims
        self.selected_item.setZValue(SELECTION_Z + 0.1)
        self.selected_points = PreviewScatter(size=POINT_SIZE)
        self.selected_points.setZValue(SELECTION_Z + 0.2)
        self.region_item = pg.PlotDataItem(pen=pg.mkPen("#202020", width=1.5, style=Qt.PenStyle.DashLine))
        self.region_item.setZValue(30)
        self._region: list = []  # the lasso's points (view coordinates) while it is drawn
        self.added_item = OverlayScatter(size=22, symbol="star", pen=pg.mkPen("#000000", width=1.2),
                                         brush=pg.mkBrush("#e7298a"))  # your own images (yellow: interventions)
        self.added_labels: list[pg.TextItem] = []
        self.colour_bar = pg.GradientLegend((14, 120), (-12, 12))
        self.colour_bar.hide()
        self.addItem(self.scatter)
        self.addItem(self.preview, ignoreBounds=True)
        for item in (self.veil, self.selected_item, self.selected_points, self.region_item, self.colour_bar):
            self.addItem(item, ignoreBounds=True)
        for item in (self.path_item, self.hover_item, self.selection_item, self.intervention_item,
                     *self.labels.values(), self.handle, self.message):
            self.addItem(item, ignoreBounds=True)
        self.addItem(self.added_item, ignoreBounds=True)
        for item in (self.path_item, self.hover_item, self.selection_item, self.intervention_item,
                     *self.labels.values(), self.message, self.added_item):
            item.setZValue(SELECTION_Z + 1)  # A, B, the path and the star stay above a selection's veil
        self.legend = CompactLegend(offset=(5, 5), colCount=5, labelTextColor="#202020",
                                    labelTextSize=f"{LEGEND_TEXT_PT}pt",
                                    brush=pg.mkBrush(255, 255, 255, 200), pen=pg.mkPen("#d0d0d0"),
                                    horSpacing=6, verSpacing=-6)
        self.legend.setParentItem(self.view)
        self._legend_samples: list[pg.ScatterPlotItem] = []
        self.handle.sigPositionChanged.connect(self._on_handle_moved)
        self._hover_proxy = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=60, slot=self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_click)
        self.view.sigRangeChanged.connect(self._on_range_changed)
        self._auto_fit = True  # the view shows every point until the user pans or zooms; resizes keep it so
        self._drawn_groups = np.zeros(0, dtype=np.int64)  # the colour group each drawn point's brush shows
        self.view.sigRangeChangedManually.connect(self._on_user_range)

        self.legend.sigSampleClicked.connect(self._on_legend_clicked)
        self.handle.sigPositionChangeFinished.connect(lambda _: self.model.end_drag())

        # the model's news, unless the view is held (``hold``): it then draws the model as it is on ``release``;
        # with no run (a run in training before its first epoch) there is nothing to draw: clear_points shows that
        self._held = False
        for signal, slot in ((qt_model.runLoaded, self._on_run_loaded), (qt_model.mapsReady, self._on_maps_ready),
                             (qt_model.colouringChanged, self._recolour),
                             (qt_model.hoverChanged, self._on_hover_changed),
                             (qt_model.selectionChanged, self._draw_selection),
                             (qt_model.currentChanged, self._on_current_changed),
                             (qt_model.interventionChanged, self._draw_intervention),
                             (qt_model.interpolationChanged, self._draw_path),
                             (qt_model.selectedChanged, self._on_selected_changed),
                             (qt_model.pointsAdded, self._on_points_added)):
            signal.connect(lambda *args, slot=slot: None if self._held or self.model.run is None else slot(*args))
        qt_model.centreRequested.connect(self._centre_on)
        self._pan_drag = self.view.mouseDragEvent  # a left drag pans, lassos or draws a rectangle (model.tool)
        self.view.mouseDragEvent = self._on_view_drag

    # ------------------------------------------------------------------ data
    def points(self) -> np.ndarray:
        return self.model.map_points(self.name)

    def hold(self) -> None:
        """Ignore the model's news until ``release``: a run's first display can draw this map one event-loop
        turn after the other (5,000 points take ~25 ms to set up per map; both at once stalled the window)."""
        self._held = True

    def release(self) -> None:
        """Draw the model as it is now (its run, maps, colours, selection, current latent) and follow it again."""
        if not self._held:
            return
        self._held = False
        if self.model.run is None:
            return
        self._on_run_loaded()
        if self.model.maps is not None:
            self._on_maps_ready()

    def _on_run_loaded(self) -> None:
        self.clear_points("computing the 2-D maps\u2026")
        self._build_legend()

    def clear_points(self, message: str, title: str | None = None) -> None:
        """No points, only ``message`` in the middle (a run opened, or awaited: a run in training)."""
        if title is not None:
            self._set_title(title)
        self._tree = None
        self._build_legend()
        self.settle()
        self.scatter.clear()
        self.preview.clear()
        for item in (self.hover_item, self.selection_item, self.intervention_item, self.selected_item,
                     self.selected_points, self.added_item):
            item.clear()
        for label in self.added_labels:
            self.removeItem(label)
        self.added_labels = []
        self.veil.hide()
        self.region_item.setData([], [])
        self._region = []
        self.path_item.setData([], [])
        for label in self.labels.values():
            label.hide()
        self.handle.hide()
        self.message.setText(message)
        self.message.setPos(0, 0)
        self.message.show()
        self._set_range_quietly(xRange=(-1, 1), yRange=(-1, 1))

    def _set_title(self, method: str) -> None:
        self.getPlotItem().setTitle(f"{self._title} ({method})", color="#202020", size="11pt")

    def _on_maps_ready(self) -> None:
        # a provisional PCA map first when the run has no maps yet; the UMAP map then replaces it point for point
        points = self.points()
        self._set_title("PCA until UMAP is ready" if self.model.maps.provisional else "UMAP")
        self.message.hide()
        if len(self.scatter.data) == len(points):  # the same points at new places (UMAP after PCA, a new epoch)
            self._move_points(points)
        else:
            self.scatter.setData(pos=points, data=np.arange(len(points)), pen=None, size=POINT_SIZE,
                                 brush=self._point_brushes())
            self._apply_visibility(fresh=True)
        if self._auto_fit or not self.model.maps_follow:  # a new epoch's map keeps a zoom the user chose
            self.reset_view()
        self.handle.show()
        self._draw_selection()
        self._draw_intervention()
        self._draw_path()
        self._draw_selected()
        self._draw_added()
        self._on_current_changed()

    def _move_points(self, points: np.ndarray) -> None:
        """New places for the points drawn, in place: a few ms where ``setData`` takes ~50 ms for 5,000 points
        (it rebuilds every spot and brush), which a new epoch of a watched run would pay twice per update.
        Brushes and visibility are set again only when a new model's verdicts changed the colour groups."""
        data = self.scatter.data
        data["x"], data["y"] = points[:, 0], points[:, 1]
        self.scatter.prepareGeometryChange()
        self.scatter.informViewBoundsChanged()
        self.scatter.bounds = [None, None]
        self.scatter.invalidate()
        groups = self._brush_groups()
        if not np.array_equal(groups, self._drawn_groups):
            self.scatter.setBrush(self._point_brushes())
            self._apply_visibility()
        else:  # the hover search and the preview follow the points
            self._tree = cKDTree(points[self._tree_index]) if len(self._tree_index) else None
            self._update_preview()

    def reset_view(self) -> None:
        """Show every point again (View > Reset view, Home, double-click on the map)."""
        self._auto_fit = True
        if self.model.maps is not None:
            self._fit_view(self.points())

    def _on_user_range(self, *_) -> None:
        self._auto_fit = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_legend()  # before the fit: the headroom follows the legend's height
        if getattr(self, "_auto_fit", False) and self.model.maps is not None:
            self._fit_view(self.points())

    def mouseDoubleClickEvent(self, event) -> None:
        self.reset_view()
        event.accept()
    def _fit_view(self, points: np.ndarray) -> None:
        """Show every point, with headroom at the top for the legend (as tall as the legend is on screen, so it
        covers no cluster at any window size)."""
        lo, hi = points.min(axis=0).astype(float), points.max(axis=0).astype(float)
        span = np.maximum(hi - lo, 1e-6)
        top = 0.04
        if self.legend.isVisible() and self.view.height() > 0:
            share = min(0.6, (self.legend.boundingRect().height() + 10) / self.view.height())
            top = max(top, (1.04 * share + 0.04) / (1 - share))  # legend height as a share of the visible range
        self._set_range_quietly(xRange=(float(lo[0] - 0.04 * span[0]), float(hi[0] + 0.04 * span[0])),
                                yRange=(float(lo[1] - 0.04 * span[1]), float(hi[1] + top * span[1])), padding=0)

    def _set_range_quietly(self, **kwargs) -> None:
        self._quiet_range = True
        try:
            self.view.setRange(**kwargs)
        finally:
            self._quiet_range = False

    def _groups(self) -> tuple[list[str], list]:
        palette = self.model.palette()
        names = self.model.group_names()
        if palette == "scale":
            colours = scale_colours(COLOUR_BINS)
        elif palette == "errors":
            colours = error_colours()
        elif palette == "binary":
            colours = binary_colours()
        else:
            colours = label_colours(self.model.label_spec.size)
        colours = list(colours) + [QColor(UNLABELLED_COLOUR)] * (len(names) - len(colours))  # "unlabelled"
        return names, colours

    def _group_brushes(self) -> list:
        """One brush per colour group, then the same dimmed (group + G) for points the filter dims."""
        _, colours = self._groups()
        return ([pg.mkBrush(c.red(), c.green(), c.blue(), POINT_ALPHA) for c in colours]
                + [pg.mkBrush(c.red(), c.green(), c.blue(), DIMMED_ALPHA) for c in colours])

    def _brush_groups(self) -> np.ndarray:
        """[N] index into _group_brushes() of every point."""
        groups = self.model.colour_groups()
        if self.model.filter is not None:
            groups = groups + len(self.model.group_names()) * self.model.dimmed()
        return groups

    def _point_brushes(self) -> list:
        shared = self._group_brushes()
        self._drawn_groups = self._brush_groups()  # what the scatter's brushes show (see _move_points)
        return [shared[g] for g in self._drawn_groups]

    def _recolour(self) -> None:
        if getattr(self, "_legend_names", None) != self.model.group_names():
            self._build_legend()
        for group, sample in enumerate(self._legend_samples):
            sample.setVisible(group not in self.model.hidden)  # the legend draws a hidden group crossed out
        self.legend.update()
        if self.model.maps is not None:
            self.scatter.setBrush(self._point_brushes())
            self._apply_visibility()
            self._draw_selected()

    def _apply_visibility(self, fresh: bool = False) -> None:
        """Hidden groups leave the scatter, the preview and the hover search. ``fresh``: the scatter was just
        set, every point visible (setPointsVisible recomputes every spot: ~20 ms for 5,000 points)."""
        visible = self.model.visible_points()
        if not (fresh and visible.all()):
            self.scatter.setPointsVisible(visible)
        self._tree_index = np.flatnonzero(visible)
        self._tree = cKDTree(self.points()[self._tree_index]) if len(self._tree_index) else None
        self._update_preview()

    def _on_legend_clicked(self, item) -> None:
        if item in self._legend_samples:  # the legend toggled its sample; the model decides what is shown
            group = self._legend_samples.index(item)
            self.model.set_group_hidden(group, group not in self.model.hidden)

    # ------------------------------------------------------------------ fluid pan and zoom on large maps
    @property
    def preview_min_points(self) -> int:
        return self._preview_min_points

    @preview_min_points.setter
    def preview_min_points(self, count: int) -> None:
        """Maps with at least ``count`` points preview while the view moves (PREVIEW_MIN_POINTS by default)."""
        self._preview_min_points = int(count)
        if self.model.maps is not None:
            self._update_preview()

    @property
    def uses_preview(self) -> bool:
        return self.model.maps is not None and len(self.points()) >= self._preview_min_points

    def _update_preview(self) -> None:
        if self.uses_preview:
            keep = self._tree_index
            self.preview.setData(self.points()[keep], self._brush_groups()[keep], self._group_brushes())
        else:
            self.preview.clear()
            self.settle()

    def _on_range_changed(self, *_) -> None:
        # Apply the new range to the items now: pyqtgraph defers it to the start of the next paint, where moving
        # the items dirties them again and Qt paints the view a second time (twice the work per pan or zoom step).
        self.view.prepareForPaint()
        if self._quiet_range:  # set by code: drawn exactly at once
            self._draw_splats_afresh()
            return
        if self.uses_preview and not self.preview.isVisible():
            self.scatter.hide()
            self.preview.show()
        self._settle_timer.start()  # (re)start: the exact picture returns SETTLE_MS after the last change

    def _draw_splats_afresh(self) -> None:
        """Layers that reuse their last picture, shifted by whole pixels, while the view pans draw anew: the
        splatted ones, and the scatter, whose device cache Qt shifts when the view only moves."""
        for item in (self.preview, self.selected_item, self.selected_points):
            item.draw_afresh()
        self.scatter.update()  # (invalidates the cache)

    @property
    def previewing(self) -> bool:
        return self.preview.isVisible()

    @property
    def at_rest(self) -> bool:
        """The view rested since it last moved: the map shows its exact picture."""
        return not self._settle_timer.isActive() and not self.previewing

    def settle(self) -> None:
        """Show the exact picture now (the view rested, or a picture is about to be taken): the exact scatter
        instead of the preview, and the selection splatted for this very range."""
        self._settle_timer.stop()
        if self.preview.isVisible():
            self.preview.hide()
            self.scatter.show()
        self._draw_splats_afresh()

    def _build_legend(self, measured: bool = False) -> None:
        self.legend.clear()
        self._legend_samples = []
        self._legend_names: list[str] = []
        self._legend_kept = 0
        if self.model.run is None:  # no run: no groups (and no empty legend box over the message)
            self.legend.hide()
            self.colour_bar.hide()
            return
        if self.model.continuous:  # a colour bar instead of 16 steps named by their ranges
            self.legend.hide()
            self._draw_colour_bar()
            return
        self.colour_bar.hide()
        self.legend.setVisible(self.legends_shown)
        names, colours = self._groups()
        counts = self.model.group_counts() if len(self.model.selected) else None
        columns = self._legend_columns(names)
        self.legend.setColumnCount(columns)
        kept = self._legend_capacity(len(names), columns)
        for group, (name, colour) in enumerate(zip(names[:kept], colours)):
            sample = pg.ScatterPlotItem(size=8, pen=None, brush=pg.mkBrush(colour))
            sample.setVisible(group not in self.model.hidden)  # the legend draws a hidden group crossed out
            self._legend_samples.append(sample)
            self.legend.addItem(sample, _legend_text(name, counts, group))
        if kept < len(names):  # a blank sample: not one of _legend_samples, so a click on it hides nothing
            self.legend.addItem(pg.ScatterPlotItem(size=0, pen=None), f"+ {len(names) - kept} more")
        self._legend_names, self._legend_kept = list(self.model.group_names()), kept
        rows = self.legend_rows()
        if rows and self.legend.boundingRect().height() > 0:
            self._legend_row_px = self.legend.boundingRect().height() / rows
            if not measured and self._legend_capacity(len(names), columns) != kept:
                self._build_legend(measured=True)  # the first build of this view measured how tall a row is

    def legend_rows(self) -> int:
        """The legend's rows now (pyqtgraph's ``rowCount`` keeps the most it ever had: ``clear`` leaves it)."""
        return math.ceil(len(self.legend.items) / max(1, self.legend.columnCount))

    def _legend_capacity(self, groups: int, columns: int) -> int:
        """How many groups the legend lists: all, or the rows that fit in LEGEND_MAX_SHARE of the map's height
        less one place, which says how many more there are (the row height as measured on the last build)."""
        row_px, height = getattr(self, "_legend_row_px", 0.0), self.height() - PLOT_FRAME_PX[1]
        rows = int(LEGEND_MAX_SHARE * height / row_px) if row_px > 0 and height > 0 else 0
        if rows < 1 or math.ceil(groups / columns) <= rows:
            return groups
        return rows * columns - 1

    @property
    def legends_shown(self) -> bool:
        return getattr(self, "_legends_shown", True)

    def set_legend_visible(self, visible: bool) -> None:
        """View > Show legends: the legend of groups, or the colour bar of a continuous colouring."""
        self._legends_shown = bool(visible)
        self.legend.setVisible(self._legends_shown and not self.model.continuous)
        self.colour_bar.setVisible(self._legends_shown and self.model.continuous)
        self.reset_view()  # the headroom kept for the legend follows it

    def _draw_colour_bar(self) -> None:
        from PyQt6.QtGui import QLinearGradient

        gradient = QLinearGradient()
        for k, colour in enumerate(scale_colours(COLOUR_BINS + 1)):
            gradient.setColorAt(k / COLOUR_BINS, colour)
        self.colour_bar.setGradient(gradient)
        title = self.model.colour_bar_title()
        self.colour_bar.setLabels({f"{title} 1.0": 1.0, "0.5": 0.5, "0.0": 0.0})
        self.colour_bar.setVisible(self.legends_shown)

    def _on_points_added(self) -> None:
        """Your own images joined the points: the new ones are appended to the scatter (the others untouched)."""
        points = self.points()
        have = len(self.scatter.data)
        brushes = self._group_brushes()
        groups = self._drawn_groups = self._brush_groups()
        self.scatter.addPoints(pos=points[have:], data=np.arange(have, len(points)),
                               brush=[brushes[g] for g in groups[have:]], pen=None, size=POINT_SIZE)
        if self.model.hidden:
            self._apply_visibility()
        else:
            self._tree_index = np.arange(len(points))
            self._tree = cKDTree(points)
            self._update_preview()
        self._update_legend_counts()
        self._draw_added()

    def _draw_added(self) -> None:
        """A star on each of your images with its name and the classifier's verdict."""
        for label in self.added_labels:
            self.removeItem(label)
        self.added_labels = []
        added = self.model.added if self.model.maps is not None else []
        if not added:
            self.added_item.clear()
            return
        xy = self.points()[[a.index for a in added]]
        self.added_item.setData(pos=xy)
        for a, (x, y) in zip(added, xy):
            label = pg.TextItem(f"{a.name}: {a.verdict}", color="#8a1456", anchor=(-0.15, 0.5))
            label.setZValue(SELECTION_Z + 1)
            label.setPos(float(x), float(y))
            self.addItem(label, ignoreBounds=True)
            self.added_labels.append(label)

    def _on_selected_changed(self) -> None:
        self._draw_selected()
        self._update_legend_counts()

    def _draw_selected(self) -> None:
        if self.model.maps is None or not len(self.model.selected):
            self.selected_item.clear()
            self.selected_points.clear()
            self.veil.hide()
            return
        keep = self.model.selected
        if self.model.hidden:  # hidden groups hide their selected points too
            keep = keep[self.model.visible_points()[keep]]
        xy = self.points()[keep]
        self.selected_item.setData(xy, np.zeros(len(keep), dtype=np.int64), [pg.mkBrush(SELECTED_PEN)])
        _, colours = self._groups()
        opaque = [pg.mkBrush(c.red(), c.green(), c.blue(), 255) for c in colours]
        opaque += [pg.mkBrush(c.red(), c.green(), c.blue(), 60) for c in colours]  # dimmed by the filter
        self.selected_points.setData(xy, self._brush_groups()[keep], opaque)
        self.veil.show()

    def _update_legend_counts(self) -> None:
        """The legend's texts with "selected / all" per group (cheaper than rebuilding the legend)."""
        names = self.model.group_names()
        if self.model.continuous or getattr(self, "_legend_names", None) != names:
            return self._build_legend()
        counts = self.model.group_counts() if len(self.model.selected) else None
        for group, (_, label) in enumerate(self.legend.items[: self._legend_kept]):
            text = _legend_text(names[group], counts, group)
            if label.text != text:
                label.setText(text)

    def _legend_columns(self, names: list[str]) -> int:
        """As many columns (at most 5) as the map's width holds for the widest entry with a selection's counts in
        it ("7: 412 / 412"), whether or not a selection is shown: a selection then never adds a row, which would
        slide the legend over the points at the top (the headroom kept for it is measured when the map is
        fitted, and selecting does not move the map)."""
        if len(names) <= 2:
            return 2
        from PyQt6.QtGui import QFont, QFontMetricsF

        font = QFont()
        font.setPointSizeF(LEGEND_TEXT_PT)
        metrics = QFontMetricsF(font)
        totals = self.model.group_counts()[1]
        widest = max(metrics.horizontalAdvance(_legend_text(name, (totals, totals), g)) for g, name in enumerate(names))
        return max(2, min(5, int((self.width() - PLOT_FRAME_PX[0]) / (widest + LEGEND_ENTRY_PX))))

    def _fit_legend(self) -> None:
        """After a resize: the columns the width holds and the groups the height holds."""
        names = getattr(self, "_legend_names", None)  # a resize can come while the view is being built
        if not names:
            return
        if names != self.model.group_names():  # the groups changed and their legend is still to come
            return self._build_legend()
        columns = self._legend_columns(names)
        if self._legend_capacity(len(names), columns) != self._legend_kept:
            self._build_legend()
        elif columns != self.legend.columnCount:
            self.legend.setColumnCount(columns)

    def _centre_on(self, positions: dict) -> None:
        """Find: keep the zoom, move the view so the place found is in the middle."""
        xy = positions.get(self.name)
        if xy is None or self.model.maps is None:
            return
        (x0, x1), (y0, y1) = self.view.viewRange()
        w, h = x1 - x0, y1 - y0
        self._set_range_quietly(xRange=(xy[0] - w / 2, xy[0] + w / 2), yRange=(xy[1] - h / 2, xy[1] + h / 2),
                                padding=0)

    def _on_view_drag(self, event, axis=None) -> None:
        """A left drag with the lasso or rectangle tool selects; otherwise (and with the other buttons) it pans."""
        tool = self.model.tool
        if tool is Tool.PAN or event.button() != Qt.MouseButton.LeftButton or self.model.maps is None:
            return self._pan_drag(event, axis)
        event.accept()
        here = self.view.mapSceneToView(event.scenePos())
        if event.isStart():
            start = self.view.mapSceneToView(event.buttonDownScenePos())
            self._region = [(start.x(), start.y())]
        self._region.append((here.x(), here.y()))
        polygon = self.region_polygon()
        closed = np.vstack([polygon, polygon[:1]])
        self.region_item.setData(closed[:, 0], closed[:, 1])
        if event.isFinish():
            mods = event.modifiers()
            mode = ("add" if mods & Qt.KeyboardModifier.ShiftModifier else
                    "remove" if mods & Qt.KeyboardModifier.AltModifier else "replace")
            self._region = []
            self.region_item.setData([], [])
            if len(polygon) >= 3:
                self.model.select_region(self.name, polygon, mode)

    def region_polygon(self) -> np.ndarray:
        """The lasso's points, or the rectangle's four corners, in view coordinates."""
        from explorer.points import rectangle

        if not self._region:
            return np.zeros((0, 2))
        if self.model.tool is Tool.RECTANGLE:
            return rectangle(self._region[0], self._region[-1])
        return np.asarray(self._region, dtype=np.float64)

    # ------------------------------------------------------------------ mouse
    def nearest_point(self, scene_pos) -> int:
        """Index of the visible point within HOVER_RADIUS_PX of a scene position, or NONE."""
        if self._tree is None or not self.view.sceneBoundingRect().contains(scene_pos):
            return NONE
        p = self.view.mapSceneToView(scene_pos)
        px = max(abs(v) for v in self.view.viewPixelSize())
        dist, idx = self._tree.query((p.x(), p.y()), k=1, distance_upper_bound=HOVER_RADIUS_PX * px)
        return int(self._tree_index[idx]) if np.isfinite(dist) else NONE

    def _on_mouse_moved(self, args) -> None:
        self.model.set_hover(self.nearest_point(args[0]))

    def leaveEvent(self, event) -> None:
        self.model.set_hover(NONE)
        super().leaveEvent(event)

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._tree is None or event.double():
            return
        if self.legend.isVisible() and self.legend.sceneBoundingRect().contains(event.scenePos()):
            return  # a click on the legend hides or shows a group, it does not choose a point
        i = self.nearest_point(event.scenePos())
        if i >= 0:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.model.select_b(i) if shift else self.model.select_a(i)

    def _on_handle_moved(self, handle) -> None:
        if not self._placing:
            p = handle.pos()
            self.model.drag(self.name, (p.x(), p.y()))

    # ------------------------------------------------------------------ overlays
    def place_handle(self, xy) -> None:
        """Move the handle from code (no drag feedback)."""
        self._placing = True
        try:
            self.handle.setPos(float(xy[0]), float(xy[1]))
        finally:
            self._placing = False

    def _on_current_changed(self) -> None:
        c = self.model.current
        if c is None or self.model.maps is None:
            return
        xy = c.positions.get(self.name)
        dragged_here = c.origin is Origin.DRAG and c.map == self.name and c.dragging
        if xy is not None and not dragged_here:
            self.place_handle(xy)

    def _on_hover_changed(self, i: int) -> None:
        if i < 0 or self.model.maps is None:
            self.hover_item.clear()
        else:
            self.hover_item.setData(pos=self.points()[i:i + 1])

    def _draw_selection(self) -> None:
        if self.model.maps is None:
            return
        spots = []
        for slot, i, colour in (("A", self.model.a, A_COLOUR), ("B", self.model.b, B_COLOUR)):
            label = self.labels[slot]
            if i < 0:
                label.hide()
                continue
            xy = self.points()[i]
            spots.append({"pos": xy, "pen": pg.mkPen(colour, width=3)})
            label.setPos(float(xy[0]), float(xy[1]))
            label.show()
        self.selection_item.setData(spots)

    def _draw_intervention(self) -> None:
        result = self.model.intervention
        xy = result.positions.get(self.name) if result is not None else None
        if xy is None or self.model.maps is None:
            self.intervention_item.clear()
        else:
            self.intervention_item.setData(pos=[xy])

    def _draw_path(self) -> None:
        path = self.model.interpolation.path if self.model.interpolation is not None else None
        if path is None or self.model.maps is None:
            self.path_item.setData([], [])
        else:
            self.path_item.setData(path[self.name][:, 0], path[self.name][:, 1])
