"""2-D maps of the latents (UMAP), their cache beside a run, and a fast map back from 2-D to a latent.

The explorer shows every encoded image as a point on a 2-D map of z_c and another of z_s. Fitting UMAP is slow
(numba compiles on the first fit, tens of seconds; later fits of 60,000 points still take several seconds), so
maps are computed once, in a background worker, and cached in an ``.npz`` beside the checkpoint.

Dragging a handle on a map asks "which latent sits under this 2-D point?" at mouse speed. umap-learn's
``inverse_transform`` needs close to a minute per point on 60,000 points, so ``InverseMap`` answers instead with
inverse-distance weighting over the nearest mapped points (a k-d tree query, tens of microseconds).

Nothing here imports Qt; umap is imported lazily inside ``fit_map`` because its import alone costs seconds.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.atomic import atomic_write_bytes
from core.knn import NeighbourBlend

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
ShouldStop = Callable[[], bool]

# Bump when the way maps are computed or stored changes, so old caches are recomputed rather than trusted.
CACHE_FORMAT = "ccvae-maps-v1;umap n_neighbors=15 min_dist=0.1"

# numba's default threading layer (workqueue) is not safe for concurrent callers from several Python threads,
# and two fits at once would only fight over the same cores anyway: one fit at a time, process-wide.
_FIT_LOCK = threading.Lock()


class Cancelled(Exception):
    """Raised by ``fit_map``/``compute_maps`` when ``should_stop()`` returned True between two phases."""


# --------------------------------------------------------------------------------------------------------------
# Fitting a map
# --------------------------------------------------------------------------------------------------------------

def _report(progress: Progress | None, phase: str, fraction: float) -> None:
    if progress is not None:
        progress(phase, float(fraction))


def _check_stop(should_stop: ShouldStop | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("map fit cancelled")


def _pad_to_2d(latents: np.ndarray) -> np.ndarray:
    """[N, D<=2] -> [N, 2] float32, zero columns appended when D < 2."""
    out = np.zeros((latents.shape[0], 2), dtype=np.float32)
    out[:, : latents.shape[1]] = latents
    return out


def _pca_2d(latents: np.ndarray) -> np.ndarray:
    """[N, D] -> [N, 2] float32: projection on the two leading principal axes (numpy SVD, no UMAP).

    Used for tiny N, where UMAP's neighbour graph is meaningless or fails.
    """
    n = latents.shape[0]
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32)
    centred = latents.astype(np.float64) - latents.mean(axis=0, dtype=np.float64)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    scores = u * s  # [N, min(N, D)]
    return _pad_to_2d(scores[:, :2].astype(np.float32))


def _fit_gpu_umap(latents: np.ndarray, seed: int, n_neighbors: int, min_dist: float) -> np.ndarray | None:
    """[N, D] -> [N, 2] with cuML's GPU UMAP, or None if cuML is missing or fails (then umap-learn is used)."""
    try:
        from cuml.manifold import UMAP as CumlUMAP  # optional; never a requirement
    except Exception:
        return None
    try:
        model = CumlUMAP(n_neighbors=n_neighbors, min_dist=min_dist, n_components=2, random_state=seed)
        out = model.fit_transform(latents)
        out = out.get() if hasattr(out, "get") else out  # cupy array -> numpy
        return np.asarray(out, dtype=np.float32)
    except Exception as exc:  # a broken GPU stack must not cost the user the map
        log.warning("cuML UMAP failed (%s); falling back to umap-learn", exc)
        return None


def _fit_umap_learn(umap_module, latents: np.ndarray, seed: int, n_neighbors: int, min_dist: float) -> np.ndarray:
    """[N, D] -> [N, 2] float32 with umap-learn, seeded with ``random_state=seed`` (hence single-threaded).

    Why accept the single thread: measured on this 2-core machine (10,000 points, 16-D), the parallel unseeded
    fit was slower (12-15 s vs 9-11 s seeded), and it was not repeatable even with numpy's global generator
    seeded (points moved by ~15% of the map's extent between two runs, because parallel NN-descent and the
    lock-free SGD race). A seeded fit gives the same map for the same latents, which the cache key relies on.
    umap-learn sets numba to one thread when seeded; numba's thread count is per calling thread, but we restore
    it anyway so a caller's later numba work keeps its parallelism.
    """
    import numba

    threads = numba.get_num_threads()
    try:
        model = umap_module.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, n_components=2, init="spectral",
                                 random_state=seed, transform_seed=seed, n_jobs=1)
        out = model.fit_transform(latents)
    finally:
        numba.set_num_threads(threads)
    return np.asarray(out, dtype=np.float32)


