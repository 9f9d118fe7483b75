"""Tests of core.projection: UMAP maps (one real fit per session), their cache, and InverseMap."""
import os
import threading

import numpy as np
import pytest

from core import projection
from core.projection import (Cancelled, InverseMap, LatentMaps, compute_maps, fit_map, load_maps,
                             load_or_compute_maps, maps_cache_key, save_maps)


def _clusters(n_per: int = 75, n_clusters: int = 4, dim: int = 8, seed: int = 0):
    """Well-separated Gaussian clusters: latents [n_per * n_clusters, dim] float32 and labels [N]."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, size=(n_clusters, dim))
    labels = np.repeat(np.arange(n_clusters), n_per)
    return (centres[labels] + rng.normal(0, 1, size=(len(labels), dim))).astype(np.float32), labels


@pytest.fixture(scope="module")
def umap_fit():
    """The session's only real UMAP fit (the first one pays numba's compile time): latents, labels, map, phases."""
    latents, labels = _clusters()
    phases = []
    emb = fit_map(latents, seed=0, progress=lambda phase, frac: phases.append((phase, frac)))
    return latents, labels, emb, phases


def test_map_shape_dtype_and_progress(umap_fit):
    latents, _, emb, phases = umap_fit
    assert emb.shape == (len(latents), 2) and emb.dtype == np.float32
    assert np.isfinite(emb).all()
    names = [p for p, _ in phases]
    # the neighbour search comes first: it runs while umap-learn is imported (see compute_maps)
    assert names[:4] == ["nearest neighbours", "loading umap-learn", "neighbour graph", "spectral initialisation"]
    assert names[-1] == "done"
    # progress moves with every optimisation epoch, not only per phase
    epochs = projection.default_epochs(len(latents))
    assert [p for p in names if p.startswith("optimising")] == [f"optimising, epoch {e}/{epochs}"
                                                                for e in range(0, epochs + 1)]
    fractions = [f for _, f in phases]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_same_latents_and_seed_give_the_same_map_in_a_new_process(umap_fit, tmp_path):
    """The maps cache key is the latents and the seed: a fit in another process (numba's cache loaded, not
    compiled) must give the very same map; another seed a different one."""
    import subprocess
    import sys

    latents, _, emb, _ = umap_fit
    np.save(tmp_path / "z.npy", latents)
    code = ("import sys, numpy as np; from core.projection import fit_map; "
            "np.save(sys.argv[2], fit_map(np.load(sys.argv[1]), seed=0))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "z.npy"), str(tmp_path / "map.npy")], check=True,
                   env=dict(os.environ, PYTHONWARNINGS="ignore"))
    np.testing.assert_array_equal(np.load(tmp_path / "map.npy"), emb)
    np.testing.assert_array_equal(fit_map(latents, seed=0), emb)
    assert not np.allclose(fit_map(latents, seed=1), emb)


def test_two_maps_at_once_equal_each_fitted_alone(umap_fit):
    """compute_maps fits z_c and style in two threads on two cores; each map is what fit_map gives alone."""
    latents, _, emb, _ = umap_fit
    style = np.random.default_rng(5).normal(size=(len(latents), 3)).astype(np.float32)
    reports = []
    maps = compute_maps(latents, style, seed=0, progress=lambda p, f: reports.append((p, f)))
    np.testing.assert_array_equal(maps.zc, emb)
    np.testing.assert_array_equal(maps.style, fit_map(style, seed=0))
    assert {p.split(":")[0] for p, _ in reports} == {"z_c", "z_s"}
    assert reports[-1][1] == 1.0


def test_large_maps_start_from_the_spectral_layout_of_landmarks(umap_fit, monkeypatch):
    """Above SPECTRAL_LANDMARKS points the spectral layout is solved on that many seeded landmarks only (the full
    eigenproblem took as long as the optimisation at 70,000 points); the map keeps the clusters apart and is
    still the same for the same latents and seed. At or below it, the whole graph's spectral layout is used."""
    latents, labels, emb, _ = umap_fit
    kern = projection._umap_kernels()
    full_spectral, sizes = kern.spectral, []

    def spectral(data, graph, dim, random_state):
        sizes.append(graph.shape[0])
        return full_spectral(data, graph, dim, random_state)

    monkeypatch.setattr(kern, "spectral", spectral)
    np.testing.assert_array_equal(fit_map(latents, seed=0), emb)
    assert sizes == [len(latents)]
    monkeypatch.setattr(projection, "SPECTRAL_LANDMARKS", 100)
    sizes.clear()
    first = fit_map(latents, seed=0)
    assert sizes == [100]
    np.testing.assert_array_equal(fit_map(latents, seed=0), first)
    assert not np.allclose(first, emb)
    _, idx = InverseMap(first, first)._tree.query(first, k=2)
    assert (labels[idx[:, 1]] == labels).mean() > 0.9


