"""Comparing a study's cells: the Qt-free StudyModel, the window (pytest-qt, offscreen), and the headless
``python -m explorer STUDY --screenshot`` command, on a tiny real study (2 betas x 2 latent sizes, 1 epoch)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.study import run_study
from core.study.folder import MEASURE_COLUMNS, StudyFolder, folder_kind, maps_cache_path
from core.study.grid import StudyError
from core.study.report import _fmt
from explorer.model import ExplorerModel
from explorer.rundata import RunData
from explorer.study_model import StudyModel
from study_fixtures import make_digits_folder, make_shapes_folder, tiny_study

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A real 2 x 2 study (beta 0.5, 1 x latent 6, 8) on 90 digits of three classes."""
    digits = make_digits_folder(tmp_path_factory.mktemp("digits"))
    out = tmp_path_factory.mktemp("study")
    run_study(out, tiny_study(digits, latent_dims=(6, 8)))
    return out


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """Maps go to a fresh user cache folder (the map worker's child process inherits it)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CCVAE_CACHE_DIR", str(folder))
    return folder


@pytest.fixture()
def broken(study, tmp_path):
    """The study with one cell never trained (its folder gone), one whose latents.npz is corrupt, and no report
    yet (as while it trains)."""
    out = tmp_path / "broken"
    shutil.copytree(study, out)
    (out / "report.json").unlink()
    shutil.rmtree(out / "cells" / "beta1_z6_sup1")
    (out / "cells" / "beta0.5_z8_sup1" / "latents.npz").write_bytes(b"not a zip")
    return out


def files_of(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------------------------------- Qt-free
def test_folder_reads_grid_report_and_measures(study):
    folder = StudyFolder.open(study)
    assert (folder.betas, folder.latent_dims, folder.sup_fracs, folder.with_sup) == ((0.5, 1.0), (6, 8), (1.0,), False)
    assert [c.name for c in folder.cells] == ["beta0.5_z6_sup1", "beta1_z6_sup1", "beta0.5_z8_sup1", "beta1_z8_sup1"]
    assert [folder.grid_position(c) for c in folder.cells] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert folder.column_captions() == ["\u03b2 = 0.5", "\u03b2 = 1"] and folder.row_captions() == ["latent 6", "latent 8"]
    rows = {r["cell"]: r for r in json.loads((study / "report.json").read_text())["rows"]}
    for cell in folder.cells:  # the report's numbers, as the report prints them
        shown = {full: value for _, value, full in cell.measures()}
        assert shown == {full: _fmt(rows[cell.name][key], key) for key, _, full in MEASURE_COLUMNS}
        assert cell.problem is None
    assert folder_kind(study) == "study" and folder_kind(study / "cells" / "beta1_z8_sup1") == "run"
    assert folder_kind(study / "cells") is None


def test_model_selection_and_swap_in_every_cell(study, cache):
    folder = StudyFolder.open(study)
    model = StudyModel()
    heard = []
    model.events.swap.connect(lambda: heard.append("swap"))
    model.events.selection.connect(lambda: heard.append("selection"))
    model.open(folder)
    assert len(model.cells) == 4 and all(c.ok for c in model.cells) and model.problems == []
    assert all(c.maps.provisional for c in model.cells) and not model.ready  # no maps in the study: PCA at once
    # the first cell selects point 0 and swaps it; each later cell swaps it too as it opens
    assert model.selected == model.swap_source == 0 and heard == ["selection"] + ["swap"] * 4
    n = model.point_count
    assert n == len(RunData.open(study / "cells" / "beta1_z8_sup1").latents)

    model.select(n - 1)
    model.set_swap_target(2)
    assert (model.selected, model.swap_source, model.swap_target) == (n - 1, n - 1, 2)
    assert model.swap_text().startswith(f"#{n - 1} (label ") and model.swap_text().endswith("\u2192 2")
    for i, state in enumerate(model.cells):  # each cell: exactly the explorer's own swap of that run
        explorer = ExplorerModel()
        explorer.load(RunData.open(state.cell.run_dir))
        explorer.select_a(n - 1)
        expected = explorer.swap(2, explorer.default_using())
        result = model.swap_result(i)
        assert result.description == expected.description
        np.testing.assert_array_equal(result.image, expected.image)
        text, landed = model.swap_verdict(i)
        assert landed == (int(np.argmax(expected.probs)) == 2) and text.startswith(str(int(np.argmax(expected.probs))))
    with pytest.raises(ValueError, match="no point"):
        model.choose_swap(n, 0)
    with pytest.raises(ValueError, match="no target"):
        model.choose_swap(0, 3)

    # clicking near a point of any cell's map finds that point; far away finds none
    xy = model.cells[3].model.map_points("style")[5]
    assert model.nearest_point(3, "style", xy + 1e-4, radius=0.01) == 5
    assert model.nearest_point(3, "style", xy + 1e6, radius=0.01) == -1

    from core.projection import compute_maps

    lat = model.cells[1].run.latents
    maps = compute_maps(lat.z_c, lat.z_style, seed=0)
    model.set_maps(1, maps)
    assert model.cells[1].has_final_maps and model.cells_without_maps() == [0, 2, 3]
    assert model.swap_result(1).positions["zc"] is not None
    assert not list(study.rglob("maps.npz")) and not cache.exists()  # nothing written anywhere by the model


def test_model_shows_broken_cells_as_such(broken, cache):
    model = StudyModel()
    model.open(StudyFolder.open(broken))
    problems = {c.cell.name: c.problem for c in model.cells}
    assert problems["beta1_z6_sup1"] == "beta1_z6_sup1: not trained (no folder)"
    assert problems["beta0.5_z8_sup1"].startswith("beta0.5_z8_sup1: ") and "\n" not in problems["beta0.5_z8_sup1"]
    assert problems["beta0.5_z6_sup1"] is None and problems["beta1_z8_sup1"] is None
    assert model.swap_result(1) is None and model.swap_result(0) is not None
    assert model.folder.report is None and model.cells[0].cell.measures() == []
    assert model.folder.report_problem == "no report.json yet (the study has not finished)"
    with pytest.raises(StudyError, match="not a study folder"):
        StudyFolder.open(broken / "cells")


def test_binary_study_compares_attribute_flips(tmp_path, cache):
    (tmp_path / "shapes").mkdir()
    shapes = make_shapes_folder(tmp_path / "shapes")
    out = tmp_path / "study"
    run_study(out, tiny_study(shapes, betas=(1.0,), latent_dims=(8,), zc_dim=0, measure_images=8, gen_per_label=4))
    model = StudyModel()
    model.open(StudyFolder.open(out))
    assert model.folder.label_kind == "binary" and not model.is_multiclass
    assert model.target_names() == ["square", "bright", "left"] and model.group_names() == ["not square", "square"]
    model.set_swap_target(1)
    assert model.swap_text() == "#0: flip bright"
    result = model.swap_result(0)
    assert result.description in ("add bright", "remove bright")
    text, landed = model.swap_verdict(0)
    after = result.probs[1] > 0.5
    assert text == f"bright {'on' if after else 'off'} ({result.probs[1]:.2f})"
    assert landed == (after != (model.cells[0].run.latents.probs[0, 1] > 0.5))
    assert model.group_names() == ["not bright", "bright"]  # the maps show the attribute being flipped


# ---------------------------------------------------------------------------------------------------- the window
def open_study_window(qtbot, folder, size: tuple[int, int]):
    """A StudyWindow of ``size`` showing the study in ``folder``, once every cell's maps are drawn."""
    from explorer.study_window import StudyWindow

    win = StudyWindow()
    qtbot.addWidget(win)
    win.resize(*size)
    win.open_folder(StudyFolder.open(folder))
    win.show()
    with qtbot.waitSignal(win.ready, timeout=60000):
        pass
    return win


