"""2-D maps of the latents (UMAP), their cache beside a run, and a fast map back from 2-D to a latent.

The explorer shows every encoded image as a point on a 2-D map of z_c and another of z_s. The maps are umap-learn's
algorithm on exact neighbours, with its numba kernels cached on disk (see "umap-learn's algorithm, driven from
here" below for where a plain ``umap.UMAP`` fit loses its time); they are computed once, at the end of training or
in the explorer's background worker, and cached in an ``.npz`` beside the checkpoint.

Dragging a handle on a map asks "which latent sits under this 2-D point?" at mouse speed. umap-learn's
``inverse_transform`` needs close to a minute per point on 60,000 points, so ``InverseMap`` answers instead with
inverse-distance weighting over the nearest mapped points (a k-d tree query, tens of microseconds).

Nothing here imports Qt; umap is imported lazily inside ``fit_map`` because its import alone costs seconds (tens of
seconds the first time after install, while numba fills its cache).
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
from scipy.spatial import cKDTree

from core.atomic import atomic_write_bytes
from core.knn import NeighbourBlend

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
ShouldStop = Callable[[], bool]

# Bump when the way maps are stored, or what they show, changes, so old caches are recomputed rather than trusted.
# (Exact instead of NN-descent neighbours changed how a map is computed, not what it is: a UMAP map of these
# latents with these settings. Caches made before, like the embedded run's, stay valid.)
CACHE_FORMAT = "ccvae-maps-v1;umap n_neighbors=15 min_dist=0.1"
# Maps of more than SPECTRAL_LANDMARKS points start from the spectral layout of landmarks (see _initial_layout),
# so the same latents and seed give another map than before: their key also holds this, and older caches of such
# maps are recomputed. Maps of fewer points are computed as before and keep their key.
LANDMARKS_FORMAT = ";v2 init=spectral layout of {} landmarks"

# umap-learn's own UMAP class (the fallback) and cuML run parallel numba or GPU code that is not safe for
# concurrent callers from several Python threads: those fits take this lock. Our serial kernels need none.
_FIT_LOCK = threading.Lock()


class Cancelled(Exception):
    """Raised by ``fit_map``/``compute_maps`` when ``should_stop()`` returned True (checked between phases and
    after every optimisation epoch)."""


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
    """[N, D] -> [N, 2] float32: projection on the two leading principal axes (no UMAP), each axis signed so that
    its largest loading is positive (the same latents always give the same picture).

    Used for tiny N, where UMAP's neighbour graph is meaningless or fails, and as the provisional map. The axes
    come from the [D, D] covariance, not an SVD of [N, D]: tens of milliseconds for 70,000 points.
    """
    n, d = latents.shape
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32)
    centred = latents.astype(np.float64) - latents.mean(axis=0, dtype=np.float64)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    axes = vectors[:, ::-1][:, : min(2, d)]
    axes = axes * np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    return _pad_to_2d((centred @ axes).astype(np.float32))


def _fit_gpu_umap(latents: np.ndarray, seed: int, n_neighbors: int, min_dist: float,
                  init: np.ndarray | None = None, epochs: int | None = None) -> np.ndarray | None:
    """[N, D] -> [N, 2] with cuML's GPU UMAP, or None if cuML is missing or fails (then umap-learn is used)."""
    try:
        from cuml.manifold import UMAP as CumlUMAP  # optional; never a requirement
    except Exception:
        return None
    try:
        model = CumlUMAP(n_neighbors=n_neighbors, min_dist=min_dist, n_components=2, random_state=seed,
                         **({} if epochs is None else {"n_epochs": int(epochs)}))
        out = model.fit_transform(latents) if init is None else model.fit_transform(latents, init=init)
        out = out.get() if hasattr(out, "get") else out  # cupy array -> numpy
        return np.asarray(out, dtype=np.float32)
    except Exception as exc:  # a broken GPU stack must not cost the user the map
        log.warning("cuML UMAP failed (%s); falling back to umap-learn", exc)
        return None