def test_neighbours_are_exact():
    z = np.random.default_rng(2).normal(size=(200, 7)).astype(np.float32)
    idx, dist = projection.exact_neighbours(z, 5)
    full = np.linalg.norm(z[:, None] - z[None], axis=-1)
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1)[:, :5])
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :5], rtol=1e-5, atol=1e-5)
    assert idx.dtype == np.int32 and dist.dtype == np.float32


def test_clusters_stay_separated(umap_fit):
    _, labels, emb, _ = umap_fit
    inv = InverseMap(emb, emb)  # reuse the k-d tree: nearest *other* point is the 2nd neighbour
    _, idx = inv._tree.query(emb, k=2)
    agreement = (labels[idx[:, 1]] == labels).mean()
    assert agreement > 0.9


def test_low_dim_latents_are_their_own_map():
    z = np.arange(10, dtype=np.float32).reshape(10, 1)
    out = fit_map(z)
    assert out.shape == (10, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0], z[:, 0])
    np.testing.assert_array_equal(out[:, 1], 0)
    z2 = np.random.default_rng(0).normal(size=(7, 2))
    np.testing.assert_allclose(fit_map(z2), z2, rtol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 16])
def test_tiny_n_falls_back_to_pca(n):
    z = np.random.default_rng(n).normal(size=(n, 6)).astype(np.float32)
    out = fit_map(z, n_neighbors=15)
    assert out.shape == (n, 2) and out.dtype == np.float32 and np.isfinite(out).all()


def test_pca_fallback_keeps_the_main_axis():
    t = np.linspace(-1, 1, 10)
    z = np.stack([t, 2 * t, -t, 0 * t], axis=1).astype(np.float32)  # a line in 4-D
    out = fit_map(z)
    assert abs(np.corrcoef(out[:, 0], t)[0, 1]) > 0.999
    np.testing.assert_allclose(out[:, 1], 0, atol=1e-5)


def test_cancel_before_start_raises():
    z, _ = _clusters(n_per=20)
    with pytest.raises(Cancelled):
        fit_map(z, should_stop=lambda: True)


def test_cancel_during_optimisation_raises(umap_fit):
    """A stop asked for in the middle of the optimisation ends the fit at the next epoch."""
    z, _ = _clusters(n_per=20)
    phases = []

    def should_stop():
        return sum(p.startswith("optimising") for p in phases) >= 3

    with pytest.raises(Cancelled):
        fit_map(z, should_stop=should_stop, progress=lambda p, f: phases.append(p))
    assert phases[-1] == f"optimising, epoch 2/{projection.default_epochs(len(z))}"  # reports 0, 1, 2


def test_cancel_stops_both_maps(umap_fit):
    z, _ = _clusters(n_per=20)
    phases = []

    def should_stop():
        return len(phases) > 20

    with pytest.raises(Cancelled):
        compute_maps(z, z[:, :3].copy(), should_stop=should_stop, progress=lambda p, f: phases.append(p))
    assert not [t for t in threading.enumerate() if t.name == "style map"]


def test_missing_umap_internals_fall_back_to_the_umap_class(monkeypatch):
    import umap.layouts

    monkeypatch.delattr(umap.layouts, "_optimize_layout_euclidean_single_epoch")
    assert projection._build_kernels() is projection._NO_KERNELS


def test_fallback_fits_from_two_threads_run_one_at_a_time(monkeypatch):
    """umap-learn's UMAP class (the fallback when its internals moved) runs parallel numba code, unsafe for
    concurrent callers: two threads asking for maps at once must fit one after the other, and both get their map.
    (The usual path, serial GIL-free kernels, runs two fits at once: test_two_maps_at_once_equal_each_fitted_alone.)"""
    import time

    real_fit, active, most = projection._fit_umap_learn, [0], [0]

    def counting_fit(*args, **kwargs):
        active[0] += 1
        most[0] = max(most[0], active[0])
        time.sleep(0.3)  # widen the window in which an unserialised second fit would overlap
        try:
            return real_fit(*args, **kwargs)
        finally:
            active[0] -= 1

    monkeypatch.setattr(projection, "_cuml_available", lambda: False)
    monkeypatch.setattr(projection, "_umap_kernels", lambda: None)
    monkeypatch.setattr(projection, "_fit_umap_learn", counting_fit)
    z, _ = _clusters(n_per=20)
    results = [None, None]

    def fit(i):
        results[i] = fit_map(z, seed=i)

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert most[0] == 1
    assert all(r is not None and r.shape == (len(z), 2) and np.isfinite(r).all() for r in results)


