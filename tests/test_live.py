"""Watching a run train (explorer/live.py, live_job.py, live_worker.py).

Without Qt: the watcher's choices, the status line, and a ``LiveSession`` following a real tiny run from one
epoch to the next (training resumed in-process between them), its jobs run in this process. With Qt, offscreen:
a real MainWindow watching a real ``train_cli.py`` subprocess from before its first epoch to its end.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core import checkpoint as ckpt
from core.config import RunConfig, TrainConfig
from explorer.live import (Folder, LiveSession, Stamp, TrainingStatus, Watcher, epoch_facts, is_training_folder,
                           look, metrics_accuracy, stamp)
from explorer.live_job import build_engine, encode_epoch, fit_maps
from explorer.model import ExplorerModel, Using

ROOT = Path(__file__).resolve().parent.parent
MAP_POINTS = 300


def _s(n: int) -> Stamp:
    return Stamp(mtime_ns=n, size=100, inode=n)


def _folder(stamp: Stamp | None) -> Folder:
    return Folder(is_run=True, model=stamp, has_latents=False, finished=False)


# ---------------------------------------------------------------------------------------------- no Qt, no torch
def test_watcher_runs_one_job_at_a_time_for_the_newest_model():
    w = Watcher()
    assert w.poll(_folder(None)) is None                  # no model.pt yet: nothing to do
    assert w.poll(_folder(_s(1))) == _s(1)
    assert w.poll(_folder(_s(2))) is None                 # a job runs: epoch 2 waits
    assert w.poll(_folder(_s(3))) is None
    w.done(_s(1))
    assert w.poll(_folder(_s(3))) == _s(3)                # the newest: epoch 2 is skipped, never queued
    w.done(_s(3))
    assert w.poll(_folder(_s(3))) is None                 # shown already
    assert w.poll(_folder(_s(4))) == _s(4)
    w.failed(_s(4))
    assert w.poll(_folder(_s(4))) is None                 # a model.pt that could not be used is not tried again
    assert w.poll(_folder(_s(5))) == _s(5)                # the next epoch is
    w.done(_s(5), read=_s(6))                             # the job found epoch 6 already saved, and showed it
    assert w.poll(_folder(_s(6))) is None


def test_watcher_of_a_finished_run_waits_for_a_later_model():
    w = Watcher(shown=_s(7))
    assert w.poll(_folder(_s(7))) is None
    assert w.poll(_folder(_s(8))) == _s(8)


def test_status_line():
    waiting = TrainingStatus(epochs=5)
    assert waiting.text() == "training: waiting for the first epoch (no model.pt yet)"
    status = waiting.but(epoch=2, val_accuracy=0.8125, working="fitting the maps of epoch 3")
    assert status.text() == "training: epoch 2 / 5 \u00b7 val accuracy 0.812 \u00b7 fitting the maps of epoch 3"
    done = status.but(epoch=5, val_accuracy=0.9, working="", finished=True)
    assert done.text() == "trained: epoch 5 / 5 \u00b7 val accuracy 0.900 (finished)"
    assert status.but(problem="boom").text().endswith("error: boom")


def test_metrics_line_being_appended_is_skipped(tmp_path):
    lines = [json.dumps({"epoch": 1, "val_accuracy": 0.5}), json.dumps({"epoch": 2, "val_accuracy": 0.75})]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + '\n{"epoch": 3, "val_acc')
    assert metrics_accuracy(tmp_path, None) == (2, 0.75)
    assert metrics_accuracy(tmp_path, 1) == (1, 0.5)
    assert metrics_accuracy(tmp_path, 3) == (3, None)
    assert epoch_facts(tmp_path, {}) == (2, 0.75)  # a model.pt that names no epoch: the last complete line


def test_a_folder_before_its_first_epoch(tmp_path):
    assert not look(tmp_path).is_run and not is_training_folder(tmp_path)
    ckpt.save_config(tmp_path, RunConfig())  # what train_cli.py writes before the first epoch starts
    folder = look(tmp_path)
    assert folder.in_training and folder.model is None and not folder.finished
    (tmp_path / "config.json").write_text("{not json")
    assert not is_training_folder(tmp_path)  # a broken config.json is refused as before, not watched
    ckpt.save_config(tmp_path, RunConfig())
    assert is_training_folder(tmp_path)
    model = ExplorerModel()
    jobs = []
    session = LiveSession(tmp_path, model, lambda job, init: jobs.append(job))
    session.tick()
    assert jobs == [] and model.run is None
    assert model.training.text().startswith("training: waiting for the first epoch")


def test_maps_started_from_a_layout():
    """core.projection's init: deterministic for the same latents, seed and init; such maps carry no cache key."""
    from core.projection import compute_maps, fit_map, maps_cache_key

    rng = np.random.default_rng(0)
    z_c, z_s = rng.normal(size=(120, 4)).astype(np.float32), rng.normal(size=(120, 3)).astype(np.float32)
    fresh = compute_maps(z_c, z_s, seed=1)
    assert fresh.key == maps_cache_key(z_c, z_s, 1)
    moved = z_c + 0.05 * rng.normal(size=z_c.shape).astype(np.float32)
    warm = compute_maps(moved, z_s, seed=1, init=fresh, epochs=30)
    again = compute_maps(moved, z_s, seed=1, init=fresh, epochs=30)
    assert warm.key == "" and not warm.provisional
    np.testing.assert_array_equal(warm.zc, again.zc)
    assert _moved(warm.zc, fresh.zc) < _moved(compute_maps(moved, z_s, seed=2).zc, fresh.zc)
    with pytest.raises(ValueError, match="init must be"):
        fit_map(z_c, init=np.zeros((3, 2)))


