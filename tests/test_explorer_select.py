"""Selection, colour by, find and neighbours in the Qt-free model (embedded default run, maps cached). These run
in the plain interpreter; tests/test_explorer_select_views.py drives the same through the real widgets."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from explorer.model import NONE, ColourMode, ExplorerModel
from explorer.points import points_in_polygon, rectangle


@pytest.fixture(scope="module")
def run():
    from explorer.rundata import RunData

    return RunData.open()


@pytest.fixture
def model(run):
    m = ExplorerModel()
    m.load(run)
    return m


def test_points_in_polygon_matches_a_brute_force_test():
    from matplotlib.path import Path

    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, size=(5000, 2))
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    star = np.c_[np.cos(t), np.sin(t)] * (0.4 + 0.4 * (np.arange(40) % 2))[:, None]  # concave
    np.testing.assert_array_equal(points_in_polygon(points, star), Path(star).contains_points(points))
    square = rectangle((0.5, 0.5), (-0.5, -0.5))
    np.testing.assert_array_equal(points_in_polygon(points, square), (np.abs(points) < 0.5).all(axis=1))
    assert not points_in_polygon(points, square[:2]).any()  # two points enclose nothing


def test_a_rectangle_selects_the_points_inside_on_both_maps_and_counts_them(model):
    zc = model.map_points("zc")
    lo, hi = np.percentile(zc, 30, axis=0), np.percentile(zc, 70, axis=0)
    seen = []
    model.events.selected.connect(lambda: seen.append(1))
    chosen = model.select_region("zc", rectangle(lo, hi))
    expected = np.flatnonzero(((zc >= lo) & (zc <= hi)).all(axis=1))
    np.testing.assert_array_equal(chosen, expected)
    assert seen and len(expected) > 0
    selected, total = model.group_counts()
    groups = model.colour_groups()
    np.testing.assert_array_equal(selected, np.bincount(groups[expected], minlength=10))
    np.testing.assert_array_equal(total, np.bincount(groups, minlength=10))
    assert model.selected_text() == f"{len(expected):,} / 5,000 selected"
    # shift adds, alt removes, hidden groups are not selectable
    first = model.selected.copy()
    model.select_region("style", rectangle(*np.percentile(model.map_points("style"), [40, 60], axis=0)), "add")
    assert set(first) < set(model.selected)
    model.select_region("zc", rectangle(lo, hi), "remove")
    assert not set(first) & set(model.selected)
    model.set_group_hidden(int(groups[expected[0]]), True)
    model.select_region("zc", rectangle(lo, hi))
    assert model.visible_points()[model.selected].all() and len(model.selected) < len(expected)


def test_esc_clears_the_selection_and_a_new_run_starts_without_one(model, run):
    model.set_selected([5, 3, 3, 9])
    np.testing.assert_array_equal(model.selected, [3, 5, 9])
    model.clear()
    assert len(model.selected) == 0 and model.selected_text() == "no selection"
    model.set_selected([1, 2])
    model.load(run)
    assert len(model.selected) == 0
    with pytest.raises(IndexError):
        model.set_selected([len(run.latents)])


def test_export_selection_writes_every_point_and_a_grid(model, tmp_path):
    with pytest.raises(ValueError, match="nothing is selected"):
        model.export_selection(tmp_path / "s.csv")
    model.set_selected([7, 2, 40])
    csv_path, png_path = model.export_selection(tmp_path / "s.csv", tmp_path / "s.png")
    rows = list(csv.DictReader(open(csv_path)))
    lat = model.run.latents
    assert [int(r["index"]) for r in rows] == [2, 7, 40]
    r = rows[1]
    assert r["split"] == "test" and int(r["split_index"]) == int(lat.index[7])
    assert r["label"] == model.point_label_text(7)
    assert r["prediction"] == model.label_spec.names[int(lat.probs[7].argmax())]
    assert float(r["confidence"]) == pytest.approx(float(lat.probs[7].max()), abs=1e-4)
    assert float(r["zc_x"]) == pytest.approx(float(model.map_points("zc")[7, 0]), rel=1e-4)
    assert float(r["style_y"]) == pytest.approx(float(model.map_points("style")[7, 1]), rel=1e-4)
    np.testing.assert_allclose([float(r[f"z_c_{d}"]) for d in range(lat.z_c.shape[1])], lat.z_c[7], rtol=1e-5)
    np.testing.assert_allclose([float(r[f"style_{d}"]) for d in range(lat.z_style.shape[1])], lat.z_style[7],
                               rtol=1e-5, atol=1e-6)
    grid = np.asarray(Image.open(png_path))
    # 3 images in a 2x2 grid at scale 2: 28*2 px each, 4 px gaps and borders
    assert grid.shape == (2 * 56 + 3 * 4, 2 * 56 + 3 * 4)
    np.testing.assert_array_equal(grid[4:60, 4:60], np.repeat(np.repeat(model.run.images[2], 2, 0), 2, 1))


def test_colour_by_prediction_confidence_and_mistakes(model):
    lat = model.run.latents
    assert [m for m, _, _ in model.colour_options()] == [ColourMode.LABEL, ColourMode.PREDICTION,
                                                          ColourMode.CONFIDENCE, ColourMode.MISCLASSIFIED]
    np.testing.assert_array_equal(model.colour_groups(), lat.labels)
    model.set_colouring(ColourMode.PREDICTION)
    np.testing.assert_array_equal(model.colour_groups(), lat.probs.argmax(axis=1))
    model.set_colouring(ColourMode.MISCLASSIFIED)
    wrong = lat.probs.argmax(axis=1) != lat.labels
    np.testing.assert_array_equal(model.colour_groups(), wrong)
    assert model.group_names() == ["correct", "misclassified"] and 0 < wrong.sum() < 200
    model.set_colouring(ColourMode.CONFIDENCE)
    assert model.continuous and model.palette() == "scale"
    np.testing.assert_allclose(model.colour_values(), lat.probs.max(axis=1))
    g = model.colour_groups()
    assert g.min() >= 0 and g.max() == 15 and (g[lat.probs.max(axis=1) < 0.5] <= 7).all()
    with pytest.raises(ValueError):
        model.set_colouring(ColourMode.PROBABILITY)  # binary runs only


def test_binary_colour_options(model):
    """A binary label spec offers each attribute, its prediction, probability and errors."""
    from core.labels import LabelSpec

    fake_labels = (model.run.latents.probs[:, :3] > 0.3).astype(np.float32)
    spec = LabelSpec(kind="binary", names=("a", "b", "c"))

    class Run:
        label_spec = spec
        latents = type("L", (), {"labels": fake_labels, "probs": model.run.latents.probs[:, :3]})()

    m = ExplorerModel()
    m.run = Run()
    texts = [t for _, _, t in m.colour_options()]
    assert texts[:4] == ["a", "a: prediction", "a: probability", "a: misclassified"] and len(texts) == 12
    m.set_colouring(ColourMode.PROBABILITY, 2)
    np.testing.assert_allclose(m.colour_values(), Run.latents.probs[:, 2])
    assert m.colour_bar_title() == "p(c)"
    m.set_colouring(ColourMode.LABEL, 1)
    np.testing.assert_array_equal(m.colour_groups(), fake_labels[:, 1] > 0.5)
    assert m.group_names() == ["not b", "b"]
    assert m.filter_options() == ["a present", "b present", "c present"]
    m.set_filter(0)
    np.testing.assert_array_equal(m.dimmed(), fake_labels[:, 0] <= 0.5)


def test_find_an_index_or_a_class_and_filter(model):
    centred = []
    model.events.centre.connect(centred.append)
    assert model.find("#12").startswith("found #12") and model.a == 12
    np.testing.assert_allclose(centred[-1]["zc"], model.map_points("zc")[12])
    np.testing.assert_allclose(centred[-1]["style"], model.map_points("style")[12])
    assert model.find("1234").startswith("found #1234") and model.a == 1234  # names no class: an index
    text = model.find("7")  # on MNIST "7" names a class
    sevens = np.flatnonzero(model.run.latents.labels == 7)
    np.testing.assert_array_equal(model.selected, sevens)
    assert text == "selected the 500 points labelled 7"
    np.testing.assert_allclose(centred[-1]["zc"], np.median(model.map_points("zc")[sevens], axis=0))
    assert model.find("class 3").startswith("selected the 500")
    a, n = model.a, len(centred)
    assert model.find("#99999").startswith("no point #99999") and model.a == a and len(centred) == n
    assert model.find("seven").startswith("nothing called 'seven'")
    model.set_filter(7)
    np.testing.assert_array_equal(model.dimmed(), model.run.latents.labels != 7)
    model.set_filter(None)
    assert not model.dimmed().any()


def test_neighbours_in_each_latent(model):
    lat = model.run.latents
    model.select_a(10)
    in_zc, in_style = model.neighbours(k=6)
    assert len(in_zc) == len(in_style) == 6 and 10 not in in_zc and 10 not in in_style
    d_zc = np.linalg.norm(lat.z_c - lat.z_c[10], axis=1)
    d_zc[10] = np.inf
    np.testing.assert_array_equal(np.sort(d_zc[in_zc]), np.sort(d_zc)[:6])
    d_st = np.linalg.norm(lat.z_style - lat.z_style[10], axis=1)
    d_st[10] = np.inf
    np.testing.assert_allclose(d_st[in_style], np.sort(d_st)[:6], rtol=1e-5)
    # z_c neighbours share A's class; style neighbours mostly do not (the split latent at work)
    assert (lat.labels[in_zc] == lat.labels[10]).all()
    assert (lat.labels[in_style] != lat.labels[10]).sum() >= 3