# ---------------------------------------------------------------------------------------------------------------
# Cache: 2-D latents need no UMAP, so these tests run the real compute path at no cost.
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture
def small_latents():
    rng = np.random.default_rng(3)
    return rng.normal(size=(50, 2)).astype(np.float32), rng.normal(size=(50, 1)).astype(np.float32)


@pytest.fixture
def counted_fits(monkeypatch):
    """Count calls to fit_map made by compute_maps."""
    calls = []
    real = projection.fit_map

    def spy(latents, **kw):
        calls.append(latents.shape)
        return real(latents, **kw)

    monkeypatch.setattr(projection, "fit_map", spy)
    return calls


def test_cache_key_depends_on_data_and_seed(small_latents):
    zc, zs = small_latents
    key = maps_cache_key(zc, zs, 0)
    assert key == maps_cache_key(zc.copy(), zs.copy(), 0)
    assert key != maps_cache_key(zc, zs, 1)
    zc2 = zc.copy()
    zc2[0, 0] += 1e-3
    assert key != maps_cache_key(zc2, zs, 0)
    assert key != maps_cache_key(zc.reshape(25, 4), zs, 0)  # same bytes, other shape


def test_cache_key_names_the_landmark_initialisation(monkeypatch):
    """Maps above SPECTRAL_LANDMARKS points are computed differently from before (landmark spectral layout), so
    their key differs from the old format's; maps of fewer points keep the key their caches were saved under."""
    zc = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    zs = zc[:, :2].copy()
    small = maps_cache_key(zc, zs, 0)
    monkeypatch.setattr(projection, "SPECTRAL_LANDMARKS", 49)
    assert maps_cache_key(zc, zs, 0) != small
    monkeypatch.setattr(projection, "SPECTRAL_LANDMARKS", 50)
    assert maps_cache_key(zc, zs, 0) == small


def test_embedded_runs_maps_still_match_their_key():
    """The embedded runs' maps.npz (5,000 points, below SPECTRAL_LANDMARKS) load without a refit."""
    import json
    from pathlib import Path

    for run in ("default_run", "morpho_run"):
        folder = Path(__file__).resolve().parent.parent / "assets" / run
        with np.load(folder / "latents.npz") as f:
            zc, zs = f["z_c"], f["z_style"]
        seed = json.loads((folder / "config.json").read_text()).get("train", {}).get("seed", 0)
        assert load_maps(folder / "maps.npz", expected_key=maps_cache_key(zc, zs, seed)) is not None, run


def test_cache_round_trip(tmp_path, small_latents):
    zc, zs = small_latents
    maps = compute_maps(zc, zs, seed=0)
    path = tmp_path / "sub" / "maps.npz"
    save_maps(path, maps)
    back = load_maps(path, expected_key=maps.key)
    assert isinstance(back, LatentMaps) and back.key == maps.key
    np.testing.assert_array_equal(back.zc, maps.zc)
    np.testing.assert_array_equal(back.style, maps.style)
    assert load_maps(path, expected_key="other") is None
    assert load_maps(tmp_path / "missing.npz") is None


def test_load_or_compute_uses_cache_then_recomputes_on_key_mismatch(tmp_path, small_latents, counted_fits):
    zc, zs = small_latents
    path = tmp_path / "maps.npz"
    first = load_or_compute_maps(path, zc, zs, seed=0)
    assert len(counted_fits) == 2 and path.exists()
    again = load_or_compute_maps(path, zc, zs, seed=0)
    assert len(counted_fits) == 2  # from the cache
    np.testing.assert_array_equal(again.zc, first.zc)
    other = load_or_compute_maps(path, zc * 2, zs, seed=0)  # new latents: key mismatch
    assert len(counted_fits) == 4
    np.testing.assert_allclose(other.zc, zc * 2)
    assert load_maps(path).key == maps_cache_key(zc * 2, zs, 0)  # cache replaced


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04 truncated"])
def test_corrupt_cache_is_recomputed(tmp_path, small_latents, counted_fits, content):
    zc, zs = small_latents
    path = tmp_path / "maps.npz"
    path.write_bytes(content)
    assert load_maps(path) is None
    maps = load_or_compute_maps(path, zc, zs)
    assert len(counted_fits) == 2
    assert load_maps(path, expected_key=maps.key) is not None