# ---------------------------------------------------------------------------------------------- a real run
def _config(epochs: int) -> RunConfig:
    return RunConfig(train=TrainConfig(epochs=epochs, map_points=MAP_POINTS, make_maps=False, make_figures=False,
                                       eval_limit=200, limit_train=300, threads=1, device="cpu"),
                     data={"dataset": "mnist5k", "sup_frac": 0.5})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from core.run import train_run

    run = tmp_path_factory.mktemp("live") / "run"
    train_run(run, _config(2), progress=False)
    return run


def _job(session, jobs):
    """Run the job the session asked for, here, as the worker's child would: encode, then fit the maps."""
    job, init = jobs.pop()
    points = encode_epoch(session.run_dir, {})
    points.engine = build_engine(points, session.run_dir)
    session.encoded(job, points)
    return job, init, points


def test_model_pt_names_its_epoch_and_accuracy(trained):
    _, _, info = ckpt.load_run_epoch(trained)
    last = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()][-1]
    assert info["epoch"] == 2 == last["epoch"]
    assert info["metrics"]["val_accuracy"] == pytest.approx(last["val_accuracy"])
    assert epoch_facts(trained, info) == (2, pytest.approx(last["val_accuracy"]))


def _spread(points: np.ndarray) -> np.ndarray:
    lo = points.min(axis=0)
    return (points - lo) / (points.max(axis=0) - lo)


def _moved(a: np.ndarray, b: np.ndarray) -> float:
    """Median distance a point moved between two maps, each scaled to the unit square."""
    return float(np.median(np.linalg.norm(_spread(a) - _spread(b), axis=1)))


