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