def fit_map(latents: np.ndarray, *, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
            progress: Progress | None = None, should_stop: ShouldStop | None = None) -> np.ndarray:
    """Fit a 2-D map of ``latents`` [N, D]; return [N, 2] float32.

    - D <= 2: the latents themselves (zero-padded to 2 columns); no fit.
    - N < n_neighbors + 2: PCA (UMAP's neighbour graph needs more points than neighbours).
    - otherwise UMAP: cuML on a GPU if importable, else umap-learn.
    ``progress(phase, fraction)`` hears "importing umap", "fitting" and "done" (umap-learn has no finer hook).
    ``should_stop()`` is polled between phases; a True answer raises ``Cancelled``. A fit already running inside
    UMAP cannot be interrupted. Fits are serialised by a process-wide lock (numba dislikes concurrent callers).
    """
    latents = np.asarray(latents, dtype=np.float32)
    if latents.ndim != 2:
        raise ValueError(f"latents must be [N, D], got shape {latents.shape}")
    _check_stop(should_stop)
    n, d = latents.shape
    if d <= 2 or n < n_neighbors + 2:
        _report(progress, "fitting", 0.5)
        out = _pad_to_2d(latents) if d <= 2 else _pca_2d(latents)
        _report(progress, "done", 1.0)
        return out

    _report(progress, "importing umap", 0.0)
    with _FIT_LOCK:
        out = _fit_gpu_umap(latents, seed, n_neighbors, min_dist) if _cuml_available() else None
        if out is None:
            import umap  # lazy: seconds of numba compile on first import

            _check_stop(should_stop)
            _report(progress, "fitting", 0.1)
            out = _fit_umap_learn(umap, latents, seed, n_neighbors, min_dist)
    _report(progress, "done", 1.0)
    return out


def _cuml_available() -> bool:
    """True if cuML can be found, without importing it (its import is heavy and may touch the GPU)."""
    import importlib.util

    try:
        return importlib.util.find_spec("cuml") is not None
    except (ImportError, ValueError):
        return False


# --------------------------------------------------------------------------------------------------------------
# Maps of a run and their cache
# --------------------------------------------------------------------------------------------------------------

@dataclass
class LatentMaps:
    zc: np.ndarray     # [N, 2] float32, map of the characteristic latents z_c
    style: np.ndarray  # [N, 2] float32, map of the style latents z_s
    key: str           # maps_cache_key of the latents and seed they were computed from


def maps_cache_key(z_c: np.ndarray, z_style: np.ndarray, seed: int) -> str:
    """sha256 hex digest of the format version, seed, and both arrays' dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(CACHE_FORMAT.encode())
    h.update(f";seed={int(seed)}".encode())
    for name, arr in (("zc", z_c), ("style", z_style)):
        arr = np.ascontiguousarray(arr)
        h.update(f";{name}:{arr.dtype.str}:{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _progress_slice(progress: Progress | None, lo: float, hi: float, label: str) -> Progress | None:
    """Map a sub-fit's fraction in [0, 1] onto [lo, hi] of the whole job and prefix its phase with ``label``."""
    if progress is None:
        return None
    return lambda phase, frac: progress(f"{label}: {phase}", lo + (hi - lo) * frac)


