"""The explorer on a partly labelled folder run: the "unlabelled" legend group, colouring unlabelled points by
prediction, and a run whose data folder was moved away (thumbnails, one status line, File > Locate data folder)."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.test_own_data import partly_labelled_csv

from explorer.main_window import MainWindow
from explorer.rundata import RunData

SHOTS = Path(os.environ["CCVAE_TEST_SHOTS"]) if os.environ.get("CCVAE_TEST_SHOTS") else None  # to look at them


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A 64x64 RGB run on 40 images, 1 in 4 labelled, images kept as 32x32 thumbnails (as for a large run)."""
    import core.latents
    from core.config import RunConfig, TrainConfig
    from core.data import DataConfig
    from core.run import train_run

    root = tmp_path_factory.mktemp("folder_run")
    data = root / "data"
    partly_labelled_csv(data, n=40, labelled_every=4)
    cfg = RunConfig(train=TrainConfig(epochs=1, batch_size=16, map_points=40, make_maps=True, make_figures=False,
                                      threads=1),
                    data=DataConfig(dataset="folder", data_dir=str(data), image_size=64).to_json())
    cfg.objective.num_qyx_samples = 4
    saved = core.latents._MAX_STORED_IMAGE_BYTES, core.latents._THUMBNAIL_BUDGET_BYTES
    core.latents._MAX_STORED_IMAGE_BYTES, core.latents._THUMBNAIL_BUDGET_BYTES = 0, 40 * 3 * 32 * 32
    try:
        train_run(root / "run", cfg, progress=False)
    finally:
        core.latents._MAX_STORED_IMAGE_BYTES, core.latents._THUMBNAIL_BUDGET_BYTES = saved
    return root


@pytest.fixture(scope="module")
def window(folder_run, qapp):
    """One window for the module: opening and deleting several pyqtgraph windows in a row is what the other
    explorer tests do already; these tests open their runs in the same window instead."""
    win = MainWindow()
    win.resize(1400, 900)
    win.show()
    yield win
    win.close()
    win.deleteLater()
    qapp.processEvents()


def show(window, qtbot, run_dir):
    window.show_run(RunData.open(run_dir))
    qtbot.waitExposed(window)
    assert window.is_ready
    return window


def test_unlabelled_points_have_their_own_legend_group_or_the_prediction(qtbot, window, folder_run):
    win = show(window, qtbot, folder_run / "run")
    m = win.model
    unl = np.flatnonzero(~m.labelled)
    assert len(unl) == 30 and m.has_unlabelled and win.unlabelled_by_prediction.isVisibleTo(win)
    assert m.group_names() == ["cross", "ring", "triangle", "unlabelled"]
    view = win.maps["zc"]
    assert [view.legend.items[k][1].text for k in range(len(view.legend.items))] == m.group_names()
    groups = m.colour_groups()
    assert set(groups[unl]) == {3} and set(groups[m.labelled]) <= {0, 1, 2}
    grey = view._group_brushes()[3].color().name()
    assert grey == "#c4c4c4" and view._point_brushes()[unl[0]].color().name() == grey
    assert m.point_label_text(int(unl[0])) == "unlabelled"

    win.unlabelled_by_prediction.setChecked(True)
    assert m.group_names() == ["cross", "ring", "triangle"]
    assert np.array_equal(m.colour_groups()[unl], m.run.latents.probs[unl].argmax(1))
    if SHOTS:
        win.grab().save(str(SHOTS / "unlabelled_by_prediction.png"))
    win.unlabelled_by_prediction.setChecked(False)
    if SHOTS:
        win.grab().save(str(SHOTS / "unlabelled_legend.png"))


def test_a_moved_data_folder_shows_thumbnails_says_so_once_and_can_be_located(qtbot, window, folder_run, capfd):
    moved_run = folder_run / "run_copy"
    shutil.copytree(folder_run / "run", moved_run)
    (folder_run / "data").rename(folder_run / "elsewhere")
    messages = []
    window.qt_model.message.connect(messages.append)
    try:
        win = show(window, qtbot, moved_run)
        m = win.model
        for i in range(10):  # hover and select several points
            m.set_hover(i)
            m.select_a(i)
        assert win.image_panel.point_image.array.shape == (32, 32, 3)
        told = [t for t in messages if "Locate data folder" in t]
        assert len(told) == 1 and "does not exist" in told[0], messages
        assert win.data_label.text() == "thumbnails only: data folder not found"
        if SHOTS:
            win.grab().save(str(SHOTS / "data_missing.png"))
        assert "Traceback" not in capfd.readouterr().err

        assert not m.locate_data(folder_run / "run")  # not the data: refused in one line
        assert "not this run's data" in messages[-1]
        assert m.locate_data(folder_run / "elsewhere")
        assert win.data_label.text() == ""
        assert win.image_panel.point_image.array.shape == (64, 64, 3)
        assert m.point_image(0).shape == (64, 64, 3)
        assert "Traceback" not in capfd.readouterr().err
    finally:
        window.qt_model.message.disconnect(messages.append)
        (folder_run / "elsewhere").rename(folder_run / "data")