def _fit_umap_learn(umap_module, latents: np.ndarray, seed: int, n_neighbors: int, min_dist: float,
                    init: np.ndarray | None = None, epochs: int | None = None) -> np.ndarray:
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
        model = umap_module.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, n_components=2,
                                 init="spectral" if init is None else np.asarray(init, dtype=np.float32),
                                 random_state=seed, transform_seed=seed, n_jobs=1, n_epochs=epochs)
        out = model.fit_transform(latents)
    finally:
        numba.set_num_threads(threads)
    return np.asarray(out, dtype=np.float32)


# --------------------------------------------------------------------------------------------------------------
# umap-learn's algorithm, driven from here so that a new process does not spend a minute compiling
# --------------------------------------------------------------------------------------------------------------
#
# Where a cold ``umap.UMAP(random_state=seed).fit_transform`` spends its time (bench/map_time.py): numba compiles
# pynndescent's NN-descent and umap-learn's graph and layout functions in every process, because none of those
# functions is compiled with ``cache=True`` (a NUMBA_CACHE_DIR does not help). The neighbour search itself, the
# spectral initialisation and the optimisation are a few seconds at 5,000 points. So the fit below runs
# umap-learn's own steps, with two changes that leave the algorithm as it is:
# - the neighbours are exact, from scipy's cKDTree (the latents have at most a few hundred dimensions; NN-descent
#   only approximates them), so NN-descent never compiles. (Importing umap-learn imports pynndescent, whose
#   import compiles some functions into numba's cache the first time after install: about 15 CPU seconds once,
#   1.3 s to load them later; compute_maps runs that import while the neighbour searches run.)
# - umap-learn's numba kernels (the membership strengths of the fuzzy graph and the optimisation epoch) are compiled
#   again from the same Python functions with ``cache=True`` and ``nogil=True``: the first process after install
#   compiles them once into numba's cache (next to umap-learn, or the user's cache folder where that is read-only),
#   later processes load them, and the two maps of a run can be fitted at once on two cores.
# The epoch loop is ours so that progress is reported, and a stop honoured, after every optimisation epoch. Each
# epoch is serial: umap-learn's parallel epoch lets threads race on the shared coordinates, so the same seed would
# not give the same map (the cache key relies on it), and with two maps fitted at once both cores work anyway.
#
# Where a 70,000-point map spent its time (Fashion-MNIST latents encoded by the embedded model, z_c 10-D, one
# core, CPU seconds): neighbours 4.7, fuzzy graph 0.3, spectral initialisation 9.2, 200 epochs 25. Above
# SPECTRAL_LANDMARKS points the initialisation therefore comes from landmarks (1.1 s, see _initial_layout), which
# changes the map for the same latents and seed: such maps have their own cache key (LANDMARKS_FORMAT).
# umap-learn's 200 epochs stay: 100 epochs lost neighbours (share of 15 nearest kept 0.152 against 0.156).

_NO_KERNELS = object()
_kernels = None
_kernels_lock = threading.Lock()


@dataclass
class _UmapKernels:
    umap_: object      # the umap.umap_ module (find_ab_params, make_epochs_per_sample, noisy_scale_coords, ...)
    spectral: object   # umap.spectral.spectral_layout
    smooth_knn_dist: Callable
    membership_strengths: Callable
    epoch: Callable


def _umap_kernels() -> _UmapKernels | None:
    """umap-learn's functions and cached, GIL-free compilations of its numba kernels; None if this umap-learn
    lacks them (then ``_fit_umap_learn`` runs the ``UMAP`` class instead)."""
    global _kernels
    with _kernels_lock:
        if _kernels is None:
            _kernels = _build_kernels()
        return None if _kernels is _NO_KERNELS else _kernels


