"""The explorer's real widgets, offscreen, on a tiny real run (1 epoch on mnist5k, 300 map points).

The session fixture trains the run without maps and lets a real MainWindow compute them in its background
worker (the one real UMAP fit of these tests); later tests open the run with the maps cached.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PyQt6.QtCore import QPointF, Qt

from explorer.main_window import MainWindow
from explorer_windows import open_window, settle_layout
from explorer.model import Origin
from explorer.rundata import RunData
from explorer.workers import MapWorker

MAP_POINTS = 300


def _train_tiny(run_dir: Path) -> None:
    from core.config import RunConfig, TrainConfig
    from core.run import train_run

    cfg = RunConfig(train=TrainConfig(epochs=1, map_points=MAP_POINTS, make_maps=False, make_figures=False,
                                      eval_limit=200, device="cpu"), data={"dataset": "mnist5k"})
    train_run(run_dir, cfg, progress=False)


@pytest.fixture(scope="session")
def runs(tmp_path_factory, qapp):
    """{'mapped': run with maps computed by the window's worker, 'bare': a copy without maps, 'progress': [...]}"""
    root = tmp_path_factory.mktemp("explorer_runs")
    mapped, bare = root / "tiny", root / "tiny_no_maps"
    _train_tiny(mapped)
    shutil.copytree(mapped, bare)
    window = MainWindow()
    progress: list[tuple[str, float]] = []
    window.show_run(RunData.open(mapped))
    assert window.worker is not None and not window.is_ready
    assert window.progress.isVisibleTo(window)
    drawn = lambda view: np.c_[view.scatter.data["x"], view.scatter.data["y"]]  # noqa: E731
    # at once, before the worker has done anything: a provisional PCA map of every point
    provisional = {name: (drawn(view), window.model.map_points(name).copy(), view.getPlotItem().titleLabel.text)
                   for name, view in window.maps.items()}
    assert window.model.maps.provisional
    window.worker.progress.connect(lambda phase, frac: progress.append((phase, frac)))
    deadline = time.monotonic() + 240
    while not window.is_ready and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.02)
    ready = window.is_ready
    final = {name: (drawn(view), window.model.map_points(name).copy(), view.getPlotItem().titleLabel.text,
                    int(view.scatter.data["visible"].sum()))
             for name, view in window.maps.items()}
    window.close()
    assert ready, "the map worker did not finish in 240 s"
    return {"mapped": mapped, "bare": bare, "progress": progress, "provisional": provisional, "final": final}


@pytest.fixture(autouse=True)
def no_thread_left_running():
    yield
    running = [w for w in list(MapWorker.live) if w.isRunning()]
    for w in running:
        w.cancel()
        w.wait(5000)
    assert not running, f"{len(running)} map worker thread(s) left running"


@pytest.fixture
def window(qtbot, runs):
    return open_window(qtbot, RunData.open(runs["mapped"]), (1600, 1000))


def scene_point(view, xy) -> QPointF:
    return view.view.mapViewToScene(QPointF(float(xy[0]), float(xy[1])))


def widget_point(view, xy):
    return view.mapFromScene(scene_point(view, xy))


def isolated(points: np.ndarray, rank: int = 0) -> int:
    """Index of the point with the rank-th largest distance to its nearest neighbour (easy to hit with a mouse)."""
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(points).query(points, k=2)
    return int(np.argsort(-dist[:, 1])[rank])


# ---------------------------------------------------------------------------------------------- loading and maps
def test_worker_computed_and_cached_maps(runs):
    assert (runs["mapped"] / "maps.npz").is_file()
    assert runs["progress"], "the worker reported no progress"
    assert runs["progress"][-1][1] == pytest.approx(1.0)
    run = RunData.open(runs["mapped"])
    assert run.maps is not None and run.maps.zc.shape == (MAP_POINTS, 2)
    assert RunData.open(runs["bare"]).maps is None


