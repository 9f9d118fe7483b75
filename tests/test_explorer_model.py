"""The explorer's Qt-free model on the embedded default run (maps cached): every derived value follows the
selection, and nothing here needs Qt. ``test_the_model_tests_run_without_qt`` runs this file again in a fresh
interpreter with a check after each test that neither PyQt6 nor pyqtgraph was imported."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer.model import NONE, ExplorerModel, Kind, Origin, PathMode, Using

ROOT = Path(__file__).resolve().parent.parent
NO_QT = os.environ.get("CCVAE_ASSERT_NO_QT") == "1"


@pytest.fixture(autouse=True)
def _no_qt_imported():
    yield
    if NO_QT:
        bad = sorted(m for m in sys.modules if m.startswith(("PyQt", "pyqtgraph")))
        assert not bad, f"the model imported {bad[:3]}"


@pytest.fixture(scope="module")
def run():
    from explorer.rundata import RunData

    run = RunData.open()
    assert run.maps is not None, "the embedded run ships its maps"
    return run


@pytest.fixture
def model(run):
    m = ExplorerModel()
    m.load(run)
    return m


def record(model) -> list[str]:
    seen: list[str] = []
    for name, event in vars(model.events).items():
        event.connect(lambda *_, n=name: seen.append(n))
    return seen


def two_classes(model) -> tuple[int, int]:
    labels = model.run.latents.labels
    return 0, int(np.flatnonzero(labels != labels[0])[0])


def test_loading_selects_a_and_decodes_it(model):
    c = model.current
    assert model.a == 0 and model.b == NONE and c.origin is Origin.POINT and c.point == 0
    np.testing.assert_array_equal(c.z_c, model.run.latents.z_c[0])
    np.testing.assert_allclose(c.positions["zc"], model.map_points("zc")[0])
    assert c.image.dtype == np.uint8 and c.probs.sum() == pytest.approx(1.0, abs=1e-4)
    assert model.current_text() == "point A #0"


def test_a_new_a_clears_a_transfer_and_its_result(model):
    """Defect 2: after Transfer, a new A left the old result (and an enabled "make it current")."""
    a, b = two_classes(model)
    model.select_b(b)
    r = model.transfer()
    assert r.kind is Kind.TRANSFER and model.intervention is r
    seen = record(model)
    model.select_a(7)
    assert model.intervention is None and "intervention" in seen
    model.apply_intervention()  # nothing to apply any more
    assert model.current.origin is Origin.POINT and model.current.point == 7


def test_a_new_b_clears_a_transfer_but_keeps_a_swap(model):
    model.select_b(5)
    model.transfer()
    model.select_b(9)
    assert model.intervention is None
    model.swap(3, Using.PRIOR)
    model.select_b(11)
    assert model.intervention is not None and model.intervention.kind is Kind.SWAP
    model.clear_b()
    assert model.b == NONE and model.intervention is not None


def test_the_interpolation_belongs_to_a_and_b(model):
    """Defect 3: after playing A -> B, a new A (or a reopened run) kept the old frames under the new label."""
    a, b = two_classes(model)
    model.select_b(b)
    model.set_steps(6)
    path = model.ensure_interpolation()
    assert (path.a, path.b, path.steps) == (a, b, 6) and path.label == f"A #{a} \u2192 B #{b}"
    model.show_frame(3)
    assert model.current.origin is Origin.FRAME and model.current.frame == 3
    np.testing.assert_array_equal(model.current.image, path.images[3])
    model.select_a(12)
    assert model.interpolation is None
    assert model.ensure_interpolation().a == 12
    model.set_path_mode(PathMode.STYLE)
    assert model.interpolation is None
    model.ensure_interpolation()
    model.load(model.run)  # reopening clears B: no path without B
    assert model.interpolation is None and model.ensure_interpolation() is None


def test_leaving_the_path_returns_the_current_latent_to_a(model):
    a, b = two_classes(model)
    model.select_b(b)
    model.show_frame(2)
    model.clear_b()
    assert model.current.origin is Origin.POINT and model.current.point == a
    assert "frame" not in model.current_text()


def test_a_following_walk_is_redone_for_the_current_latent(model):
    """Defect 4: with "follow" on, a walk of an earlier latent stayed after scrubbing the interpolation."""
    a, b = two_classes(model)
    model.select_b(b)
    model.set_walk_options(steps=5)
    first = model.compute_walk()
    assert model.walk_is_current and first.images.shape[:2] == (model.engine.zc_dim, 5)
    model.show_frame(4)
    assert model.walk is first and not model.walk_is_current  # of an earlier latent, and it says so
    walk = model.ensure_walk()
    np.testing.assert_array_equal(walk.z_c, model.current.z_c)
    assert "frame 5/" in walk.origin_text
    model.set_walk_options(follows=False)
    model.show_frame(1)
    assert model.walk is walk and not model.walk_is_current  # pinned, and it says so


def test_a_drag_says_dragging_only_while_held(model):
    """Defect 9: after releasing the handle the caption still said "dragging"."""
    target = model.map_points("zc")[40]
    model.drag("zc", target)
    assert model.current.origin is Origin.DRAG and model.current.dragging
    assert model.current_text().startswith("dragging on the z_c map")
    np.testing.assert_array_equal(model.current.z_style, model.run.latents.z_style[0])
    model.end_drag()
    assert not model.current.dragging and model.current_text().startswith("moved on the z_c map")
    np.testing.assert_allclose(model.current.z_c, model.inverse["zc"](target), atol=1e-6)


def test_esc_clears_b_and_the_intervention(model):
    model.select_b(4)
    model.transfer()
    model.apply_intervention()
    assert model.current.origin is Origin.INTERVENTION
    model.clear()
    assert model.b == NONE and model.intervention is None and model.current.origin is Origin.POINT


def test_hidden_groups(model):
    groups = model.colour_groups()
    model.set_group_hidden(3, True)
    assert not model.visible_points()[groups == 3].any() and model.visible_points()[groups != 3].all()
    model.set_group_hidden(3, False)
    assert model.visible_points().all()


def test_class_statistics_swap_uses_the_studys_formula(model):
    """One implementation: the explorer's class-statistics swap is core.class_stats, as in core.measures."""
    from core.class_stats import class_stats, move_between

    lat = model.run.latents
    model.select_a(21)
    r = model.swap(2, Using.CLASS_STATS)
    loc, scale = class_stats(lat.z_c, lat.probs.argmax(axis=1), model.label_spec.size)
    source = int(np.argmax(model.engine.classify(lat.z_c[21][None]).numpy()))
    np.testing.assert_allclose(r.z_c, move_between(lat.z_c[21], loc, scale, source, 2), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(r.z_style, lat.z_style[21])


def test_events_are_typed_and_named(model):
    seen = record(model)
    model.select_a(3)
    assert "selection" in seen and "current" in seen
    assert isinstance(model.current.origin, Origin)


@pytest.mark.skipif(NO_QT, reason="this is the outer run")
def test_the_model_tests_run_without_qt():
    env = dict(os.environ, CCVAE_ASSERT_NO_QT="1")
    env.pop("QT_QPA_PLATFORM", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:pytest-qt", "-p", "no:cacheprovider",
                           str(Path(__file__))], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


def test_core_and_the_model_never_import_qt():
    code = ("import sys, pathlib, importlib; mods = ['explorer.model', 'explorer.rundata', 'explorer.map_job'] + "
            "['core.' + p.stem for p in pathlib.Path('core').glob('*.py') if p.stem != '__init__']; "
            "[importlib.import_module(m) for m in mods]; "
            "bad = [m for m in sys.modules if m.startswith(('PyQt', 'pyqtgraph'))]; print(bad); sys.exit(bool(bad))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_run_without_maps_gets_a_provisional_pca_map_until_umap_arrives(run):
    """No maps cached: a PCA of the latents stands in at once (drag and placement work on it), is never stored on
    the run, and the UMAP maps replace it with every point and the current latent placed again."""
    from dataclasses import replace

    from core.projection import provisional_maps

    bare = replace(run, maps=None)
    m = ExplorerModel()
    seen = record(m)
    m.load(bare)
    pca = provisional_maps(run.latents.z_c, run.latents.z_style)
    assert m.maps.provisional and bare.maps is None and "maps_ready" in seen
    np.testing.assert_array_equal(m.map_points("zc"), pca.zc)
    np.testing.assert_allclose(m.current.positions["style"], pca.style[0])
    # the first principal axis carries the most variance of z_c
    assert m.map_points("zc")[:, 0].var() >= m.map_points("zc")[:, 1].var()
    seen.clear()
    m.set_maps(run.maps)
    assert not m.maps.provisional and bare.maps is run.maps and "maps_ready" in seen
    np.testing.assert_allclose(m.current.positions["zc"], run.maps.zc[0])
