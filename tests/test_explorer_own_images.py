"""Your own images: conversion to the model's shape (Qt-free), encoding as new points usable as A or B, the window's
menu/drop path, and the headless command end to end (including an unreadable file: one line, exit 2)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.model import ADDED_SPLIT, ExplorerModel
from explorer.own_images import ImageReadError, Polarity, data_background, read_image, to_model_image

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """Two test digits of the embedded run saved as users would have them: black on white, 5x bigger, not square,
    one RGB PNG and one JPEG. Returns (paths, point indices, labels)."""
    from explorer.rundata import RunData

    run = RunData.open()
    folder = tmp_path_factory.mktemp("own")
    labels = run.latents.labels
    points = [int(np.flatnonzero(labels == 3)[0]), int(np.flatnonzero(labels == 5)[0])]
    paths = []
    for k, i in enumerate(points):
        big = 255 - np.kron(run.images[i], np.ones((5, 5), np.uint8))
        big = np.pad(big, ((10, 10), (40, 40)), constant_values=255)
        path = folder / ("three.png" if k == 0 else "five.jpg")
        Image.fromarray(np.stack([big] * 3, axis=-1)).save(path, quality=95)
        paths.append(path)
    return paths, points, [int(labels[i]) for i in points]


def fresh_model():
    from explorer.rundata import RunData

    m = ExplorerModel()
    m.load(RunData.open())  # a run of its own: adding images changes its points
    return m


def test_conversion_keeps_aspect_detects_polarity_and_centres_the_digit():
    picture = np.ones((60, 120, 3), dtype=np.float32)  # a black bar on white, twice as wide as tall
    picture[25:35, 10:110] = 0.0
    image, inverted = to_model_image(picture, (1, 28, 28), background=0.0)
    assert inverted and image.shape == (1, 28, 28)
    ink = image[0] > 0.5
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    assert 18 <= cols[-1] - cols[0] + 1 <= 21  # fitted into the central 20 pixels
    assert rows[-1] - rows[0] + 1 <= 3  # the aspect kept: a thin bar stays thin
    assert abs((rows[0] + rows[-1]) / 2 - 13.5) <= 1 and image[0, 0, 0] < 0.05
    same, inverted = to_model_image(picture, (1, 28, 28), background=0.0, polarity=Polarity.KEEP)
    assert not inverted and same[0, 0, 0] > 0.95
    colour, inverted = to_model_image(picture, (3, 32, 32), background=0.8)
    assert colour.shape == (3, 32, 32) and not inverted


def test_unreadable_files_raise_one_line(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for path, words in ((text, "not a readable image"), (tmp_path / "missing.png", "no such file"),
                        (tmp_path, "a folder")):
        with pytest.raises(ImageReadError, match=words) as e:
            read_image(path)
        assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_added_images_are_points_with_the_classifiers_verdict_usable_as_a_and_b(digits):
    paths, points, labels = digits
    m = fresh_model()
    n = len(m.run.latents)
    seen = []
    m.events.points_added.connect(lambda: seen.append(1))
    assert data_background([m.run.images[i] for i in range(20)]) < 0.2
    added = m.add_images(paths)
    assert seen and [a.index for a in added] == [n, n + 1] and all(a.inverted for a in added)
    lat = m.run.latents
    assert len(lat) == n + 2 and len(m.map_points("zc")) == n + 2 and len(m.map_points("style")) == n + 2
    assert (lat.split[n:] == ADDED_SPLIT).all() and list(lat.index[n:]) == [0, 1]
    for a, i, label in zip(added, points, labels):
        assert int(lat.probs[a.index].argmax()) == label, a  # the classifier reads the user's digit right
        assert a.verdict.startswith(m.label_spec.names[label])
        # the converted picture is the original digit again, near enough
        own, back = m.run.images[i].astype(float), m.run.images[a.index].astype(float)
        assert np.corrcoef(own.ravel(), back.ravel())[0, 1] > 0.6
        # placed among the points of its class on the z_c map
        near = np.argsort(np.linalg.norm(m.map_points("zc")[:n] - m.map_points("zc")[a.index], axis=1))[:10]
        assert (lat.labels[near] == label).mean() >= 0.8
    assert m.point_label_text(n) == "unlabelled" and m.source_text(n + 1) == "your image five.jpg"
    assert m.group_names()[-1] == "unlabelled" and m.colour_groups()[n] == 10
    m.select_a(n)
    np.testing.assert_array_equal(m.current.z_c, lat.z_c[n])
    m.select_b(n + 1)
    m.ensure_interpolation()
    assert m.interpolation.steps == m.steps
    result = m.swap(8)
    assert result.description == "3 \u2192 8"
    assert n in m.neighbours(n + 1, k=len(lat) - 1)[0]


def test_a_bad_file_among_good_ones_changes_nothing(digits, tmp_path):
    m = fresh_model()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 broken")
    n, maps = len(m.run.latents), m.maps
    with pytest.raises(ImageReadError, match="bad.jpg"):
        m.add_images([digits[0][0], bad])
    assert len(m.run.latents) == n and m.maps is maps and not m.added


def test_the_window_adds_dropped_files_and_reports_bad_ones(qtbot, digits, tmp_path, monkeypatch):
    from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PyQt6.QtGui import QDropEvent

    from explorer.main_window import MainWindow
    from explorer.rundata import RunData

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1600, 1000)
    win.show_run(RunData.open())
    win.show()
    qtbot.waitExposed(win)
    n = len(win.model.run.latents)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in digits[0]])
    drop = QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    win.dropEvent(drop)
    assert len(win.model.run.latents) == n + 2 and win.model.a == n + 1  # the last one dropped is A
    for view in win.maps.values():
        stars = view.added_item.data
        np.testing.assert_allclose(np.c_[stars["x"], stars["y"]], view.points()[[n, n + 1]])
        assert len(view.scatter.data) == n + 2
        assert [label.toPlainText() for label in view.added_labels][0].startswith("three.png: 3")
        assert [label.text for _, label in view.legend.items][-1] == "unlabelled"
    np.testing.assert_array_equal(win.image_panel.a_image.array, win.model.run.images[n + 1])
    errors = []
    monkeypatch.setattr(win, "report_error", errors.append)
    bad = tmp_path / "bad.png"
    bad.write_text("no")
    assert not win.add_images([bad])
    assert errors == [f"{bad}: not a readable image (UnidentifiedImageError)"]
    assert len(win.model.run.latents) == n + 2


def _explorer(*args):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "explorer", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_headless_add_images_screenshot_and_a_bad_file(digits, tmp_path):
    out = tmp_path / "added.png"
    proc = _explorer("--add-images", *digits[0], "--screenshot", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.is_file() and Image.open(out).size == (1600, 1000)
    bad = tmp_path / "notes.jpg"
    bad.write_text("text")
    out2 = tmp_path / "never.png"
    proc = _explorer("--add-images", digits[0][0], bad, "--screenshot", out2)
    assert proc.returncode == 2 and not out2.exists()
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {bad}: not a readable image (UnidentifiedImageError)"], proc.stderr