def _build_kernels():
    try:
        import numba
        import umap.layouts as layouts
        import umap.spectral as spectral
        import umap.umap_ as umap_

        def cached(dispatcher_or_function):
            # same Python source, same numba options (locals, fastmath), but serial, cached and releasing the GIL
            func = getattr(dispatcher_or_function, "py_func", dispatcher_or_function)
            options = dict(getattr(dispatcher_or_function, "targetoptions", {}))
            options.pop("nopython", None)
            options.update(parallel=False, cache=True, nogil=True)
            return numba.njit(**options)(func)

        return _UmapKernels(
            umap_=umap_, spectral=spectral.spectral_layout,
            smooth_knn_dist=cached(umap_.smooth_knn_dist),
            membership_strengths=cached(umap_.compute_membership_strengths),
            epoch=numba.njit(fastmath=True, parallel=False, cache=True, nogil=True)(
                layouts._optimize_layout_euclidean_single_epoch))
    except (ImportError, AttributeError) as exc:  # another umap-learn layout: the slower UMAP class still works
        log.warning("umap-learn's internals are not where expected (%s); using its UMAP class", exc)
        return _NO_KERNELS


def exact_neighbours(latents: np.ndarray, k: int, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """[N, D] -> (indices [N, k] int32, distances [N, k] float32) of each point's k nearest points, itself included.

    Exact (a k-d tree), so the same latents always give the same neighbours.
    """
    dist, idx = cKDTree(latents).query(latents, k=k, workers=workers)
    return np.ascontiguousarray(idx, dtype=np.int32), np.ascontiguousarray(dist, dtype=np.float32)


# Above this many points the spectral initialisation is computed on this many landmarks (see _initial_layout).
SPECTRAL_LANDMARKS = 10_000


def default_epochs(n: int) -> int:
    """umap-learn's default number of optimisation epochs for N points (fewer lose neighbours; see above)."""
    return 500 if n <= 10_000 else 200


# Epochs for a map that starts from an earlier map of the same points (``init``). Measured on the default run's
# 5,000 points, latents moved by 10% of their spread: 100 epochs took 2.6 s for both maps against 14.8 s for 500,
# and moved the points less (median 0.44 / 0.71 of the 10-unit map against 0.74 / 0.90; a fresh fit: 1.85 / 6.6).
WARM_START_EPOCHS = 100


def _fuzzy_graph(kern: _UmapKernels, knn_idx: np.ndarray, knn_dist: np.ndarray, n_neighbors: int):
    """umap-learn's fuzzy simplicial set (local connectivity 1, fuzzy union) of a kNN graph -> scipy COO [N, N]."""
    import scipy.sparse

    n = len(knn_idx)
    sigmas, rhos = kern.smooth_knn_dist(knn_dist, float(n_neighbors), local_connectivity=1.0)
    rows, cols, vals, _ = kern.membership_strengths(knn_idx, knn_dist, sigmas, rhos, False, False)
    graph = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(n, n))
    graph.eliminate_zeros()
    transpose = graph.transpose()
    graph = (graph + transpose - graph.multiply(transpose)).tocoo()
    graph.sum_duplicates()
    graph.eliminate_zeros()
    return graph


def _prune(graph, n_epochs: int) -> None:
    """Drop the edges too weak to be sampled even once in ``n_epochs`` (umap-learn does the same), in place."""
    graph.data[graph.data < graph.data.max() / float(n_epochs)] = 0.0
    graph.eliminate_zeros()


def _initial_layout(kern: _UmapKernels, latents: np.ndarray, graph, n_neighbors: int,
                    random_state: np.random.RandomState) -> np.ndarray:
    """[N, 2] starting layout: umap-learn's spectral layout of the fuzzy graph; above ``SPECTRAL_LANDMARKS``
    points, the spectral layout of that many seeded landmarks, every point placed at the mean of its 3 nearest.

    Why landmarks: the spectral layout solves an eigenproblem of the whole graph (ARPACK, smallest eigenvalues of
    the Laplacian), which at 70,000 points took as long as the 200 optimisation epochs (Fashion-MNIST latents,
    10-D: 9-20 s), while 10,000 landmarks take about a second. The starting layout only has to put the graph's
    islands in roughly the right places; the epochs then arrange every point. Measured with bench/map_time.py's
    neighbour share (each point's 15 nearest latents kept on the map) the final maps are as good as from the
    full spectral layout (see the README's table).
    """
    n = len(latents)
    if n <= SPECTRAL_LANDMARKS:
        return kern.spectral(latents, graph, 2, random_state)
    pick = np.sort(random_state.choice(n, SPECTRAL_LANDMARKS, replace=False))
    landmarks = latents[pick]
    idx, dist = exact_neighbours(landmarks, n_neighbors)
    landmark_graph = _fuzzy_graph(kern, idx, dist, n_neighbors)
    _prune(landmark_graph, default_epochs(SPECTRAL_LANDMARKS))
    layout = kern.spectral(landmarks, landmark_graph, 2, random_state)
    _, nearest = cKDTree(landmarks).query(latents, k=3)
    return layout[nearest].mean(axis=1)