def test_session_follows_a_run_from_epoch_to_epoch(trained, tmp_path):
    from core.latents import load_latents
    from core.run import train_run

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    for name in ("latents.npz", "summary.json"):  # as the folder is while training: no points written yet
        (run / name).unlink()
    assert is_training_folder(run)
    model, jobs = ExplorerModel(), []
    events = []
    model.events.training.connect(lambda: events.append(model.training))
    session = LiveSession(run, model, lambda job, init: jobs.append((job, init)))
    session.tick()
    assert len(jobs) == 1 and jobs[0][1] is None  # the first map starts from UMAP's own layout
    job, init, points = _job(session, jobs)
    # the first epoch is shown at once on a PCA map, then its UMAP maps replace it point for point
    assert model.run is not None and model.maps.provisional and len(model.run.latents) == MAP_POINTS
    session.mapped(job, fit_maps(points, init))
    assert not model.maps.provisional
    assert model.training.epoch == 2 and model.training.epochs == 2 and model.training.val_accuracy is not None
    session.tick()
    assert jobs == []  # nothing new

    # what the user chose on epoch 2's maps
    model.select_a(5)
    model.select_b(7)
    model.set_selected([1, 2, 3])
    model.add_image_arrays(points.latents.images[:1].astype(np.float32) / 255, ["mine.png"])
    model.swap(3, Using.PRIOR)
    old_maps = {name: model.map_points(name)[:MAP_POINTS].copy() for name in ("zc", "style")}
    old_zc = model.run.latents.z_c[:MAP_POINTS].copy()

    train_run(run, _config(3), resume=True, progress=False)  # epoch 3 lands (and the finish phase)
    session.tick()
    assert len(jobs) == 1
    job, init, points = _job(session, jobs)
    np.testing.assert_array_equal(init.zc, old_maps["zc"])  # the next maps start from the maps shown
    assert model.training.epoch == 2 and "fitting the maps of epoch 3" in model.training.working
    np.testing.assert_array_equal(model.run.latents.z_c[:MAP_POINTS], old_zc)  # points move once, with maps
    maps = fit_maps(points, init)
    session.mapped(job, maps)
    assert model.training.epoch == 3 and model.training.finished
    assert "epoch 3 / 3" in model.training.text()
    # the same points the finished run shows, encoded by epoch 3's model
    final = load_latents(run)
    np.testing.assert_array_equal(model.run.latents.index[:MAP_POINTS], final.index)
    np.testing.assert_array_equal(model.run.latents.split[:MAP_POINTS], final.split)
    np.testing.assert_allclose(model.run.latents.z_c[:MAP_POINTS], final.z_c, atol=1e-4)
    assert not np.allclose(model.run.latents.z_c[:MAP_POINTS], old_zc)
    # A, B, the selection and the added image stay; the old model's swap goes
    assert (model.a, model.b) == (5, 7) and list(model.selected) == [1, 2, 3]
    assert [a.name for a in model.added] == ["mine.png"] and model.added[0].index == MAP_POINTS
    assert len(model.run.latents) == MAP_POINTS + 1 and len(model.maps.zc) == MAP_POINTS + 1
    assert model.intervention is None
    np.testing.assert_allclose(model.current.z_c, model.run.latents.z_c[5])
    # points moved rather than jumped: less than on a map fitted afresh
    fresh = fit_maps(points, None)
    for name, fresh_points in (("zc", fresh.zc), ("style", fresh.style)):
        new_points = model.map_points(name)[:MAP_POINTS]
        assert not np.allclose(new_points, old_maps[name])
    assert _moved(maps.zc, old_maps["zc"]) + _moved(maps.style, old_maps["style"]) < \
        _moved(fresh.zc, old_maps["zc"]) + _moved(fresh.style, old_maps["style"])

    # a map fit that fails: the epoch's points are shown on their PCA map
    stat = os.stat(run / "model.pt")
    os.utime(run / "model.pt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # "a new model.pt"
    session.tick()
    job, init, points = _job(session, jobs)
    session.failed(job, "the map fit ran out of memory")
    assert model.maps.provisional and model.training.epoch == 3
    assert "showing a PCA map" in model.training.problem
    # a model.pt that cannot be read: said once, and the watcher waits for the next one
    (run / "model.pt").write_bytes(b"not a checkpoint")
    session.tick()
    job, _ = jobs.pop()
    from core.errors import CCVAEError

    with pytest.raises(CCVAEError) as err:
        encode_epoch(run, {})
    session.failed(job, str(err.value))
    assert "not a PyTorch file" in model.training.text()
    session.tick()
    assert jobs == []


# ---------------------------------------------------------------------------------------------- the window
EPOCHS = 3


def _files(run: Path) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in run.iterdir()}