def test_a_provisional_pca_map_is_replaced_by_umap_point_for_point(runs):
    """Opening a run without maps draws a PCA of its latents at once; the UMAP map then replaces it with every
    point still there (none vanishes in between)."""
    from core.projection import provisional_maps

    latents = RunData.open(runs["bare"]).latents
    pca = provisional_maps(latents.z_c, latents.z_style)
    umap_maps = RunData.open(runs["mapped"]).maps
    for name in ("zc", "style"):
        drawn, model_points, title = runs["provisional"][name]
        np.testing.assert_allclose(drawn, pca.zc if name == "zc" else pca.style)
        np.testing.assert_array_equal(model_points, pca.zc if name == "zc" else pca.style)
        assert "PCA" in title
        drawn, model_points, title, visible = runs["final"][name]
        np.testing.assert_allclose(drawn, umap_maps.zc if name == "zc" else umap_maps.style)
        assert visible == MAP_POINTS and "UMAP" in title and "PCA" not in title
        assert not np.allclose(drawn, runs["provisional"][name][0])


def test_loading_a_run_populates_both_maps_and_panels(window):
    s = window.model
    for name, view in window.maps.items():
        assert len(view.scatter.data) == MAP_POINTS
        np.testing.assert_allclose(np.c_[view.scatter.data["x"], view.scatter.data["y"]], s.map_points(name))
        assert len(view.legend.items) == 10
        assert view.handle.isVisible()
    assert s.a == 0
    np.testing.assert_array_equal(window.image_panel.decoded.array, s.current.image)
    assert s.current.image.shape == (28, 28) and s.current.image.std() > 5
    assert window.image_panel.decoded_probs.values.sum() == pytest.approx(1.0, abs=1e-4)


def test_hover_highlights_the_point_on_both_maps_and_shows_it(window, qtbot):
    s, zc_view = window.model, window.maps["zc"]
    i = isolated(s.map_points("zc"))
    qtbot.mouseMove(zc_view.viewport(), widget_point(zc_view, s.map_points("zc")[i]))
    qtbot.waitUntil(lambda: s.hover == i, timeout=2000)
    for name, view in window.maps.items():
        np.testing.assert_allclose([view.hover_item.data["x"][0], view.hover_item.data["y"][0]], s.map_points(name)[i])
    np.testing.assert_array_equal(window.image_panel.point_image.array, s.run.images[i])
    assert f"#{i}" in window.image_panel.point_info.text()
    np.testing.assert_allclose(window.image_panel.point_probs.values, s.run.latents.probs[i])


def test_click_selects_a_and_shift_click_selects_b(window, qtbot):
    s, view = window.model, window.maps["style"]
    a, b = isolated(s.map_points("style"), 0), isolated(s.map_points("style"), 1)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=widget_point(view, s.map_points("style")[a]))
    qtbot.waitUntil(lambda: s.a == a, timeout=2000)
    np.testing.assert_allclose(s.current.z_c, s.run.latents.z_c[a])
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     pos=widget_point(view, s.map_points("style")[b]))
    qtbot.waitUntil(lambda: s.b == b, timeout=2000)
    assert s.a == a
    for name, v in window.maps.items():  # both maps ring A and B
        assert len(v.selection_item.data) == 2
        np.testing.assert_allclose([v.selection_item.data["x"][1], v.selection_item.data["y"][1]], s.map_points(name)[b])


