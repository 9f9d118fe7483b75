"""Tests of core.figures: image grids, labelled grid PNGs, curves and side-by-side panels."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from core.figures import image_grid, save_curves, save_image_grid, save_side_by_side


def _png(path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def test_grid_size_and_placement():
    images = np.zeros((5, 1, 4, 3), dtype=np.float32)
    images[3] = 1.0  # the 4th image is white: row 1, column 0 with nrow = 3
    grid = image_grid(images, nrow=3, padding=2, pad_value=0.5)
    assert grid.dtype == np.uint8 and grid.shape == (2 * 4 + 3 * 2, 3 * 3 + 4 * 2, 3)
    top, left = 2 + 1 * (4 + 2), 2
    assert (grid[top:top + 4, left:left + 3] == 255).all()
    assert (grid[2:6, 2:5] == 0).all()  # image 0 black
    assert (grid[0, :] == 128).all()  # padding at pad_value
    assert (grid[top:top + 4, 2 + 2 * 5:2 + 2 * 5 + 3] == 128).all()  # empty last cell is padding


def test_grid_grey_and_colour_and_torch():
    rgb = np.zeros((1, 3, 2, 2), dtype=np.float32)
    rgb[0, 0] = 1.0  # red
    g = image_grid(torch.from_numpy(rgb), nrow=1, padding=0)
    assert g.shape == (2, 2, 3) and (g[..., 0] == 255).all() and (g[..., 1:] == 0).all()
    grey = np.full((1, 1, 2, 2), 0.5, dtype=np.float32)
    g = image_grid(grey, nrow=1, padding=0)
    assert (g == 128).all()  # same level in R, G, B
    g = image_grid(np.full((1, 1, 2, 2), 7.0), nrow=1, padding=0)
    assert (g == 255).all()  # clipped to [0, 1]


def test_save_grid_scales_and_labels_grow_image(tmp_path):
    images = np.random.default_rng(0).uniform(size=(6, 1, 28, 28)).astype(np.float32)
    plain = tmp_path / "plain.png"
    save_image_grid(plain, images, nrow=3, scale=2)
    grid = image_grid(images, nrow=3)
    arr = _png(plain)
    assert arr.shape == (grid.shape[0] * 2, grid.shape[1] * 2, 3)
    np.testing.assert_array_equal(arr[::2, ::2], grid)  # nearest-neighbour upscale

    labelled = tmp_path / "deep" / "labelled.png"
    save_image_grid(labelled, images, nrow=3, row_labels=["input", "recon"], col_labels=["a", "b", "c"],
                    title="a title", scale=2)
    lab = _png(labelled)
    assert lab.shape[0] > arr.shape[0] and lab.shape[1] > arr.shape[1]
    assert (lab < 100).all(axis=2)[:, : lab.shape[1] - arr.shape[1]].any()  # dark label text in the left margin


def test_save_grid_with_long_column_labels(tmp_path):
    images = np.zeros((2, 1, 8, 8), dtype=np.float32)
    path = tmp_path / "g.png"
    save_image_grid(path, images, nrow=2, col_labels=["a very long attribute name", "another long name"])
    arr = _png(path)
    assert arr.shape[0] > arr.shape[1]  # too wide for the cells: drawn vertically, the margin grows upwards


def test_a_long_title_wraps_to_the_grid_width(tmp_path):
    """A title longer than its grid is wide takes several lines instead of a wide white margin beside the grid."""
    images = np.random.default_rng(0).uniform(size=(10, 1, 28, 28)).astype(np.float32)
    short, long = tmp_path / "short.png", tmp_path / "long.png"
    title = "Conditional generation per attribute: z_c ~ p(z_c|y) with the column's attribute on, then off; " * 2
    kwargs = dict(nrow=5, row_labels=["beta=0.001, latent=16: on", "off"], col_labels=list("abcde"))
    save_image_grid(short, images, title="t", **kwargs)
    save_image_grid(long, images, title=title, **kwargs)
    a, b = _png(short), _png(long)
    assert b.shape[1] == a.shape[1]  # the grid and its labels set the width, not the title
    assert b.shape[0] >= a.shape[0] + 2 * 14  # at least three lines of title instead of one
    np.testing.assert_array_equal(a[-a.shape[0] + 40:], b[-a.shape[0] + 40:])  # the grid itself is untouched


def test_curves_png_is_not_blank_and_skips_nan(tmp_path):
    path = tmp_path / "curves" / "loss.png"
    series = {"train loss": [(e, 100.0 / (e + 1)) for e in range(10)],
              "val loss": [(0, float("nan")), (1, 60.0), (2, float("inf")), (3, 40.0)],
              "one point": [(5, 20.0)],
              "all nan": [(0, float("nan"))]}
    save_curves(path, series, title="Loss", xlabel="epoch", ylabel="loss")
    arr = _png(path)
    assert 300 < arr.shape[1] < 1200
    assert arr.std() > 10  # not a blank canvas
    assert len(np.unique(arr.reshape(-1, 3), axis=0)) > 10


def test_curves_log_and_empty(tmp_path):
    save_curves(tmp_path / "log.png", {"err": [(0, 1.0), (1, 0.1), (2, 0.0), (3, -1.0)]}, title="t", xlabel="x",
                ylabel="y", logy=True)
    save_curves(tmp_path / "empty.png", {"nothing": []}, title="t", xlabel="x", ylabel="y")
    assert _png(tmp_path / "log.png").std() > 10
    assert _png(tmp_path / "empty.png").size > 0
    assert sorted(os.listdir(tmp_path)) == ["empty.png", "log.png"]  # no temp files left


def test_curves_dashed_suffix_shares_the_base_colour(tmp_path):
    """The study draws a cell's unlabelled loss dashed in the colour of its labelled loss: with the suffix the
    second series is drawn in C0 (blue), without it in C1 (orange)."""
    series = {"cell": [(e, 10.0 - e) for e in range(1, 6)], "cell (unlabelled)": [(e, 12.0 - e) for e in range(1, 6)]}
    orange = np.array([255, 127, 14])

    def has_orange(path):
        pixels = _png(path).reshape(-1, 3).astype(int)
        return int((np.abs(pixels - orange).sum(axis=1) < 30).sum())

    save_curves(tmp_path / "paired.png", series, title="t", xlabel="epoch", ylabel="loss",
                dashed_suffix=" (unlabelled)", legend_outside=True)
    save_curves(tmp_path / "plain.png", series, title="t", xlabel="epoch", ylabel="loss")
    assert has_orange(tmp_path / "paired.png") == 0 and has_orange(tmp_path / "plain.png") > 100
    assert _png(tmp_path / "paired.png").shape[1] > _png(tmp_path / "plain.png").shape[1]  # room for the legend


def test_side_by_side(tmp_path):
    a = image_grid(np.zeros((4, 1, 10, 10)), nrow=2)
    b = image_grid(np.ones((6, 3, 10, 10)), nrow=3)
    path = tmp_path / "cmp.png"
    save_side_by_side(path, [("run A", a), ("run B", b)], title="Comparison", scale=1)
    arr = _png(path)
    assert arr.shape[1] >= a.shape[1] + b.shape[1]
    assert arr.shape[0] > max(a.shape[0], b.shape[0])
    with pytest.raises(ValueError):
        save_side_by_side(path, [])


@pytest.mark.parametrize("labels", [[0], [1, 1, 1], [-1, -1]], ids=["one image", "one class", "unlabelled"])
def test_run_figures_from_a_handful_of_test_images(tmp_path, labels):
    """A small own folder leaves one test image, or test images of one class only: the run's figures are still
    drawn (interpolating between consecutive images, or not at all from a single image) instead of the finish
    phase crashing on an empty interpolation grid."""
    from core.config import ModelConfig, RunConfig
    from core.inference import Engine
    from core.labels import LabelSpec
    from core.model import CCVAE
    from core.run_figures import make_run_figures

    torch.manual_seed(0)
    cfg = RunConfig(model=ModelConfig(image_shape=(3, 32, 32), latent_dim=8,
                                      label_spec=LabelSpec("multiclass", ("a", "b"))))
    engine = Engine(CCVAE(cfg.model), cfg)
    x = torch.rand(len(labels), 3, 32, 32)
    written = {p.name for p in make_run_figures(engine, x, np.array(labels), [], tmp_path)}
    assert {"reconstructions.png", "generations.png", "label_swaps.png", "latent_walks.png"} <= written
    assert ("interpolations.png" in written) == (len(labels) >= 2)