def test_window_grid_click_swap_and_open_a_cell(study, cache, qtbot):
    from explorer.study_maps import StudyMapWorker

    before = files_of(study)
    win = open_study_window(qtbot, study, (1280, 720))
    model = win.model
    assert model.ready and all(c.has_final_maps for c in model.cells)
    assert len(list((cache / "maps").glob("*.npz"))) == 4  # the maps went to the user's cache...
    assert files_of(study) == before                     # ...and nothing in the study changed
    assert not any(w.isRunning() for w in StudyMapWorker.live)

    # the grid: columns by beta, rows by latent size, each cell's maps and its report measures
    for view in win.cell_views:
        cell = model.cells[view.index].cell
        r, c = model.folder.grid_position(cell)
        assert win.grid.itemAtPosition(r + 1, c + 1).widget() is view
        assert all(title.text().endswith("\u00b7 UMAP") for title in view.map_titles.values())
        for short, value, _ in cell.measures():
            assert short in view.measures.text() and f"<b>{value}</b>" in view.measures.text()
    assert win.grid.itemAtPosition(0, 2).widget().text() == "\u03b2 = 1"
    assert win.grid.itemAtPosition(2, 0).widget().text() == "latent 8"

    # a click on a point of one cell's z_c map selects it in every cell (the ring moves in all)
    target_map = win.cell_views[2].maps["zc"]
    i = model.point_count - 1
    qtbot.waitExposed(win)
    scene_pos = target_map.view.mapViewToScene(pg_point(target_map.points()[i]))
    from PyQt6.QtCore import Qt

    qtbot.mouseClick(target_map.viewport(), Qt.MouseButton.LeftButton, pos=target_map.mapFromScene(scene_pos))
    assert model.selected == i == model.swap_source
    for view in win.cell_views:
        for name, cell_map in view.maps.items():
            np.testing.assert_allclose(cell_map.ring.data["x"], [cell_map.points()[i][0]], rtol=1e-5)

    # choosing another target swaps in every cell; the strip shows each cell's picture and verdict
    win.target.setCurrentIndex((model.swap_target + 1) % 3)
    for k, tile in enumerate(win.strip.tiles):
        np.testing.assert_array_equal(tile.image.array, model.swap_result(k).image)
        text, landed = model.swap_verdict(k)
        assert tile.verdict.text().startswith(text) and tile.verdict.text().endswith("\u2713" if landed else "\u2717")
    np.testing.assert_array_equal(win.strip.source.image.array, model.point_image(i))

    # double-click: the cell in the full explorer, the selected point as A, its maps as computed here
    cell_window = win.open_cell(3)
    qtbot.addWidget(cell_window)
    assert cell_window.model.run.run_dir == model.cells[3].cell.run_dir and cell_window.model.a == i
    np.testing.assert_array_equal(cell_window.model.intervention.image, model.swap_result(3).image)  # same swap
    assert cell_window.is_ready and cell_window.worker is None
    assert cell_window.model.run.maps_path == maps_cache_path(model.cells[3].maps.key)
    win.close()
    assert files_of(study) == before