# ---------------------------------------------------------------------------------------------- drag to decode
def test_dragging_the_zc_handle_decodes_live_and_holds_the_style(window, qtbot):
    s, view = window.model, window.maps["zc"]
    before_image, style = s.current.image.copy(), s.current.z_style.copy()
    style_handle = window.maps["style"].handle.pos()
    target = s.map_points("zc")[s.run.latents.labels != s.run.latents.labels[s.a]][0]
    images = []
    window.qt_model.currentChanged.connect(
        lambda: images.append(s.current.image.copy()) if s.current.origin is Origin.DRAG else None)
    start = np.array([view.handle.pos().x(), view.handle.pos().y()])
    for t in np.linspace(0, 1, 12)[1:]:  # a drag: many small moves of the handle
        view.handle.setPos(*(start + t * (target - start)))
        qtbot.wait(1)
    assert len(images) == 11
    assert np.abs(s.current.image.astype(int) - before_image.astype(int)).mean() > 5
    np.testing.assert_array_equal(window.image_panel.decoded.array, s.current.image)
    np.testing.assert_allclose(s.current.z_c, s.inverse["zc"](target), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(s.current.z_style, style)
    assert window.maps["style"].handle.pos() == style_handle


def test_a_real_mouse_drag_moves_through_style_space(window, qtbot):
    s, view = window.model, window.maps["style"]
    z_c, before = s.current.z_c.copy(), s.current.image.copy()
    start = widget_point(view, s.current.positions["style"])
    goal = widget_point(view, s.map_points("style")[int(np.argmax(np.linalg.norm(s.map_points("style") - s.current.positions["style"], axis=1)))])
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for t in np.linspace(0, 1, 8)[1:]:
        p = start + (goal - start) * t
        from PyQt6.QtGui import QMouseEvent
        from PyQt6.QtWidgets import QApplication
        ev = QMouseEvent(QMouseEvent.Type.MouseMove, QPointF(p), QPointF(vp.mapToGlobal(p)), Qt.MouseButton.NoButton,
                         Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, ev)
        qtbot.wait(5)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=goal)
    moved = np.array([view.handle.pos().x(), view.handle.pos().y()])
    goal_xy = view.view.mapSceneToView(view.mapToScene(goal))
    assert np.linalg.norm(moved - [goal_xy.x(), goal_xy.y()]) < 0.05 * np.ptp(s.map_points("style"))
    np.testing.assert_allclose(s.current.z_style, s.inverse["style"](moved), rtol=1e-5, atol=1e-5)
    assert not np.array_equal(s.current.image, before)
    np.testing.assert_array_equal(s.current.z_c, z_c)  # z_c held while the style moves


# ---------------------------------------------------------------------------------------------- interventions
@pytest.fixture
def default_window(qtbot):
    """The embedded, fully trained default run (its maps are cached: no UMAP fit)."""
    from core.inference import DEFAULT_RUN

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1600, 1000)
    win.show_run(RunData.open(DEFAULT_RUN))
    win.show()
    qtbot.waitExposed(win)
    assert win.is_ready
    return win


def test_swap_moves_the_classifier_to_the_target_and_marks_both_maps(default_window):
    """The paper's swap through the learned prior, on the trained default model: the swapped image, re-encoded,
    is classified as the target class for most points (the verdict the panel shows)."""
    window = default_window
    s, panel = window.model, window.swap_panel
    labels = s.run.latents.labels
    panel.using.setCurrentIndex(0)  # the learned prior p(z_c|y)
    hits, tries = 0, 0
    for i in range(0, len(labels), 97):
        target = (int(labels[i]) + 3) % 10
        s.select(i)
        panel.target.setCurrentIndex(target)
        panel.swap_button.click()
        hits += int(np.argmax(s.intervention.probs)) == target
        tries += 1
    assert hits >= 0.7 * tries, f"only {hits}/{tries} swaps reached their target class"
    r = s.intervention
    np.testing.assert_array_equal(r.z_style, s.run.latents.z_style[s.a])  # style kept
    np.testing.assert_array_equal(panel.result.array, r.image)
    np.testing.assert_array_equal(panel.original.array, s.run.images[s.a])
    for name, view in window.maps.items():
        np.testing.assert_allclose([view.intervention_item.data["x"][0], view.intervention_item.data["y"][0]], r.positions[name])
    assert s.run.label_spec.names[int(np.argmax(r.probs))] in panel.verdict.text()


def test_swap_with_the_learned_prior_follows_the_papers_formula(window):
    s, engine = window.model, window.model.run.engine
    s.select(3)
    # the default is the swap the run's summary measured as landing more often, with the figures in the tooltip
    assert window.swap_panel.using.currentIndex() == (1 if s.swap_choice().method == "class_stats" else 0)
    assert "learned prior" in window.swap_panel.using.toolTip() and "%" in window.swap_panel.using.toolTip()
    window.swap_panel.using.setCurrentIndex(0)
    window.swap_panel.target.setCurrentIndex(5)
    window.swap_panel.swap_button.click()
    z_c = torch.from_numpy(s.run.latents.z_c[3][None])
    expected = engine.swap_label(z_c, engine.predict(z_c), 5)[0].numpy()
    np.testing.assert_allclose(s.intervention.z_c, expected, rtol=1e-5, atol=1e-5)


def test_transfer_takes_z_c_of_b_and_style_of_a(window):
    s = window.model
    s.select(5)
    s.select(9, "b")
    assert window.swap_panel.transfer_button.isEnabled()
    window.swap_panel.transfer_button.click()
    r = s.intervention
    np.testing.assert_array_equal(r.z_c, s.run.latents.z_c[9])
    np.testing.assert_array_equal(r.z_style, s.run.latents.z_style[5])
    assert window.swap_panel.other_box.isVisibleTo(window.swap_panel)