def compute_maps(z_c: np.ndarray, z_style: np.ndarray, *, seed: int = 0, progress: Progress | None = None,
                 should_stop: ShouldStop | None = None) -> LatentMaps:
    """Fit the z_c map and the z_s map. z_c: [N, Dc], z_style: [N, Ds] -> LatentMaps with two [N, 2] maps."""
    if len(z_c) != len(z_style):
        raise ValueError(f"z_c and z_style disagree on N: {len(z_c)} vs {len(z_style)}")
    key = maps_cache_key(z_c, z_style, seed)
    zc_map = fit_map(z_c, seed=seed, progress=_progress_slice(progress, 0.0, 0.5, "z_c"), should_stop=should_stop)
    style_map = fit_map(z_style, seed=seed, progress=_progress_slice(progress, 0.5, 1.0, "z_s"),
                        should_stop=should_stop)
    return LatentMaps(zc=zc_map, style=style_map, key=key)


def save_maps(path: str | os.PathLike, maps: LatentMaps) -> None:
    """Write ``maps`` to ``path`` (.npz, no pickled objects) atomically; creates the parent folder."""
    buf = io.BytesIO()
    np.savez(buf, zc=np.asarray(maps.zc, dtype=np.float32), style=np.asarray(maps.style, dtype=np.float32),
             key=np.array(maps.key))  # a unicode array, loadable with allow_pickle=False
    atomic_write_bytes(path, buf.getvalue())


def load_maps(path: str | os.PathLike, expected_key: str | None = None) -> LatentMaps | None:
    """Read maps saved by ``save_maps``; None if the file is missing, unreadable, malformed or has another key."""
    try:
        with np.load(os.fspath(path), allow_pickle=False) as data:
            key = str(data["key"][()])
            zc = np.asarray(data["zc"], dtype=np.float32)
            style = np.asarray(data["style"], dtype=np.float32)
    except FileNotFoundError:
        return None
    except Exception as exc:  # corrupt zip, truncated file, missing arrays, object arrays: recompute instead
        log.warning("ignoring unreadable maps cache %s: %s", path, exc)
        return None
    if expected_key is not None and key != expected_key:
        return None
    if zc.ndim != 2 or zc.shape[1] != 2 or style.shape != zc.shape:
        log.warning("ignoring maps cache %s with shapes %s and %s", path, zc.shape, style.shape)
        return None
    return LatentMaps(zc=zc, style=style, key=key)


def load_or_compute_maps(path: str | os.PathLike, z_c: np.ndarray, z_style: np.ndarray, *, seed: int = 0,
                         progress: Progress | None = None, should_stop: ShouldStop | None = None) -> LatentMaps:
    """Cached maps at ``path`` if they match these latents and seed, else compute them and (try to) cache them.

    A failure to write the cache (read-only folder, full disk) is logged, not raised: the maps are still good.
    """
    key = maps_cache_key(z_c, z_style, seed)
    maps = load_maps(path, expected_key=key)
    if maps is not None and len(maps.zc) == len(z_c):
        _report(progress, "loaded from cache", 1.0)
        return maps
    maps = compute_maps(z_c, z_style, seed=seed, progress=progress, should_stop=should_stop)
    try:
        save_maps(path, maps)
    except OSError as exc:
        log.warning("could not cache maps at %s: %s", path, exc)
    return maps


# --------------------------------------------------------------------------------------------------------------
# From a 2-D point back to a latent
# --------------------------------------------------------------------------------------------------------------

class InverseMap(NeighbourBlend):
    """Fast map from a 2-D point on a map back to a latent: inverse-distance weighting over the k nearest mapped
    points (``core.knn.NeighbourBlend`` with the map points as keys; its docstring states the estimate)."""

    def __init__(self, points_2d: np.ndarray, latents: np.ndarray, k: int = 8):
        """points_2d: [N, 2] map coordinates; latents: [N, D] the latents they came from; k >= 1 neighbours."""
        points = np.asarray(points_2d, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"points_2d must be [N, 2], got {points.shape}")
        if np.ndim(latents) != 2 or len(latents) != len(points):
            raise ValueError(f"latents must be [N, D] with N = {len(points)}, got {np.shape(latents)}")
        if len(points) == 0:
            raise ValueError("InverseMap needs at least one point")
        super().__init__(points, latents, k)

    @property
    def latents(self) -> np.ndarray:
        return self.values