def test_cache_with_pickled_object_is_rejected(tmp_path):
    path = tmp_path / "maps.npz"
    np.savez(path, zc=np.zeros((3, 2)), style=np.zeros((3, 2)), key=np.array([{"evil": 1}], dtype=object))
    assert load_maps(path) is None


def test_atomic_write_leaves_no_temp_file(tmp_path, small_latents):
    zc, zs = small_latents
    save_maps(tmp_path / "maps.npz", compute_maps(zc, zs))
    save_maps(tmp_path / "maps.npz", compute_maps(zc, zs, seed=2))  # overwrite
    assert os.listdir(tmp_path) == ["maps.npz"]


def test_compute_maps_rejects_mismatched_n():
    with pytest.raises(ValueError):
        compute_maps(np.zeros((5, 2)), np.zeros((6, 2)))


# ---------------------------------------------------------------------------------------------------------------
# InverseMap
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture
def inv_data():
    rng = np.random.default_rng(7)
    pts = rng.uniform(-10, 10, size=(500, 2))
    lat = rng.normal(size=(500, 5)).astype(np.float32)
    return pts, lat, InverseMap(pts, lat, k=8)


def test_inverse_exact_at_data_points(inv_data):
    pts, lat, inv = inv_data
    for i in (0, 17, 499):
        np.testing.assert_array_equal(inv(pts[i]), lat[i])
        assert inv.nearest(pts[i]) == i
    np.testing.assert_array_equal(inv(pts), lat)


def test_inverse_interpolates_between_two_points():
    pts = np.array([[0.0, 0.0], [1.0, 0.0]])
    lat = np.array([[0.0, 0.0], [10.0, -10.0]], dtype=np.float32)
    inv = InverseMap(pts, lat, k=2)
    np.testing.assert_allclose(inv([0.5, 0.0]), [5.0, -5.0], rtol=1e-6)
    a, b, c = inv([0.25, 0.0]), inv([0.5, 0.0]), inv([0.75, 0.0])
    assert a[0] < b[0] < c[0]  # monotone along the segment
    assert 0 < a[0] < 5  # closer to point 0, still a blend
    assert inv.nearest([0.9, 0.3]) == 1


def test_inverse_stays_within_neighbour_range(inv_data):
    pts, lat, inv = inv_data
    q = np.random.default_rng(1).uniform(-10, 10, size=(200, 2))
    out = inv(q)
    _, idx = inv._tree.query(q, k=8)
    neigh = lat[idx]  # [M, k, D]
    assert (out >= neigh.min(axis=1) - 1e-5).all() and (out <= neigh.max(axis=1) + 1e-5).all()


def test_inverse_batch_matches_single(inv_data):
    _, _, inv = inv_data
    q = np.random.default_rng(2).uniform(-12, 12, size=(50, 2))
    batch = inv(q)
    assert batch.shape == (50, 5) and batch.dtype == np.float32
    single = np.stack([inv(p) for p in q])
    np.testing.assert_allclose(batch, single, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(inv.nearest(q), [inv.nearest(p) for p in q])


def test_inverse_far_outside_is_a_finite_blend(inv_data):
    pts, lat, inv = inv_data
    out = inv([1e6, -1e6])
    assert out.shape == (5,) and np.isfinite(out).all()
    assert (out >= lat.min(axis=0)).all() and (out <= lat.max(axis=0)).all()


def test_inverse_with_fewer_points_than_k_and_k1():
    pts = np.array([[0.0, 0.0], [2.0, 0.0]])
    lat = np.array([[1.0], [3.0]], dtype=np.float32)
    np.testing.assert_allclose(InverseMap(pts, lat, k=8)([1.0, 0.0]), [2.0])
    np.testing.assert_allclose(InverseMap(pts, lat, k=1)([[0.4, 0.0], [1.9, 0.0]]), [[1.0], [3.0]])
    np.testing.assert_allclose(InverseMap(pts[:1], lat[:1])([5.0, 5.0]), [1.0])


def test_inverse_rejects_bad_input():
    with pytest.raises(ValueError):
        InverseMap(np.zeros((3, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError):
        InverseMap(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError):
        InverseMap(np.zeros((0, 2)), np.zeros((0, 2)))