# ---------------------------------------------------------------------------------------------- animation and exports
def _pick_ab(s):
    labels = s.run.latents.labels
    a = 0
    b = int(np.flatnonzero(labels != labels[a])[0])
    s.select(a)
    s.select(b, "b")
    return a, b


def test_animation_plays_the_expected_frames_on_both_maps(window, qtbot):
    s, panel = window.model, window.animation_panel
    a, b = _pick_ab(s)
    panel.steps.setValue(6)
    panel.speed.setValue(60)
    shown, handles = [], []
    window.qt_model.currentChanged.connect(
        lambda: (shown.append(s.current.image.copy()), handles.append(window.maps["zc"].handle.pos()))
        if s.current.origin is Origin.FRAME else None)
    panel.play_button.click()
    qtbot.waitUntil(lambda: len(shown) >= 7, timeout=5000)
    panel.play_button.click()
    assert not panel.timer.isActive()
    path = s.interpolation
    expected = s.decode(*s.run.engine.interpolate((s.run.latents.z_c[a], s.run.latents.z_style[a]),
                                                  (s.run.latents.z_c[b], s.run.latents.z_style[b]), steps=6))[0]
    np.testing.assert_array_equal(path.images, expected)
    for t in range(6):
        np.testing.assert_array_equal(shown[t], expected[t])
    np.testing.assert_array_equal(shown[6], expected[0])  # it loops
    assert handles[0] != handles[5]  # the moving point moved on the map
    assert path.path is not None and path.path["zc"].shape == (6, 2)



def test_the_interpolate_tab_shows_the_path_of_a_and_b_before_play(window, qtbot):
    """Opening the tab with A and B chosen shows the frames and the path on the maps at once (it used to be an
    empty panel until Play); A stays the current latent. While the tab is hidden nothing is decoded."""
    s, panel = window.model, window.animation_panel
    a, b = _pick_ab(s)
    assert s.interpolation is None  # the swap tab is in front
    window.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: s.interpolation is not None, timeout=3000)
    assert (s.interpolation.a, s.interpolation.b) == (a, b) and panel.preview._image is not None
    assert s.current.origin is not Origin.FRAME and s.current.point == a
    for view in window.maps.values():  # the path drawn on both maps
        assert len(view.path_item.xData) == s.steps
    other = int(np.flatnonzero(s.run.latents.labels != s.run.latents.labels[b])[1])
    s.select(other, "b")  # a new B while the tab is in front: its path follows
    qtbot.waitUntil(lambda: s.interpolation is not None and s.interpolation.b == other, timeout=3000)
    window.tabs.setCurrentIndex(0)
    s.select(b, "b")
    qtbot.wait(300)
    assert s.interpolation is None  # hidden: dropped with the old B, not computed again

def test_style_only_interpolation_keeps_z_c(window):
    s, panel = window.model, window.animation_panel
    a, _ = _pick_ab(s)
    panel.mode.setCurrentIndex(2)
    panel.steps.setValue(5)
    path = s.ensure_interpolation()
    np.testing.assert_array_equal(path.z_c, np.repeat(s.run.latents.z_c[a][None], 5, axis=0))
    assert not np.allclose(path.z_style[0], path.z_style[-1])


def test_gif_and_png_strip_exports(window, tmp_path):
    s, panel = window.model, window.animation_panel
    _pick_ab(s)
    panel.steps.setValue(8)
    panel.export_gif(tmp_path / "a.gif")
    panel.export_strip(tmp_path / "a.png")
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 8 and gif.size == (28 * 4, 28 * 4)
        assert gif.info.get("loop") == 0
    with Image.open(tmp_path / "a.png") as strip:
        assert strip.size == (8 * 56 + 7 * 4, 56)
        pixels = np.asarray(strip)
    np.testing.assert_array_equal(pixels[::2, :56:2], s.interpolation.images[0])