def pg_point(xy):
    from PyQt6.QtCore import QPointF

    return QPointF(float(xy[0]), float(xy[1]))


def test_file_open_on_a_study_opens_its_comparison(study, cache, qtbot):
    from explorer.main_window import MainWindow

    main = MainWindow()
    qtbot.addWidget(main)
    assert main.open_run(study) and main.model.run is None  # the explorer's own run is untouched
    (win,) = main.study_windows
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.ready, timeout=60000):
        pass
    assert win.model.folder.path == study and all(c.ok for c in win.model.cells)
    win.close()


def test_window_shows_a_broken_cell(broken, cache, qtbot):

    win = open_study_window(qtbot, broken, (1280, 720))
    view = win.cell_views[1]  # beta1_z6_sup1
    assert view.status.isVisible() and "not trained" in view.status.text() and not view.maps
    assert win.open_cell(1) is None and "cannot open" in win.statusBar().currentMessage()
    assert win.strip.tiles[1].verdict.text() == "\u2014"
    assert "no report.json yet" in win.cell_views[0].measures.text() and win.cell_views[0].maps
    qtbot.wait(50)  # the reasons wrap inside their cells: the grid still fits the window, nothing scrolls
    assert win.grid_area.verticalScrollBar().maximum() == 0 and win.grid_area.horizontalScrollBar().maximum() == 0
    win.close()


