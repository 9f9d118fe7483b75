"""Benchmark: InverseMap (k-NN inverse-distance weighting) against umap-learn's inverse_transform.

Dragging a handle on the explorer's map needs a latent for every mouse move. This script fits a real UMAP map
of clustered latents, then times
  - InverseMap queries, one at a time, along drag-like random walks across the map (p50/p95/mean in µs);
  - umap-learn's ``inverse_transform`` on 3 points of the same fitted map (seconds each).
It also reports how far apart the two answers are, relative to the spread of a cluster.

Usage:  .venv/bin/python bench/inverse_map.py [--points 10000] [--dim 16] [--queries 3000] [--skip-umap-inverse]
Readable lines first; the LAST line is one JSON object with all the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.projection import InverseMap  # noqa: E402


def clustered_latents(n: int, dim: int, clusters: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n latents [n, dim] float32 from ``clusters`` unit Gaussians with centres ~ N(0, 4^2 I), and labels [n]."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(clusters, dim))
    labels = rng.integers(0, clusters, size=n)
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels


def drag_paths(points_2d: np.ndarray, n_queries: int, steps_per_path: int = 150, seed: int = 1) -> np.ndarray:
    """[n_queries, 2] positions of a mouse dragging: random walks from data points, steps ~ 0.3% of the map."""
    rng = np.random.default_rng(seed)
    extent = np.ptp(points_2d, axis=0)
    n_paths = -(-n_queries // steps_per_path)
    starts = points_2d[rng.integers(0, len(points_2d), size=n_paths)]
    steps = rng.normal(scale=0.003 * extent, size=(n_paths, steps_per_path, 2))
    return (starts[:, None, :] + np.cumsum(steps, axis=1)).reshape(-1, 2)[:n_queries]


def time_inverse_map(inv: InverseMap, queries: np.ndarray) -> dict:
    """Time single-point queries one by one (as a drag does) and one batched call; microseconds."""
    for q in queries[:50]:  # warm caches and numpy's dispatch
        inv(q)
    times = np.empty(len(queries))
    for i, q in enumerate(queries):
        t0 = time.perf_counter_ns()
        inv(q)
        times[i] = (time.perf_counter_ns() - t0) / 1e3
    t0 = time.perf_counter()
    inv(queries)
    batch_us = (time.perf_counter() - t0) * 1e6 / len(queries)
    return {"p50_us": float(np.percentile(times, 50)), "p95_us": float(np.percentile(times, 95)),
            "mean_us": float(times.mean()), "max_us": float(times.max()), "batch_us_per_point": batch_us}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--clusters", type=int, default=10)
    ap.add_argument("--queries", type=int, default=3000)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-umap-inverse", action="store_true", help="do not time umap-learn's inverse_transform")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")  # umap/numba chatter would bury the figures

    latents, _ = clustered_latents(args.points, args.dim, args.clusters, args.seed)
    print(f"{args.points} latents of dim {args.dim} in {args.clusters} clusters; {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}", flush=True)

    t0 = time.perf_counter()
    import umap
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    # The same settings as core.projection.fit_map, but keeping the model for inverse_transform.
    model = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=args.seed, transform_seed=args.seed, n_jobs=1)
    points_2d = model.fit_transform(latents).astype(np.float32)
    fit_s = time.perf_counter() - t0
    print(f"umap import {import_s:.1f} s, fit {fit_s:.1f} s (first fit includes numba compile)", flush=True)

    t0 = time.perf_counter()
    inv = InverseMap(points_2d, latents, k=args.k)
    build_ms = (time.perf_counter() - t0) * 1e3
    queries = drag_paths(points_2d, args.queries)
    timing = time_inverse_map(inv, queries)
    print(f"InverseMap build {build_ms:.1f} ms; {len(queries)} drag queries: p50 {timing['p50_us']:.1f} µs, "
          f"p95 {timing['p95_us']:.1f} µs, mean {timing['mean_us']:.1f} µs, max {timing['max_us']:.0f} µs; "
          f"batched {timing['batch_us_per_point']:.2f} µs/point", flush=True)

    result = {"points": args.points, "dim": args.dim, "k": args.k, "cpus": os.cpu_count(),
              "umap_import_s": round(import_s, 2), "umap_fit_s": round(fit_s, 2),
              "inverse_map_build_ms": round(build_ms, 2), "queries": len(queries),
              **{k: round(v, 2) for k, v in timing.items()}}

    if not args.skip_umap_inverse:
        probe = queries[np.linspace(0, len(queries) - 1, 3).astype(int)]
        secs, gaps = [], []
        for p in probe:
            t0 = time.perf_counter()
            z_umap = model.inverse_transform(p[None, :].astype(np.float32))[0]
            secs.append(time.perf_counter() - t0)
            gaps.append(float(np.linalg.norm(z_umap - inv(p))))  # a unit-Gaussian cluster has radius ~sqrt(dim)
            print(f"umap inverse_transform at ({p[0]:.2f}, {p[1]:.2f}): {secs[-1]:.1f} s; "
                  f"|z_umap - z_inverse_map| = {gaps[-1]:.2f} (cluster radius ~{np.sqrt(args.dim):.1f})", flush=True)
        median_s = float(np.median(secs))
        result.update({"umap_inverse_s": [round(s, 2) for s in secs], "umap_inverse_median_s": round(median_s, 2),
                       "answer_gap_l2": [round(g, 2) for g in gaps],
                       "speedup_p50": round(median_s * 1e6 / timing["p50_us"])})
        print(f"InverseMap is {result['speedup_p50']:,}x faster than inverse_transform (median vs p50)")

    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
