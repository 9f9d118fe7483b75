"""The explorer's Qt-free helpers and its command-line edges (no run needed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.app import display_problem, main
from explorer.export import save_gif, save_grid, save_strip
from core.imaging import tile, to_uint8, upscale
from core.knn import ForwardMap

ROOT = Path(__file__).resolve().parent.parent


def test_to_uint8_grey_and_colour():
    grey = to_uint8(np.full((2, 1, 3, 4), 0.5, dtype=np.float32))
    assert grey.shape == (2, 3, 4) and grey.dtype == np.uint8 and grey[0, 0, 0] == 128
    rgb = to_uint8(np.zeros((3, 5, 6), dtype=np.uint8))
    assert rgb.shape == (5, 6, 3)
    assert to_uint8(np.array([[[2.0, -1.0]]])).tolist() == [[255, 0]]


def test_tile_and_upscale():
    ims = [np.full((2, 3), i, np.uint8) for i in range(6)]
    grid = tile(ims, 2, 3, gap=1, fill=9)
    assert grid.shape == (5, 11)
    assert grid[0, 0] == 0 and grid[3, 4] == 4 and grid[2, 0] == 9
    assert upscale(ims[1], 3).shape == (6, 9)
    with pytest.raises(ValueError):
        tile(ims, 2, 2)


def test_forward_map_lands_on_exact_points_and_between_neighbours():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(200, 5)).astype(np.float32)
    points = rng.normal(size=(200, 2)).astype(np.float32)
    fm = ForwardMap(latents, points, k=6)
    np.testing.assert_allclose(fm(latents[17]), points[17], atol=1e-6)
    mid = fm((latents[3] + latents[4]) / 2)
    assert mid.shape == (2,)
    assert fm(latents[:10]).shape == (10, 2)
    lo, hi = points.min(axis=0), points.max(axis=0)
    assert np.all(mid >= lo) and np.all(mid <= hi)  # a weighted mean of map points


def test_gif_strip_and_grid(tmp_path):
    frames = np.stack([np.full((4, 5), 20 * i, np.uint8) for i in range(6)])
    save_gif(frames, tmp_path / "a.gif", fps=10, scale=2)
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 6 and gif.size == (10, 8) and gif.info["duration"] == 100
    save_strip(frames, tmp_path / "a.png", scale=1, gap=1)
    with Image.open(tmp_path / "a.png") as strip:
        assert strip.size == (6 * 5 + 5, 4)
    save_grid(frames.reshape(2, 3, 4, 5), tmp_path / "g.png", scale=1, gap=0)
    with Image.open(tmp_path / "g.png") as grid:
        assert grid.size == (15, 8)


def test_display_detection(monkeypatch):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    if not sys.platform.startswith("linux"):
        assert display_problem() is None
        return
    assert "no display" in display_problem()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_problem() is None
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert "no display" in display_problem()


def test_no_display_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("display detection is for Linux")
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no display") and "--screenshot" in err[0]


def test_missing_default_run_is_a_clear_error(monkeypatch, capsys, tmp_path):
    import explorer.rundata as rundata

    monkeypatch.setattr(rundata, "DEFAULT_RUN", tmp_path / "nowhere")
    assert main(["--screenshot", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err.startswith("error: the embedded default run is missing")


def test_core_and_the_explorers_qt_free_parts_never_import_qt():
    code = ("import sys; import core.inference, core.projection, core.latents, explorer.rundata, "
            "core.imaging, explorer.map_job, explorer.export; "
            "bad = [m for m in sys.modules if m.startswith(('PyQt', 'pyqtgraph'))]; print(bad); sys.exit(bool(bad))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