def test_a_long_map_title_never_widens_the_grid(study, cache, qtbot):
    """While UMAP is fitted the titles are longer ("PCA for now"); on a real 1280x720 screen the old, longer text
    pushed the ten-cell grid past the window into a horizontal scroll. A title gives way, whatever its length."""

    win = open_study_window(qtbot, study, (560, 700))
    qtbot.wait(50)
    assert win.grid_area.horizontalScrollBar().maximum() == 0
    for view in win.cell_views:
        for title in view.map_titles.values():
            title.setText("z_c \u00b7 a provisional map's long title, much wider than its map")
    qtbot.wait(50)
    assert win.grid_area.horizontalScrollBar().maximum() == 0
    win.close()


def test_the_status_help_stays_whole_beside_the_map_progress(study, cache, qtbot):
    """At 1280 px, while the maps of ten cells are fitted, the help in the status bar used to be cut mid-word by
    the progress text beside it. It fits, with the longest progress text a fit shows."""
    from explorer.study_window import HELP

    win = open_study_window(qtbot, study, (1280, 680))
    win.progress_label.setText("maps 1/10 \u00b7 \u03b2 0.05 \u00b7 z 128: z_s: optimising, epoch 460/500")
    win.progress.show()
    qtbot.wait(50)
    bar = win.statusBar()
    taken = sum(w.width() + bar.layout().spacing() for w in (win.progress_label, win.progress))
    assert bar.fontMetrics().horizontalAdvance(HELP) + 24 <= bar.width() - taken  # 24: the bar's own margins
    win.close()


# ---------------------------------------------------------------------------------------------------- headless
def explorer_command(*args, cache_dir):
    env = dict(os.environ, PYTHONPATH=str(ROOT), CCVAE_CACHE_DIR=str(cache_dir))
    env.pop("QT_QPA_PLATFORM", None)  # --screenshot renders offscreen by itself
    return subprocess.run([sys.executable, "-m", "explorer", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_headless_screenshot_of_a_study(study, tmp_path):
    from PIL import Image

    before = files_of(study)
    png = tmp_path / "compare.png"
    done = explorer_command(study, "--screenshot", png, "--size", "1280x720", "--find", "#3", cache_dir=tmp_path / "c")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {png}"
    with Image.open(png) as image:
        assert image.size == (1280, 720)
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # maps, images and text were drawn
    assert files_of(study) == before and len(list((tmp_path / "c" / "maps").glob("*.npz"))) == 4


def test_headless_bad_input_is_one_line(study, broken, tmp_path, cache, capsys, qapp):
    from explorer.app import main

    png = tmp_path / "x.png"
    for folder, options, message in (
            (broken, [], f"error: study {broken}: beta1_z6_sup1: not trained (no folder) (and 1 more)"),
            (study / "cells", [], f"error: {study / 'cells'}: neither a run folder (no config.json) nor a study "
                                  f"folder (no study.json) written by train_cli.py"),
            (study, ["--find", "#999"], "error: --find '#999': a study selects a point by its index, #0 to #"),
            (study, ["--colour-by", "label"], "error: --colour-by apply to a run, not a study")):
        assert main([str(folder), "--screenshot", str(png), *options]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(message) and "\n" not in err and not png.exists()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "study.json").write_text("{not json")
    assert main([str(tmp_path / "bad"), "--screenshot", str(png)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {tmp_path / 'bad' / 'study.json'}: unreadable study settings") and "\n" not in err