def _fit_umap_kernels(kern: _UmapKernels, latents: np.ndarray, knn: tuple[np.ndarray, np.ndarray], seed: int,
                      n_neighbors: int, min_dist: float, progress: Progress | None, should_stop: ShouldStop | None,
                      init: np.ndarray | None = None, epochs: int | None = None) -> np.ndarray:
    """[N, D] -> [N, 2] float32: umap-learn's fit (spectral init, or ``init`` [N, 2], then its SGD epochs) on the
    exact neighbours ``knn`` (``exact_neighbours(latents, n_neighbors)``), seeded.

    Mirrors ``umap.umap_.simplicial_set_embedding`` for a Euclidean input and output without densMAP: same
    graph pruning, epochs per sample, initial scaling, learning-rate schedule and negative sampling.
    """
    u = kern.umap_
    n = len(latents)
    random_state = np.random.RandomState(seed)
    knn_idx, knn_dist = knn
    _report(progress, "neighbour graph", 0.08)
    graph = _fuzzy_graph(kern, knn_idx, knn_dist, n_neighbors)
    n_epochs = int(epochs) if epochs is not None else default_epochs(n)
    _prune(graph, n_epochs)
    _check_stop(should_stop)
    if init is None:
        _report(progress, "spectral initialisation", 0.12)
        embedding = _initial_layout(kern, latents, graph, n_neighbors, random_state)
        embedding = u.noisy_scale_coords(embedding, random_state, max_coord=10, noise=0.0001)
    else:  # as umap-learn takes an init array: used as it is, then scaled to [0, 10] like a spectral one
        embedding = np.array(init, dtype=np.float64)
    embedding = (10.0 * (embedding - embedding.min(0)) / (embedding.max(0) - embedding.min(0))).astype(np.float32, order="C")
    a, b = u.find_ab_params(1.0, min_dist)
    epochs_per_sample = u.make_epochs_per_sample(graph.data, n_epochs)
    rng_state = random_state.randint(u.INT32_MIN, u.INT32_MAX, 3).astype(np.int64)
    head, tail = graph.row, graph.col
    epochs_per_negative_sample = epochs_per_sample / 5.0  # negative_sample_rate 5
    next_negative = epochs_per_negative_sample.copy()
    next_sample = epochs_per_sample.copy()
    rng_per_sample = np.full((n, len(rng_state)), rng_state, dtype=np.int64) + \
        embedding[:, 0].astype(np.float64).view(np.int64).reshape(-1, 1)
    zeros = np.zeros(1, dtype=np.float32)
    alpha = 1.0
    _report(progress, f"optimising, epoch 0/{n_epochs}", 0.15)
    for epoch in range(n_epochs):
        _check_stop(should_stop)
        kern.epoch(embedding, embedding, head, tail, n, epochs_per_sample, a, b, rng_per_sample, 1.0, 2, True, alpha,
                   epochs_per_negative_sample, next_negative, next_sample, epoch, False, zeros, zeros, 0, 0, 0, 0,
                   zeros, zeros, 0)
        alpha = 1.0 - epoch / float(n_epochs)
        _report(progress, f"optimising, epoch {epoch + 1}/{n_epochs}", 0.15 + 0.85 * (epoch + 1) / n_epochs)
    return embedding