def test_latent_walk_grid(window):
    s, panel = window.model, window.walk_panel
    s.select(11)
    panel.steps.setValue(7)
    panel.refresh()
    assert panel.grid.shape == (s.run.engine.zc_dim, 7, 28, 28)
    for row in panel.grid:  # each row changes along the walk
        assert np.abs(row[0].astype(int) - row[-1].astype(int)).mean() > 1
    assert panel.view.rows == [f"z_c[{d}]" for d in range(s.run.engine.zc_dim)]


def test_map_export_at_a_chosen_width(window, tmp_path):
    from explorer.export import export_plot, grab_widget

    export_plot(window.maps["zc"], tmp_path / "zc.png", width=900)
    grab_widget(window, tmp_path / "win.png")
    with Image.open(tmp_path / "zc.png") as im:
        assert im.size[0] == 900
        assert len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)) > 12
    with Image.open(tmp_path / "win.png") as im:
        assert im.size == (1600, 1000)


# ---------------------------------------------------------------------------------------------- workers and errors
def test_closing_the_window_cancels_a_running_map_fit(qtbot, runs, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(runs["bare"], bare)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show_run(RunData.open(bare))
    worker = win.worker
    assert worker is not None and worker.isRunning()
    qtbot.wait(300)
    cancelled = []
    worker.cancelled.connect(lambda: cancelled.append(True))
    t0 = time.monotonic()
    win.close()
    assert time.monotonic() - t0 < 5
    assert not worker.isRunning()
    qtbot.waitUntil(lambda: bool(cancelled), timeout=1000)
    assert not (bare / "maps.npz").exists()


def test_opening_a_folder_that_is_not_a_run_keeps_the_current_run(window, tmp_path):
    errors = []
    window.report_error = errors.append
    run_before = window.model.run
    assert not window.open_run(tmp_path)
    assert window.open_run(tmp_path / "missing") is False
    assert len(errors) == 2 and "not a run folder" in errors[0] and "\n" not in errors[0]
    assert window.model.run is run_before


def test_headless_screenshot_writes_a_real_picture(runs, tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "shot.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "explorer", str(runs["mapped"]), "--screenshot", str(out)],
                          cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as im:
        assert im.size == (1600, 1000)
        colours = np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)
    assert len(colours) > 500


def test_a_screenshot_ignores_and_keeps_the_saved_layout(qtbot, runs, tmp_path):
    """`--screenshot` renders the default layout whatever the user left saved (the README's pictures came out with
    the splitters of whoever rendered them), and leaves that saved layout as it was."""
    import os
    import subprocess
    import sys

    from PyQt6.QtCore import QSettings

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # this test's own saved settings, read by the subprocesses

    def shoot(name):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "explorer", str(runs["mapped"]), "--screenshot", str(out),
                               "--size", "900x600"], cwd=Path(__file__).resolve().parent.parent, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        with Image.open(out) as im:
            return np.asarray(im.convert("RGB"))

    plain = shoot("plain.png")
    settings_file = tmp_path / "config" / "ccvae-explorer" / "explorer.conf"
    assert not settings_file.exists()  # rendering a picture saved nothing
    settings_file.parent.mkdir(parents=True)
    saved = QSettings(str(settings_file), QSettings.Format.IniFormat)  # a user's: side panel squeezed, maps stacked
    win = MainWindow(remember_layout=False)  # makes the states below; saves nothing over the other tests' settings
    qtbot.addWidget(win)
    win.h_split.setSizes([700, 100])
    win.map_split.setOrientation(Qt.Orientation.Vertical)
    for key, split in (("split/maps", win.map_split), ("split/side", win.h_split)):
        saved.setValue(key, split.saveState())
    saved.setValue("view/legends", False)
    saved.sync()
    before = settings_file.read_bytes()
    assert np.array_equal(shoot("with_saved_layout.png"), plain)
    assert settings_file.read_bytes() == before


