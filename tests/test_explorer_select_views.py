"""Selection, colour by, find and neighbours through the real widgets (offscreen, pytest-qt) on the embedded run."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QApplication

from explorer.main_window import MainWindow
from explorer_windows import open_window
from explorer.model import ColourMode, Tool
from explorer.rundata import RunData


@pytest.fixture(scope="module")
def run():
    return RunData.open()


@pytest.fixture
def window(qtbot, run):
    return open_window(qtbot, run, (1600, 1000))


def widget_point(view, xy):
    return view.mapFromScene(view.view.mapViewToScene(QPointF(float(xy[0]), float(xy[1]))))


def mouse_drag(qtbot, view, path, modifiers=Qt.KeyboardModifier.NoModifier):
    """A real left-button drag through ``path`` (map coordinates) on ``view``."""
    vp = view.viewport()
    points = [widget_point(view, xy) for xy in path]
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, modifiers, pos=points[0])
    for p in points[1:]:
        ev = QMouseEvent(QMouseEvent.Type.MouseMove, QPointF(p), QPointF(vp.mapToGlobal(p)), Qt.MouseButton.NoButton,
                         Qt.MouseButton.LeftButton, modifiers)
        QApplication.sendEvent(vp, ev)
        qtbot.wait(2)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, modifiers, pos=points[-1])


def around(points, i, radius):
    t = np.linspace(0, 2 * np.pi, 24)
    return points[i] + radius * np.c_[np.cos(t), np.sin(t)]


def test_a_lasso_on_the_zc_map_selects_on_both_maps_counts_in_the_legend_and_esc_clears(window, qtbot):
    m, zc_view = window.model, window.maps["zc"]
    window.find_bar.tool_actions[Tool.LASSO].trigger()
    assert m.tool is Tool.LASSO
    zc = m.map_points("zc")
    radius = 0.08 * np.ptp(zc[:, 0])
    lasso = around(zc, 0, radius)
    range_before = zc_view.view.viewRange()
    drawn = []
    select_region = m.select_region
    m.select_region = lambda name, polygon, mode="replace": (drawn.append((name, polygon)),
                                                             select_region(name, polygon, mode))[1]
    mouse_drag(qtbot, zc_view, lasso)
    assert zc_view.view.viewRange() == range_before  # the lasso did not pan
    from explorer.points import points_in_polygon

    # the polygon the view built from the mouse is the lasso drawn (up to pixel rounding) ...
    assert len(drawn) == 1 and drawn[0][0] == "zc"
    polygon = drawn[0][1]
    px = max(abs(v) for v in zc_view.view.viewPixelSize())
    gaps = np.linalg.norm(polygon[:, None, :] - lasso[None, :, :], axis=2).min(axis=1)
    assert len(polygon) >= 8 and gaps.max() < 3 * px  # each vertex is a point of the drawn lasso
    # ... and the selection is exactly the points inside it
    assert len(m.selected) > 10
    np.testing.assert_array_equal(m.selected, np.flatnonzero(points_in_polygon(zc, polygon)))
    for name, view in window.maps.items():  # ringed on both maps
        item = view.selected_item
        np.testing.assert_allclose(np.c_[item._x, item._y], m.map_points(name)[m.selected], rtol=1e-6)
    selected, total = m.group_counts()
    texts = [label.text for _, label in window.maps["style"].legend.items]
    g = int(m.colour_groups()[0])
    assert texts[g] == f"{m.group_names()[g]}: {selected[g]} / {total[g]}"
    assert window.selected_label.text() == f"{len(m.selected):,} / 5,000 selected"
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert len(m.selected) == 0
    assert len(window.maps["zc"].selected_item._x) == 0
    assert window.maps["zc"].legend.items[0][1].text == m.group_names()[0]


def test_a_rectangle_on_the_style_map_and_export(window, qtbot, tmp_path, monkeypatch):
    m, view = window.model, window.maps["style"]
    m.set_tool(Tool.RECTANGLE)
    assert window.find_bar.tool_actions[Tool.RECTANGLE].isChecked()
    st = m.map_points("style")
    lo, hi = np.percentile(st, 35, axis=0), np.percentile(st, 65, axis=0)
    mouse_drag(qtbot, view, [lo, (lo + hi) / 2, hi])
    expected = np.flatnonzero(((st >= lo) & (st <= hi)).all(axis=1))
    # the pixels the mouse hit are a rounding away from lo and hi
    assert abs(len(m.selected) - len(expected)) <= 0.05 * len(expected) and len(expected) > 100
    monkeypatch.setattr(window, "ask_save_name", lambda *a: str(tmp_path / "picked.csv"))
    [a for a in window.actions() if a.text().startswith("Export se")][0].trigger()
    rows = list(csv.DictReader(open(tmp_path / "picked.csv")))
    assert [int(r["index"]) for r in rows] == list(m.selected)
    assert (tmp_path / "picked.png").is_file()
    assert "exported" in window.statusBar().currentMessage()


def test_colour_by_confidence_shows_a_colour_bar_and_misclassified_two_groups(window):
    m, view = window.model, window.maps["zc"]
    texts = [window.colour_by.itemText(i) for i in range(window.colour_by.count())]
    assert texts == ["label", "prediction", "confidence", "misclassified"]
    window.colour_by.setCurrentIndex(2)
    assert m.colour_mode is ColourMode.CONFIDENCE
    assert view.colour_bar.isVisible() and not view.legend.isVisible()
    brushes = view.scatter.data["brush"]
    groups = m.colour_groups()
    lo, hi = int(np.argmin(groups)), int(np.argmax(groups))
    assert brushes[lo].color().name() != brushes[hi].color().name()
    window.colour_by.setCurrentIndex(3)
    assert view.legend.isVisible() and not view.colour_bar.isVisible()
    assert [label.text for _, label in view.legend.items] == ["correct", "misclassified"]
    wrong = int(np.flatnonzero(m.colour_groups() == 1)[0])
    assert view.scatter.data["brush"][wrong].color().name() == "#d62728"


def test_find_centres_both_maps_the_filter_dims_and_neighbours_follow_a(window, qtbot):
    m = window.model
    zoomed = {}
    for name, view in window.maps.items():  # zoom in, so centring is visible
        (x0, x1), (y0, y1) = view.view.viewRange()
        view.view.setRange(xRange=(x0, x0 + (x1 - x0) / 4), yRange=(y0, y0 + (y1 - y0) / 4), padding=0)
        zoomed[name] = view.view.viewRange()
    bar = window.find_bar
    bar.search.setText("#321")
    qtbot.keyClick(bar.search, Qt.Key.Key_Return)
    assert m.a == 321 and bar.answer.text().strip().startswith("found #321")
    for name, view in window.maps.items():
        (x0, x1), (y0, y1) = view.view.viewRange()
        np.testing.assert_allclose([(x0 + x1) / 2, (y0 + y1) / 2], m.map_points(name)[321], atol=1e-3 * (x1 - x0))
        assert x1 - x0 == pytest.approx(zoomed[name][0][1] - zoomed[name][0][0], rel=1e-3)  # zoom kept
    bar.filter.setCurrentIndex(1 + 4)  # class 4
    assert m.filter == 4
    brushes = window.maps["zc"].scatter.data["brush"]
    labels = m.run.latents.labels
    assert brushes[int(np.flatnonzero(labels == 4)[0])].color().alpha() == 170
    assert brushes[int(np.flatnonzero(labels != 4)[0])].color().alpha() == 22
    # neighbours of A: two strips, clicking one makes it A
    panel = window.neighbours_panel
    in_zc, in_style = m.neighbours(k=10)
    assert [v.point for v in panel.strips["zc"]] == list(in_zc)
    assert [v.point for v in panel.strips["style"]] == list(in_style)
    np.testing.assert_array_equal(panel.strips["zc"][0].array, m.run.images[int(in_zc[0])])
    window.tabs.setCurrentWidget(window.tabs.widget(3))
    target = panel.strips["style"][2]
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton)
    assert m.a == int(in_style[2])


def _legend_clear_of_points(view) -> float:
    """Pixels between the legend's lower edge and the highest point on screen (negative: the legend covers
    points)."""
    legend_bottom = view.legend.sceneBoundingRect().bottom()
    points = view.points()
    top = points[np.argmax(points[:, 1])]
    return view.view.mapViewToScene(QPointF(float(top[0]), float(top[1]))).y() - legend_bottom


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_a_selection_s_counts_never_slide_the_legend_over_the_points(qtbot, run, size):
    """At 1280x720 the counts a selection adds ("2  498 / 500") widened the legend to a third row, over the
    clusters at the top of the map; the legend keeps its rows with and without counts, and the map keeps its
    range."""
    win = open_window(qtbot, run, size)
    m = win.model
    for view in win.maps.values():
        assert _legend_clear_of_points(view) > 0
    ranges = {name: view.view.viewRange() for name, view in win.maps.items()}
    rows = {name: view.legend_rows() for name, view in win.maps.items()}
    m.set_selected(np.flatnonzero(m.run.latents.labels == 2))
    qtbot.wait(50)
    for name, view in win.maps.items():
        assert "/" in view.legend.items[2][1].text  # the counts are shown
        assert view.legend_rows() == rows[name]
        assert view.view.viewRange() == ranges[name]  # selecting does not move the map
        assert _legend_clear_of_points(view) > 0