@pytest.fixture(scope="module")
def many_attributes_run(tmp_path_factory):
    """A run on 40 grey images with 18 binary attributes, as many as the CCVAE's CelebA setting."""
    from core.config import ModelConfig, RunConfig, TrainConfig
    from core.data import DataConfig
    from core.run import train_run
    from tests.test_own_data import SHAPES, save, shape_image

    root = tmp_path_factory.mktemp("attributes18")
    names = [f"attribute_with_a_long_name_{k}" for k in range(18)]
    rows = ["file," + ",".join(names)]
    for i in range(40):
        save(shape_image(SHAPES[i % 3], i, size=(30, 30), mode="L"), root / "data" / f"a{i}.png")
        rows.append(f"a{i}.png," + ",".join(str((i >> (k % 5)) & 1) for k in range(18)))
    (root / "data" / "labels.csv").write_text("\n".join(rows) + "\n")
    cfg = RunConfig(model=ModelConfig(latent_dim=24),
                    train=TrainConfig(epochs=1, batch_size=16, map_points=40, make_maps=True, make_figures=False,
                                      threads=1),
                    data=DataConfig(dataset="folder", data_dir=str(root / "data"), image_size=28).to_json())
    cfg.objective.num_qyx_samples = 4
    train_run(root / "run", cfg, progress=False)
    return root / "run"


def test_eighteen_attributes_keep_the_swap_tab_within_its_room(many_attributes_run, qtbot):
    """At 1280x680 (a 1280x720 screen) the classifier's 18 bars made the swap tab taller than its room: the tab
    scrolled, the pictures (centred in that height) slid out of sight, and A's caption, listing its attributes,
    took many lines. Now the bars scroll on their own, captions are one line (the whole text in the tooltip)."""
    from PyQt6.QtCore import QPoint, QRect

    win = MainWindow(remember_layout=False)
    qtbot.addWidget(win)
    win.resize(1280, 680)
    win.show_run(RunData.open(many_attributes_run))
    win.show()
    qtbot.waitExposed(win)
    win.model.select_a(int(np.flatnonzero(win.model.run.latents.labels.sum(1) >= 6)[0]))
    win.tabs.setCurrentIndex(0)
    qtbot.wait(50)
    area, panel = win.tabs.widget(0), win.swap_panel
    assert area.verticalScrollBar().maximum() == 0  # the tab's content fits its room
    picture = QRect(panel.original.mapTo(area.viewport(), QPoint(0, 0)), panel.original.size())
    assert area.viewport().rect().contains(picture), (picture, area.viewport().rect())
    caption = panel.original_box.caption
    assert caption.text().startswith(f"A #{win.model.a} (label attribute_with_a_long_name_")
    assert caption.height() < 2 * caption.fontMetrics().height() and caption.toolTip() == caption.text()
    win.tabs.setCurrentIndex(3)  # the neighbours: their captions list 18 attributes, and widened the strip
    qtbot.wait(50)
    assert win.tabs.widget(3).horizontalScrollBar().maximum() == 0
    assert win.neighbours_panel.captions["zc"][0].text().startswith("#")
    win.close()


@pytest.fixture(scope="module")
def many_classes_run(tmp_path_factory):
    """A grey 28x28 run on 60 classes (a folder of species, say), three images each, with its maps."""
    from PIL import Image

    from core.config import RunConfig, TrainConfig
    from core.data import DataConfig
    from core.run import train_run

    root = tmp_path_factory.mktemp("many_classes")
    rng = np.random.default_rng(0)
    for c in range(60):
        (root / "data" / f"species_{c:02d}").mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 40, (28, 28)).astype(np.uint8)
            pixels[c % 28, :] = 255
            Image.fromarray(pixels).save(root / "data" / f"species_{c:02d}" / f"{i}.png")
    cfg = RunConfig(train=TrainConfig(epochs=1, batch_size=32, map_points=180, make_maps=True, make_figures=False,
                                      threads=1),
                    data=DataConfig(dataset="folder", data_dir=str(root / "data")).to_json())
    cfg.model.latent_dim, cfg.model.zc_dim = 64, 0  # z_c: one dimension per class, settled from the data
    cfg.objective.num_qyx_samples = 4
    train_run(root / "run", cfg, progress=False)
    return root / "run"


def test_a_legend_of_60_classes_lists_what_fits_and_how_many_more(qtbot, window, many_classes_run):
    """With 60 classes pyqtgraph's legend grew by its (negative) row spacing on every entry added, to 2,400 px over
    the whole map. It now takes at most LEGEND_MAX_SHARE of the map's height: the classes that fit, then
    "+ N more"; as wide as the map at most, clear of the points, and a selection's counts keep its rows."""
    from explorer.map_view import LEGEND_MAX_SHARE

    from tests.test_explorer_select_views import _legend_clear_of_points

    window.resize(1280, 720)
    win = show(window, qtbot, many_classes_run)
    qtbot.wait(100)
    m = win.model
    assert len(m.group_names()) == 60
    for view in win.maps.values():
        legend = view.legend
        texts = [label.text for _, label in legend.items]
        kept = len(texts) - 1
        assert 4 <= kept < 60 and texts[-1] == f"+ {60 - kept} more" and texts[:kept] == m.group_names()[:kept]
        assert legend.boundingRect().height() <= LEGEND_MAX_SHARE * view.view.height() + 2
        assert legend.boundingRect().width() <= view.view.width()
        assert _legend_clear_of_points(view) > 0
        rows = view.legend_rows()
        m.set_selected(np.arange(10))
        qtbot.wait(50)
        assert view.legend_rows() == rows and ":" in legend.items[0][1].text and legend.items[-1][1].text == texts[-1]
        m.clear_selection()
    win.tabs.setCurrentIndex(2)  # the latent walks: one row per z_c dimension, each still a readable height
    qtbot.waitUntil(lambda: m.walk is not None and m.walk_is_current, timeout=5000)
    qtbot.wait(50)
    rows = len(m.walk.rows)
    assert rows == 60 and win.walk_panel.view.height() >= rows * 20  # the tab scrolls instead
    win.tabs.setCurrentIndex(0)
    window.resize(1400, 900)
    qtbot.wait(100)