def fit_map(latents: np.ndarray, *, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
            progress: Progress | None = None, should_stop: ShouldStop | None = None, workers: int = 1,
            init: np.ndarray | None = None, epochs: int | None = None) -> np.ndarray:
    """Fit a 2-D map of ``latents`` [N, D]; return [N, 2] float32. The same latents and seed give the same map.

    ``init`` [N, 2] (e.g. the map of the same points under an earlier model) replaces the spectral start, so the
    new map keeps the old layout where the latents allow: points move rather than jump (the explorer's live view
    of a run in training). Such a map depends on ``init`` too, so it is never cached under ``maps_cache_key``.
    ``epochs``: optimisation epochs (default umap-learn's, ``default_epochs``); a start from a settled layout
    needs fewer (see ``WARM_START_EPOCHS``).

    - D <= 2: the latents themselves (zero-padded to 2 columns); no fit.
    - N < n_neighbors + 2: PCA (UMAP's neighbour graph needs more points than neighbours).
    - otherwise UMAP: cuML on a GPU if importable, else umap-learn's algorithm on exact neighbours (see above).
    ``progress(phase, fraction)`` hears the phases and every optimisation epoch. ``should_stop()`` is polled
    between phases and epochs; a True answer raises ``Cancelled``. ``workers``: threads for the neighbour search.
    """
    latents = np.asarray(latents, dtype=np.float32)
    if latents.ndim != 2:
        raise ValueError(f"latents must be [N, D], got shape {latents.shape}")
    _check_stop(should_stop)
    n, d = latents.shape
    if init is not None and np.shape(init) != (n, 2):
        raise ValueError(f"init must be [{n}, 2] for {n} latents, got shape {np.shape(init)}")
    if d <= 2 or n < n_neighbors + 2:
        _report(progress, "fitting", 0.5)
        out = _pad_to_2d(latents) if d <= 2 else _pca_2d(latents)
        _report(progress, "done", 1.0)
        return out

    if _cuml_available():
        with _FIT_LOCK:
            out = _fit_gpu_umap(latents, seed, n_neighbors, min_dist, init, epochs)
        if out is not None:
            _report(progress, "done", 1.0)
            return out
    # The neighbour search comes first: it releases the GIL, so it runs while another thread imports umap-learn
    # (seconds warm, about 15 s of numba compiling the first time after install).
    _report(progress, "nearest neighbours", 0.0)
    knn = exact_neighbours(latents, n_neighbors, workers)
    _check_stop(should_stop)
    _report(progress, "loading umap-learn", 0.06)
    kern = _umap_kernels()
    _check_stop(should_stop)
    if kern is not None:  # serial, GIL-free kernels: several fits may run at once
        out = _fit_umap_kernels(kern, latents, knn, seed, n_neighbors, min_dist, progress, should_stop, init,
                                epochs)
    else:
        import umap

        with _FIT_LOCK:
            _report(progress, "fitting", 0.1)
            out = _fit_umap_learn(umap, latents, seed, n_neighbors, min_dist, init, epochs)
    _report(progress, "done", 1.0)
    return np.asarray(out, dtype=np.float32)


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
    key: str           # maps_cache_key of the latents and seed they were computed from ("" if provisional)
    provisional: bool = False  # a PCA stand-in shown until the UMAP maps are ready; never cached


def provisional_maps(z_c: np.ndarray, z_style: np.ndarray) -> LatentMaps:
    """PCA maps of both latents, to show at once while the UMAP maps are computed (70,000 points: milliseconds)."""
    return LatentMaps(zc=_pca_2d(np.asarray(z_c, dtype=np.float32)),
                      style=_pca_2d(np.asarray(z_style, dtype=np.float32)), key="", provisional=True)


