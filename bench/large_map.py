"""Benchmark: the 2-D maps of a large run (70,000 latents by default), as ``core.projection`` computes them.

A CelebA-sized run gives tens of thousands of latents. This script makes clustered synthetic latents of that
size (z_c and a style block, like a trained model's encoder means), then times
  - ``import umap`` (numba's compile cost, paid once per process);
  - ``compute_maps``: the z_c map and the style map, printing every progress report with the elapsed time
    (the explorer shows the same reports while it runs the job in a worker);
  - building the ``InverseMap`` of one map and answering single drag queries, at this size.
cuML's GPU UMAP is used by ``compute_maps`` when importable; the JSON says which one ran.

Usage:  .venv/bin/python bench/large_map.py [--points 70000] [--zc-dim 10] [--style-dim 6]
Readable lines first; the LAST line is one JSON object with all the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core import projection  # noqa: E402


def clustered_latents(n: int, zc_dim: int, style_dim: int, clusters: int = 10, seed: int = 0):
    """z_c [n, zc_dim] from ``clusters`` Gaussians (like class-conditional priors), style [n, style_dim] ~ N(0, I)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(clusters, zc_dim))
    labels = rng.integers(0, clusters, size=n)
    z_c = (centres[labels] + rng.normal(size=(n, zc_dim))).astype(np.float32)
    z_style = rng.normal(size=(n, style_dim)).astype(np.float32)
    return z_c, z_style, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=70_000)
    parser.add_argument("--zc-dim", type=int, default=10)
    parser.add_argument("--style-dim", type=int, default=6)
    parser.add_argument("--queries", type=int, default=2000, help="single InverseMap queries to time")
    args = parser.parse_args()

    z_c, z_style, _ = clustered_latents(args.points, args.zc_dim, args.style_dim)
    print(f"{args.points} latents: z_c {z_c.shape[1]}-D, style {z_style.shape[1]}-D; cpu cores {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)

    start = time.perf_counter()
    import umap  # noqa: F401  (numba compiles here on first use)
    import_seconds = time.perf_counter() - start
    print(f"import umap: {import_seconds:.1f} s", flush=True)

    reports: list[tuple[float, str, float]] = []
    start = time.perf_counter()

    def progress(phase: str, fraction: float) -> None:
        elapsed = time.perf_counter() - start
        reports.append((elapsed, phase, fraction))
        if "epoch" not in phase or int(fraction * 10) != int(reports[-2][2] * 10):  # epochs: every 10% only
            print(f"  [{elapsed:7.1f} s] {fraction * 100:5.1f}%  {phase}", flush=True)

    maps = projection.compute_maps(z_c, z_style, seed=0, progress=progress)
    total = time.perf_counter() - start
    # the two maps may be fitted at once (one per core): when did each finish?
    zc_done = next(t for t, phase, _ in reports if phase == "z_c: done")
    style_done = next(t for t, phase, _ in reports if phase == "z_s: done")
    backend = "cuml" if projection._cuml_available() else "umap-learn"
    print(f"compute_maps: {total:.1f} s in all (z_c map done at {zc_done:.1f} s, style map at {style_done:.1f} s), "
          f"{backend}", flush=True)
    assert maps.zc.shape == maps.style.shape == (args.points, 2)

    start = time.perf_counter()
    inverse = projection.InverseMap(maps.zc, z_c)
    build_seconds = time.perf_counter() - start
    rng = np.random.default_rng(1)
    lo, hi = maps.zc.min(0), maps.zc.max(0)
    queries = lo + rng.random((args.queries, 2)) * (hi - lo)
    times = []
    for xy in queries:
        t = time.perf_counter()
        inverse(xy)
        times.append(time.perf_counter() - t)
    times_us = np.array(times) * 1e6
    print(f"InverseMap: built in {build_seconds * 1e3:.0f} ms; one query p50 {np.percentile(times_us, 50):.0f} µs, "
          f"p95 {np.percentile(times_us, 95):.0f} µs", flush=True)

    print(json.dumps({
        "points": args.points, "zc_dim": args.zc_dim, "style_dim": args.style_dim, "backend": backend,
        "import_umap_s": round(import_seconds, 1), "compute_maps_s": round(total, 1),
        "zc_map_done_s": round(zc_done, 1), "style_map_done_s": round(style_done, 1),
        "progress_reports": len(reports), "inverse_build_ms": round(build_seconds * 1e3, 1),
        "inverse_query_p50_us": round(float(np.percentile(times_us, 50)), 1),
        "inverse_query_p95_us": round(float(np.percentile(times_us, 95)), 1),
        "cpu_cores": os.cpu_count(), "load_average": round(os.getloadavg()[0], 1), "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