def test_window_watches_train_cli_train_a_run(qtbot, tmp_path):
    from explorer.live_worker import LiveWorker
    from explorer.main_window import MainWindow

    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "train_cli.py"), "--dataset", "mnist5k", "--out", str(run),
               "--epochs", str(EPOCHS), "--threads", "1", "--limit-train", "600", "--sup-frac", "0.5",
               "--map-points", "400", "--no-figures", "--no-maps", "--quiet"]
    train = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    win = None
    try:
        deadline = time.monotonic() + 60
        while not (run / "config.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (run / "config.json").exists(), "train_cli.py wrote no config.json in 60 s"
        win = MainWindow()
        qtbot.addWidget(win)
        win.resize(1280, 800)
        win.show()
        before_first = look(run).model is None
        win.watch(run)
        if before_first:
            assert win.training_label.text().startswith("training: waiting for the first epoch")
            assert win.maps["zc"].message.isVisible() and win.model.run is None
            assert not win.tabs.isEnabled()  # nothing to swap before there is a model
        shown = []  # (epoch, z_c map drawn) each time UMAP maps were drawn
        zoom = []   # the style map's range, set by hand after the first epoch

        def on_maps() -> None:
            if not win.model.maps.provisional:
                view = win.maps["zc"]
                shown.append((win.model.training.epoch, np.c_[view.scatter.data["x"], view.scatter.data["y"]]))
                if zoom:  # a later epoch keeps the view the user chose
                    np.testing.assert_allclose(win.maps["style"].view.viewRange(), zoom[0])

        win.qt_model.mapsReady.connect(on_maps)
        # Each new model.pt pauses the trainer (SIGSTOP) until the window shows it: on a loaded machine the
        # explorer's background job (niced) may be slower than these tiny epochs, and every epoch should be seen.
        newest, paused = None, False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            qtbot.wait(50)
            if shown and not zoom:  # the user zooms in on the style map after the first epoch
                style = win.maps["style"]
                style.view.setRange(xRange=(1, 2), yRange=(1, 2), padding=0)
                style._on_user_range()  # what a wheel or drag on it reports
                qtbot.wait(100)
                zoom.append(style.view.viewRange())
            now = stamp(run / "model.pt")
            if now != newest and train.poll() is None:
                newest = now
                train.send_signal(signal.SIGSTOP)
                paused = True
            if paused and win.live.watcher.shown == newest and not win.model.training.working:
                train.send_signal(signal.SIGCONT)
                paused = False
            status = win.model.training
            if train.poll() is not None and status.epoch == EPOCHS and not status.working and status.finished:
                break
        out, err = train.communicate(timeout=30)
        assert train.returncode == 0, err
        status = win.model.training
        assert status.epoch == EPOCHS and status.finished, status
        epochs = [epoch for epoch, _ in shown]
        assert epochs == list(range(1, EPOCHS + 1)), epochs  # the maps followed every epoch
        for (_, before), (_, after) in zip(shown, shown[1:]):
            assert not np.allclose(before, after)  # and the points moved
        text = win.training_label.text()
        assert f"epoch {EPOCHS} / {EPOCHS}" in text and "val accuracy" in text and win.training_label.isVisible()
        assert len(win.model.run.latents) == 400 and win.is_ready and win.tabs.isEnabled()
        # what the wait cleared came back with the first epoch: the classes in the legends, bars and swap targets
        assert all(view.legend.isVisible() for view in win.maps.values())
        assert win.swap_panel.target.count() == 10 and len(win.image_panel.decoded_probs.names) == 10
        np.testing.assert_allclose(win.maps["style"].view.viewRange(), zoom[0])
        # the explorer wrote nothing into the folder: exactly what train_cli.py --no-maps writes (no maps.npz, no
        # temporary files), and nothing changes while the window keeps watching the finished run
        before = _files(run)
        assert set(before) == {"config.json", "model.pt", "checkpoint.pt", "metrics.jsonl", "latents.npz",
                               "summary.json"}, sorted(before)
        qtbot.wait(1600)  # three polls
        assert _files(run) == before
    finally:
        if train.poll() is None:
            train.send_signal(signal.SIGCONT)
            train.kill()
            train.wait()
        if win is not None:
            win.close()
    assert not any(w.isRunning() for w in list(LiveWorker.live))


def test_watching_a_new_run_leaves_nothing_of_the_run_shown(qtbot, tmp_path):
    """File > Open of a run in training while another run is shown: until its first epoch no panel goes on
    describing the old run's A, B, swap, path or neighbours (the panels are disabled, but a person still reads
    them)."""
    from core.inference import DEFAULT_RUN
    from explorer.rundata import RunData
    from tests.explorer_windows import open_window

    win = open_window(qtbot, RunData.open(DEFAULT_RUN), (1280, 800))
    m = win.model
    m.select_a(3)
    m.select_b(7)
    m.swap(int(np.argmax(m.current.probs) + 1) % m.label_spec.size)
    m.ensure_interpolation()
    image, swap, animation = win.image_panel, win.swap_panel, win.animation_panel
    win.tabs.setCurrentWidget(win.neighbours_panel.parentWidget().parentWidget())
    win.neighbours_panel.refresh()
    assert image.a_caption.text().startswith("<b>A #3</b>") and image.b_caption.text().startswith("<b>B #7</b>")
    assert swap.result.array is not None and "Neighbours of A #3" in win.neighbours_panel.title.text()
    ckpt.save_config(tmp_path, RunConfig())  # what train_cli.py writes before its first epoch
    win.watch(tmp_path)
    qtbot.wait(50)
    assert m.run is None and m.a < 0 and m.b < 0 and m.current is None and m.intervention is None
    assert image.a_caption.text() == "<b>A</b>: none" and image.b_caption.text().startswith("<b>B</b>: none")
    assert image.a_image.array is None and image.b_image.array is None and image.decoded.array is None
    assert image.decoded_caption.text() == "" and image.point_image.array is None
    assert swap.original.array is None and swap.other.array is None and swap.result.array is None
    assert swap.original_box.caption.text() == "A: none" and "none yet" in swap.result_box.caption.text()
    assert animation.preview.array is None and animation.info.text().startswith("Click a point for A")
    assert win.neighbours_panel.title.text() == ""
    assert all(view.array is None for views in win.neighbours_panel.strips.values() for view in views)
    assert win.selection_label.text() == "no A \u00b7 no B"
    assert image.decoded_probs.names == [] and swap.probs.names == [] and swap.target.count() == 0
    assert not any(view.legend.isVisible() for view in win.maps.values())  # the old run's classes are gone