@pytest.mark.parametrize("problem", ["not_a_run", "corrupt_checkpoint", "missing_latents", "cut_off_latents"])
def test_bad_runs_end_with_one_error_line(problem, runs, tmp_path, capsys):
    from explorer.app import main

    run = tmp_path / "run"
    if problem != "not_a_run":
        shutil.copytree(runs["mapped"], run)
    else:
        run.mkdir()
    if problem == "corrupt_checkpoint":
        (run / "model.pt").write_bytes(b"this is not a checkpoint")
    if problem == "missing_latents":
        (run / "latents.npz").unlink()
    if problem == "cut_off_latents":  # a copy that stopped part-way: a broken zip, named as the file at fault
        (run / "latents.npz").write_bytes((run / "latents.npz").read_bytes()[:300])
    assert main([str(run), "--screenshot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    if problem == "cut_off_latents":
        assert "latents.npz: unreadable latents file (BadZipFile)" in err[0]
    assert not (tmp_path / "x.png").exists()


# ---------------------------------------------------------------------------------------------- large maps
def _map_pixels(view) -> np.ndarray:
    image = view.grab().toImage().convertToFormat(view.grab().toImage().Format.Format_RGB32)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, :image.width() * 4].reshape(image.height(), image.width(), 4)[..., :3].astype(np.int16)


def test_large_maps_zoom_on_a_splatted_preview_and_rest_on_the_exact_scatter(window, qtbot, tmp_path):
    from explorer.map_view import PREVIEW_MIN_POINTS

    view = window.maps["zc"]
    assert MAP_POINTS < PREVIEW_MIN_POINTS
    view.view.scaleBy((0.9, 0.9))  # a small map: always the exact scatter
    assert not view.previewing and view.scatter.isVisible()
    view._fit_view(view.points())
    view.repaint()
    exact = _map_pixels(view)

    view.preview_min_points = 0  # treat this map as a large one
    view._fit_view(view.points())  # ranges set by code never preview
    assert not view.previewing
    view.view.scaleBy((0.9, 0.9))
    view.view.scaleBy((1 / 0.9, 1 / 0.9))  # back to the fitted range, now drawn by the preview
    assert view.previewing and not view.scatter.isVisible()
    view.repaint()
    preview = _map_pixels(view)
    assert view.preview.last_paint_ms > 0
    # the same points in the same colours: the pictures differ only where points overlap
    ink_exact, ink_preview = (exact.sum(axis=2) < 700), (preview.sum(axis=2) < 700)
    assert abs(int(ink_exact.sum()) - int(ink_preview.sum())) < 0.1 * ink_exact.sum()
    assert np.abs(exact - preview).mean() < 2.0

    qtbot.waitUntil(lambda: not view.previewing, timeout=3000)  # the view rests: the exact scatter is back
    assert view.scatter.isVisible() and not view.preview.isVisible()
    view._fit_view(view.points())  # exactly the first range again (two scaleBy steps leave rounding behind)
    view.repaint()
    rest = _map_pixels(view)
    view.preview_min_points = 10 ** 9  # the same view drawn without any preview, as before large-map previews
    view._fit_view(view.points())
    view.repaint()
    reference = _map_pixels(view)
    view.preview_min_points = 0
    # the scatter's device cache may land a sub-pixel apart after a hide and show, so edge pixels of points may
    # differ by antialiasing (plain hide/show of the scatter does that too), never the points themselves
    assert np.abs(rest - reference).mean() < 0.5
    assert abs(int((rest.sum(axis=2) < 700).sum()) - int((reference.sum(axis=2) < 700).sum())) \
        < 0.01 * (reference.sum(axis=2) < 700).sum()

    view.view.translateBy(x=0.01)
    assert view.previewing
    from explorer.export import grab_widget

    grab_widget(window, tmp_path / "shot.png")  # pictures are taken of the exact scatter
    assert not view.previewing


def _dress(win) -> None:
    """The same state in any window: A and B, a selection of every third point, a filter dimming most points."""
    m = win.model
    m.select_a(5)
    m.select_b(7)
    m.set_selected(np.arange(0, len(m.run.latents), 3))
    m.set_filter(1)


def _within_a_pixel(a: np.ndarray, b: np.ndarray) -> bool:
    """Every clearly drawn pixel of picture ``a`` has a drawn pixel of picture ``b`` within one pixel (faint
    pixels are left out: where points pile up, one a pixel off changes how saturated its neighbours are)."""
    clear, drawn = np.abs(a - 255).sum(axis=2) > 120, np.abs(b - 255).sum(axis=2) > 30
    near = np.zeros_like(drawn)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            near |= np.roll(np.roll(drawn, dy, axis=0), dx, axis=1)
    return clear.any() and not (clear & ~near).any()


@pytest.mark.parametrize("large", [True, False], ids=["previewed", "exact"])
def test_the_map_at_rest_after_pan_and_zoom_equals_a_fresh_full_redraw(large, window, qtbot, runs):
    """Whatever stands in for the points while the view moves (the splatted preview on large maps, splatted
    layers shifted by whole pixels during a pan) never stays on screen: once the view rests, the map's pixels are
    those of a new window that was never panned, drawn at the same range, selection and filter included."""
    view, vb = window.maps["zc"], window.maps["zc"].view
    _dress(window)
    if large:
        view.preview_min_points = 0  # treat this map as a large one
    (x0, x1), (y0, y1) = vb.viewRange()
    for k in range(5):  # pans by fractions of a pixel and more, painting each step
        vb.translateBy(x=(0.0123 + 0.031 * k) * (x1 - x0), y=-0.0071 * (y1 - y0))
        view.viewport().repaint()  # painted now, as on screen (the scene is drawn on the viewport)
    assert view.previewing == large and not view.at_rest
    if large:  # the preview's canvas was shifted, not splatted anew: the same points, none more than a pixel off
        shifted = _map_pixels(view)
        view._draw_splats_afresh()
        afresh = _map_pixels(view)
        assert _within_a_pixel(shifted, afresh) and _within_a_pixel(afresh, shifted)
    for k in range(4):  # wheel-like zoom steps
        vb.scaleBy((0.93, 0.93) if k % 2 == 0 else (1 / 0.91, 1 / 0.91))
        view.viewport().repaint()
    for step in (0.0037, 0.0041):  # the first pan step after a zoom splats anew, the second shifts that canvas
        vb.translateBy(x=step * (x1 - x0), y=0.0029 * (y1 - y0))
        view.viewport().repaint()
    qtbot.waitUntil(lambda: view.at_rest, timeout=3000)
    assert view.scatter.isVisible()
    shown = _map_pixels(view)

    fresh = open_window(qtbot, RunData.open(runs["mapped"]), (1600, 1000))
    _dress(fresh)
    reference = fresh.maps["zc"]
    (x0, x1), (y0, y1) = vb.viewRange()
    for _ in range(2):  # the axes take the width of the new tick labels, then the range is set once more
        reference._set_range_quietly(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        settle_layout(qtbot, fresh)
    assert np.allclose(reference.view.viewRange(), vb.viewRange(), rtol=0, atol=1e-9 * (x1 - x0))
    reference.viewport().repaint()
    expected = _map_pixels(reference)
    assert shown.shape == expected.shape
    differ = np.abs(shown - expected).sum(axis=2) > 0
    assert not differ.any(), f"{int(differ.sum())} pixels differ from a fresh redraw at rest"


def test_status_bar_names_the_fix_when_reconstructions_are_no_better_than_the_mean_image(qtbot, runs, tmp_path):
    import json

    flagged, healthy = tmp_path / "flagged", tmp_path / "healthy"
    for folder, (mse, baseline) in ((flagged, (0.0755, 0.0519)), (healthy, (0.01, 0.05))):
        shutil.copytree(runs["mapped"], folder)
        summary = json.loads((folder / "summary.json").read_text())
        summary.update(recon_mse=mse, mean_image_mse=baseline)
        (folder / "summary.json").write_text(json.dumps(summary))
    win = MainWindow()
    qtbot.addWidget(win)
    win.show_run(RunData.open(flagged))
    assert not win.recon_warning.isHidden()
    assert "no better than the mean image" in win.recon_warning.text() and "likely fix" in win.recon_warning.text()
    win.show_run(RunData.open(healthy))  # the next run's status replaces it
    assert win.recon_warning.isHidden() and win.recon_warning.text() == ""


def test_start_up_objects_are_kept_out_of_the_cyclic_collector(runs, tmp_path):
    """python -m explorer freezes what start-up made (explorer.app.keep_gc_pauses_short): a full collection over
    those ~225,000 objects took about 100 ms, a stall in the window thread whenever one fell there."""
    import os
    import subprocess
    import sys

    code = ("import gc, sys; from explorer.app import main; rc = main([sys.argv[1], '--exit-when-ready']); "
            "print('frozen', gc.get_freeze_count()); sys.exit(rc)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code, str(runs["mapped"])], cwd=Path(__file__).resolve().parent.parent,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    frozen = int(proc.stdout.split("frozen")[-1])
    assert frozen > 50_000, proc.stdout