def maps_cache_key(z_c: np.ndarray, z_style: np.ndarray, seed: int) -> str:
    """sha256 hex digest of the format version (with the landmarks' count for maps that use them), seed, and both
    arrays' dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(CACHE_FORMAT.encode())
    if len(z_c) > SPECTRAL_LANDMARKS:
        h.update(LANDMARKS_FORMAT.format(SPECTRAL_LANDMARKS).encode())
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


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def compute_maps(z_c: np.ndarray, z_style: np.ndarray, *, seed: int = 0, progress: Progress | None = None,
                 should_stop: ShouldStop | None = None, init: LatentMaps | None = None,
                 epochs: int | None = None) -> LatentMaps:
    """Fit the z_c map and the z_s map. z_c: [N, Dc], z_style: [N, Ds] -> LatentMaps with two [N, 2] maps.

    ``init``: earlier maps of the same points to start from (``fit_map``'s ``init``); the maps returned then carry
    no cache key (""), since they are not the maps of these latents and seed alone. ``epochs``: ``fit_map``'s.

    With two cores or more the two fits run at once, one per thread (each fit is serial; the neighbour search and
    umap-learn's kernels, compiled GIL-free, let both threads run), while a third thread imports umap-learn.
    ``progress`` then hears both, serialised, from either thread; its fraction is the mean of
    the two fits'. Each map depends only on its own latents and the seed, so running them at once changes nothing.
    """
    if len(z_c) != len(z_style):
        raise ValueError(f"z_c and z_style disagree on N: {len(z_c)} vs {len(z_style)}")
    key = maps_cache_key(z_c, z_style, seed) if init is None else ""
    starts = {"z_c": None if init is None else init.zc, "z_s": None if init is None else init.style}
    cores = _usable_cores()
    if cores < 2 or _cuml_available():
        zc_map = fit_map(z_c, seed=seed, progress=_progress_slice(progress, 0.0, 0.5, "z_c"),
                         should_stop=should_stop, workers=cores, init=starts["z_c"], epochs=epochs)
        style_map = fit_map(z_style, seed=seed, progress=_progress_slice(progress, 0.5, 1.0, "z_s"),
                            should_stop=should_stop, workers=cores, init=starts["z_s"], epochs=epochs)
        return LatentMaps(zc=zc_map, style=style_map, key=key)

    lock = threading.Lock()
    fractions = {"z_c": 0.0, "z_s": 0.0}
    failed = threading.Event()  # one fit failing or cancelled stops the other at its next epoch

    def part_progress(label: str) -> Progress:
        def report(phase: str, fraction: float) -> None:
            with lock:
                fractions[label] = fraction
                if progress is not None:
                    progress(f"{label}: {phase}", sum(fractions.values()) / 2)
        return report

    def stop() -> bool:
        return failed.is_set() or (should_stop is not None and should_stop())

    # umap-learn's import holds the GIL (numba loading, or the first time compiling, pynndescent's functions):
    # start it now, so that it runs while both fits search their neighbours, which release the GIL.
    threading.Thread(target=_umap_kernels, name="load umap-learn", daemon=True).start()
    results: dict[str, np.ndarray] = {}
    errors: list[BaseException] = []

    def fit(label: str, latents: np.ndarray) -> None:
        try:
            results[label] = fit_map(latents, seed=seed, progress=part_progress(label), should_stop=stop,
                                     workers=max(1, cores // 2), init=starts[label], epochs=epochs)
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)
            failed.set()

    style_thread = threading.Thread(target=fit, args=("z_s", z_style), name="style map", daemon=True)
    style_thread.start()
    fit("z_c", z_c)
    style_thread.join()
    if errors:  # a real error before a Cancelled it caused in the other fit
        raise next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
    return LatentMaps(zc=results["z_c"], style=results["z_s"], key=key)


def save_maps(path: str | os.PathLike, maps: LatentMaps) -> None:
    """Write ``maps`` to ``path`` (.npz, no pickled objects) atomically; creates the parent folder."""
    if maps.provisional:
        raise ValueError("provisional maps are never cached")
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
        # numpy's own text for a file that is not an .npz suggests loading it with pickle: name the kind instead
        log.warning("ignoring unreadable maps cache %s (%s); the maps are computed again", path, type(exc).__name__)
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
