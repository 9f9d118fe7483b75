"""The defects seen in a real window (issue 8), each with the test that would have caught it, offscreen on the
embedded default run (its maps are cached: no training, no UMAP fit)."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtGui import QFontMetrics

import explorer_invariant
from explorer.main_window import MainWindow
from explorer.model import NONE, Origin
from explorer.rundata import RunData


@pytest.fixture(scope="module")
def run():
    return RunData.open()


@pytest.fixture
def window(qtbot, run):
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show_run(run)
    win.show()
    qtbot.waitExposed(win)
    return win


def consistent(window) -> None:
    problems = explorer_invariant.check(window)
    assert problems == [], problems


def other_class(model, i: int) -> int:
    labels = model.run.latents.labels
    return int(np.flatnonzero(labels != labels[i])[0])


def test_2_a_new_a_after_a_transfer_clears_the_result_everywhere(window):
    m, panel = window.model, window.swap_panel
    m.select_b(other_class(m, 0))
    panel.transfer_button.click()
    assert panel.use_button.isEnabled() and len(window.maps["zc"].intervention_item.data) == 1
    m.select_a(42)
    assert not panel.use_button.isEnabled()
    assert "z_c of" not in panel.verdict.text() and panel.result.array is None
    for view in window.maps.values():
        assert len(view.intervention_item.data) == 0
    consistent(window)


def test_3_a_new_a_drops_the_played_frames(window, qtbot):
    m, panel = window.model, window.animation_panel
    m.select_b(other_class(m, 0))
    panel.steps.setValue(5)
    panel.play_button.click()
    qtbot.waitUntil(lambda: m.current.origin is Origin.FRAME and m.frame >= 2, timeout=3000)
    panel.play_button.click()
    m.select_a(77)
    assert panel.preview.array is None and m.interpolation is None
    assert f"A #77 \u2192 B #{m.b}" in panel.info.text()
    consistent(window)
    window.show_run(window.model.run)  # reopening clears B: nothing to play
    assert panel.preview.array is None and not panel.play_button.isEnabled()
    consistent(window)


def test_4_the_walk_tab_shows_the_walk_of_the_current_latent(window, qtbot):
    m, walks = window.model, window.walk_panel
    assert walks.follow.isChecked()
    m.select_b(other_class(m, 0))
    window.tabs.setCurrentIndex(2)
    qtbot.waitUntil(lambda: m.walk is not None, timeout=3000)
    window.tabs.setCurrentIndex(1)
    window.animation_panel.scrub.setValue(20)  # scrub the interpolation while the walks are hidden
    assert m.current.origin is Origin.FRAME
    window.tabs.setCurrentIndex(2)
    assert m.walk_is_current and "frame 21/" in walks.caption.text()
    np.testing.assert_array_equal(walks.grid, m.walk.images)
    np.testing.assert_array_equal(m.walk.z_c, m.current.z_c)
    consistent(window)


def test_5_opening_a_run_clears_b_and_the_result_from_the_swap_panel(window):
    m, panel = window.model, window.swap_panel
    m.select_b(other_class(m, 0))
    panel.transfer_button.click()
    window.open_run(m.run.run_dir)
    assert m.b == NONE
    assert "B #" not in panel.other_box.caption.text() and "classifier on the result image" not in panel.verdict.text()
    consistent(window)


def test_6_a_legend_click_hides_that_class(window, qtbot):
    m, view = window.model, window.maps["zc"]
    groups = m.colour_groups()
    sample = view.legend.items[3][0]
    pos = view.mapFromScene(sample.sceneBoundingRect().center())
    a_before = m.a
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert m.hidden == {3} and m.a == a_before
    visible = view.scatter.data["visible"]
    assert not visible[groups == 3].any() and visible[groups != 3].all()
    hidden_point = int(np.flatnonzero(groups == 3)[0])
    scene = view.view.mapViewToScene(QPointF(*map(float, m.map_points("zc")[hidden_point])))
    assert view.nearest_point(scene) != hidden_point  # hidden points cannot be hovered or clicked
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert m.hidden == frozenset() and view.scatter.data["visible"].all()


def test_7_every_control_text_is_in_its_font(window):
    from PyQt6.QtWidgets import QAbstractButton, QLabel

    window.model.select_b(other_class(window.model, 0))
    window.animation_panel.play_button.click()  # the Pause state too
    missing = []
    for widget in window.findChildren(QAbstractButton) + window.findChildren(QLabel):
        metrics = QFontMetrics(widget.font())
        for ch in widget.text():
            if ord(ch) > 127 and not metrics.inFontUcs4(ord(ch)):
                missing.append((type(widget).__name__, widget.text(), hex(ord(ch))))
    window.animation_panel.play_button.click()
    assert not missing, missing
    assert not window.animation_panel.play_button.icon().isNull()


def test_8_the_window_fits_a_laptop_screen(window):
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, hint
    assert window.width() <= 1280 and window.height() <= 720


def test_9_the_caption_stops_saying_dragging_when_the_handle_is_released(window, qtbot):
    m, view = window.model, window.maps["zc"]
    target = m.map_points("zc")[other_class(m, 0)]
    view.handle.setPos(*target)
    assert "dragging on the z_c map" in window.image_panel.decoded_caption.text()
    view.handle.sigPositionChangeFinished.emit(view.handle)  # what TargetItem sends when the mouse lets go
    caption = window.image_panel.decoded_caption.text()
    assert "dragging" not in caption and "moved on the z_c map" in caption
    consistent(window)


def test_10_b_is_shown_beside_a_and_can_be_cleared(window, qtbot):
    m, side = window.model, window.image_panel
    b = other_class(m, 0)
    m.select_b(b)
    np.testing.assert_array_equal(side.b_image.array, m.run.images[b])
    assert f"B #{b}" in side.b_caption.text() and side.clear_b_button.isEnabled()
    side.clear_b_button.click()
    assert m.b == NONE and side.b_image.array is None
    m.select_b(b)
    window.swap_panel.transfer_button.click()
    action = next(a for a in window.actions() if a.shortcut().toString() == "Esc")
    action.trigger()
    assert m.b == NONE and m.intervention is None
    consistent(window)


def test_11_home_and_double_click_reset_the_view(window, qtbot):
    view = window.maps["style"]
    full = view.view.viewRange()
    view.view.scaleBy((0.2, 0.2))
    action = next(a for a in window.actions() if a.shortcut().toString() == "Home")
    action.trigger()
    np.testing.assert_allclose(view.view.viewRange(), full, rtol=1e-6, atol=1e-6)
    view.view.scaleBy((0.2, 0.2))
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.viewport().rect().center())
    np.testing.assert_allclose(view.view.viewRange(), full, rtol=1e-6, atol=1e-6)


def _legend_height(image) -> int:
    """Height in pixels of the legend's sample dot of class 0 (tab10 blue): the only blue in the picture's top-left
    corner, where the legend sits (class 0's island lies elsewhere on this map)."""
    a = np.asarray(image.convert("RGB")).astype(int)
    corner = a[: a.shape[0] * 3 // 10, : a.shape[1] // 2]
    blue = np.abs(corner - [31, 119, 180]).sum(axis=2) < 40
    rows = np.flatnonzero(blue.any(axis=1))
    return int(rows.max() - rows.min() + 1) if len(rows) else 0


def test_a_map_exported_narrow_or_wide_keeps_its_legend_readable(window, tmp_path):
    from PIL import Image

    from explorer.export import export_plot

    view = window.maps["zc"]
    size = view.size()
    view.grab().save(str(tmp_path / "screen.png"))
    with Image.open(tmp_path / "screen.png") as im:
        on_screen = _legend_height(im)
    export_plot(view, tmp_path / "narrow.png", width=300)
    export_plot(view, tmp_path / "wide.png", width=2 * size.width())
    assert view.size() == size
    with Image.open(tmp_path / "narrow.png") as im:
        assert im.size[0] == 300
        # not shrunk with the picture (which would halve it); a pixel of anti-aliasing either way
        assert on_screen >= 5 and _legend_height(im) >= on_screen - 1
    with Image.open(tmp_path / "wide.png") as im:
        assert im.size[0] == 2 * size.width() and _legend_height(im) >= 1.8 * on_screen  # grows with it


def test_every_control_has_a_tooltip(window):
    from PyQt6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QMenuBar, QSlider, QTabBar

    bare = [f"{type(c).__name__} {getattr(c, 'text', lambda: '')()!r}"
            for cls in (QAbstractButton, QComboBox, QAbstractSpinBox, QSlider) for c in window.findChildren(cls)
            if not c.toolTip() and not isinstance(c.parent(), (QTabBar, QMenuBar))]  # Qt's own scroll arrows
    assert not bare, bare
    assert all(window.tabs.tabToolTip(i) for i in range(window.tabs.count()))
    assert all(a.toolTip() for a in window.actions())


def test_settings_remember_size_and_splitters(qtbot, run):
    first = MainWindow()
    qtbot.addWidget(first)
    first.resize(760, 540)  # inside the offscreen screen (800x600): restoreGeometry keeps windows on screen
    first.show_run(run)
    first.show()
    qtbot.waitExposed(first)
    first.h_split.setSizes([460, 280])
    sizes = first.h_split.sizes()
    first.legends_action.setChecked(False)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    second.show_run(run)
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == (760, 540)
    assert second.h_split.sizes() == sizes
    assert not second.legends_action.isChecked() and not second.maps["zc"].legend.isVisible()
    second.legends_action.setChecked(True)
    second.close()


def test_a_size_saved_on_a_larger_screen_fills_this_one(qtbot, run):
    """A window last closed on a big monitor, opened on a laptop: Qt's restoreGeometry would shrink it to 2/3 of
    the screen (853x480 on a 1280x720 laptop, seen on a real X server); it fills the screen's free area instead."""
    first = MainWindow()
    qtbot.addWidget(first)
    first.resize(1500, 1000)  # larger than the offscreen screen (800x600)
    first.show_run(run)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    second.show_run(run)
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == second.default_size()
    free = second.screen().availableGeometry()
    assert second.default_size() == (free.width(), free.height() - 40)
    second.close()


def test_help_and_about_say_what_they_should(window):
    text = window.shortcuts_text()
    for key in ("Esc", "Space", "Home", "Left / Right", "F1"):
        assert key in text
    about = window.about_text()
    assert str(window.model.run.run_dir) in about and "z_c 10-D" in about and "parameters" in about


def test_gif_size_and_rate_and_a_labelled_strip(window, tmp_path):
    from PIL import Image

    m, panel = window.model, window.animation_panel
    m.select_b(other_class(m, 0))
    panel.steps.setValue(6)
    panel.export_gif(tmp_path / "a.gif", size=200, fps=5)
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.size == (200, 200) and gif.info["duration"] == 200 and gif.n_frames >= 2
    panel.export_strip(tmp_path / "plain.png")
    panel.export_strip(tmp_path / "labelled.png", labels=True)
    with Image.open(tmp_path / "plain.png") as plain, Image.open(tmp_path / "labelled.png") as labelled:
        assert labelled.size[1] > plain.size[1]  # a row of step labels above the frames


def test_save_dialogs_start_in_the_last_folder_and_the_status_bar_says_what_happened(window, tmp_path, monkeypatch):
    from PyQt6.QtWidgets import QFileDialog

    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda parent, title, start, pattern: (asked.append(start), (str(tmp_path / "x" / "w.png"), ""))[1]))
    (tmp_path / "x").mkdir()
    assert window.ask_save_name("t", "w.png", "PNG (*.png)") == str(tmp_path / "x" / "w.png")
    window.ask_save_name("t", "v.png", "PNG (*.png)")
    assert asked[1] == str(tmp_path / "x" / "v.png")  # the second dialog opens where the first one saved
    window.model.report("exported the latent walk to /somewhere/walk.png")
    assert "/somewhere/walk.png" in window.statusBar().currentMessage()


def test_keys_reach_the_window_whatever_has_focus(window, qtbot):
    m, panel = window.model, window.animation_panel
    m.select_b(other_class(m, 0))
    panel.steps.setValue(8)
    window.activateWindow()
    panel.scrub.setFocus()
    qtbot.keyClick(panel.scrub, Qt.Key.Key_Right)
    assert m.current.origin is Origin.FRAME and m.frame == 0  # from A's latent: the first frame
    qtbot.keyClick(panel.scrub, Qt.Key.Key_Right)
    qtbot.keyClick(panel.scrub, Qt.Key.Key_Right)
    assert m.frame == 2
    qtbot.keyClick(panel.scrub, Qt.Key.Key_Left)
    assert m.frame == 1
    panel.play_button.setFocus()
    qtbot.keyClick(panel.play_button, Qt.Key.Key_Space)
    assert m.playing
    qtbot.keyClick(panel.play_button, Qt.Key.Key_Space)
    assert not m.playing
    qtbot.keyClick(panel.play_button, Qt.Key.Key_Escape)
    assert m.b == NONE and m.current.origin is Origin.POINT
    consistent(window)
