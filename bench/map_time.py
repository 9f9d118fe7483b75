"""Benchmark: how long the 2-D maps take in a new process, ours (core.projection) next to umap-learn's default call.

"Cold" is a new process with an empty numba cache (NUMBA_CACHE_DIR pointing at a fresh folder: what the first
run after installing sees); "warm" is the next new process with that cache kept. Each fit runs in its own child
process so the compile costs are counted as a user meets them.

Sections, all in one run so that ratios are not at the mercy of the shared machine's load:
  small   the z_c and style maps of 5,000 latents (assets/default_run, real mnist5k latents), four ways:
          ours cold, ours warm, ``umap.UMAP(random_state=seed).fit_transform`` cold and warm (the seeded default
          call, the one that gives a repeatable map). Also: do ours cold and warm give the same map (the cache key
          relies on it), and how well each map keeps the latents' 15 nearest neighbours (mean share kept).
  large   both maps of --large-points latents (default 70,000) with ours, each in a new process: cold (empty
          numba cache), then warm (that cache kept), with each map's phases timed (neighbours, graph,
          initialisation, optimisation) and the share of 15 nearest latents kept on each map.
          The latents are Fashion-MNIST's 70,000 images encoded by assets/default_run's model (z_c 10-D,
          style 6-D) when /usr/share/datasets/fashion-mnist holds the IDX files, else clustered synthetic
          latents of the same sizes; the JSON says which. --large-default also times umap-learn's call there.
  finish  (--finish) the finish phase of `train_cli.py --epochs 1` on mnist5k: finish_seconds of a first run
          with an empty numba cache, then of a second run with that cache.

Usage:  .venv/bin/python bench/map_time.py [--sections small large finish] [--large-points 70000]
Readable lines first; the LAST line is one JSON object with all the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


# ---------------------------------------------------------------------------------------------------- child side
def child(mode: str, latents_path: str, out_path: str, seed: int) -> None:
    """Fit both maps of the latents in ``latents_path`` the ``mode`` way; write maps and timings to ``out_path``."""
    start = time.perf_counter()
    with np.load(latents_path) as f:
        z_c, z_style = f["z_c"], f["z_style"]
    times: dict[str, float] = {}
    if mode == "ours":
        from core import projection

        # per map (z_c, z_s): when each phase was first reported, in wall seconds from the process start and in
        # CPU seconds of the thread fitting that map (steady on a loaded machine); the durations are the gaps
        # between them ("optimising" runs from its epoch 0 report to "done")
        reached: dict[str, dict[str, tuple[float, float]]] = {"z_c": {}, "z_s": {}}

        def progress(phase: str, fraction: float) -> None:
            label, name = phase.split(":", 1)
            reached[label].setdefault(name.strip().split(",")[0], (time.perf_counter() - start, time.thread_time()))

        maps = projection.compute_maps(z_c, z_style, seed=seed, progress=progress)
        zc_map, style_map = maps.zc, maps.style
        first = min(r["nearest neighbours"][0] for r in reached.values())
        times["start to first phase"] = round(first, 2)
        times["compute_maps"] = round(max(r["done"][0] for r in reached.values()) - first, 2)
        for label, marks in reached.items():
            names = list(marks)
            times[f"{label} wall"] = {a: round(marks[b][0] - marks[a][0], 2) for a, b in zip(names, names[1:])}
            times[f"{label} thread cpu"] = {a: round(marks[b][1] - marks[a][1], 2) for a, b in zip(names, names[1:])}
    else:
        t = time.perf_counter()
        import umap

        times["import umap"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        zc_map = umap.UMAP(random_state=seed).fit_transform(z_c)
        times["z_c fit"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        style_map = umap.UMAP(random_state=seed).fit_transform(z_style)
        times["style fit"] = round(time.perf_counter() - t, 2)
    np.savez(out_path, zc=np.asarray(zc_map, np.float32), style=np.asarray(style_map, np.float32),
             seconds=time.perf_counter() - start, times=json.dumps(times))


# ---------------------------------------------------------------------------------------------------- parent side
def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far: on a machine shared with other work,
    the cost of a fit that wall time alone overstates."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(mode: str, latents_path: Path, cache_dir: Path, seed: int, work: Path, tag: str) -> dict:
    """Run one fit in a new process; returns wall seconds (interpreter start included), phase times and maps."""
    out = work / f"{tag}.npz"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    start, cpu_before = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, __file__, "--child", mode, str(latents_path), str(out), "--seed", str(seed)],
                   env=env, check=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_before
    with np.load(out) as f:
        result = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "zc": f["zc"], "style": f["style"],
                  "times": json.loads(str(f["times"]))}
    print(f"  {tag:14s} wall {wall:7.1f} s, cpu {cpu:7.1f} s   {result['times']}", flush=True)
    return result


def neighbours_kept(latents: np.ndarray, points_2d: np.ndarray, k: int = 15) -> float:
    """Mean share of each point's k nearest latents that are also among its k nearest points on the map."""
    from scipy.spatial import cKDTree

    _, high = cKDTree(latents).query(latents, k=k + 1, workers=-1)
    _, low = cKDTree(points_2d).query(points_2d, k=k + 1, workers=-1)
    kept = [len(set(h[1:]) & set(l[1:])) for h, l in zip(high, low)]
    return round(float(np.mean(kept)) / k, 3)


def default_run_latents() -> tuple[np.ndarray, np.ndarray]:
    with np.load(ROOT / "assets" / "default_run" / "latents.npz") as f:
        return f["z_c"], f["z_style"]


def large_latents(points: int) -> tuple[np.ndarray, np.ndarray, str]:
    """[points] latents: Fashion-MNIST encoded by the default run's model if its files are here, else synthetic."""
    files = [FASHION_DIR / f"{s}-images-idx3-ubyte.gz" for s in ("train", "t10k")]
    if all(p.is_file() for p in files):
        import torch

        from core.checkpoint import load_run
        from core.data.idx import IMAGES_MAGIC, read_idx

        images = np.concatenate([read_idx(p, IMAGES_MAGIC) for p in files])[:points]
        model, _ = load_run(ROOT / "assets" / "default_run")
        model.eval()
        parts = []
        with torch.inference_mode():
            for i in range(0, len(images), 1000):
                x = torch.from_numpy(images[i:i + 1000]).float().div(255).unsqueeze(1)
                parts.append(model.encode(x)[0].float())
        z = torch.cat(parts)
        z_c, z_s = model.split(z)
        if len(z) == points:
            return z_c.numpy(), z_s.numpy(), "fashion-mnist encoded by assets/default_run"
    from bench.large_map import clustered_latents

    z_c, z_s, _ = clustered_latents(points, 10, 6)
    return z_c, z_s, "synthetic clustered (10-D z_c, 6-D style)"


def finish_phase(work: Path, cache_dir: Path) -> dict:
    """finish_seconds of two 1-epoch mnist5k runs: the first with an empty numba cache, the second warm."""
    out = {}
    for tag in ("cold", "warm"):
        run_dir = work / f"finish_{tag}"
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
        subprocess.run([sys.executable, str(ROOT / "train_cli.py"), "--epochs", "1", "--threads", "1", "--quiet",
                        "--out", str(run_dir)], env=env, check=True, stdout=subprocess.DEVNULL)
        summary = json.loads((run_dir / "summary.json").read_text())
        out[f"finish_{tag}_s"] = summary["finish_seconds"]
        print(f"  finish phase, {tag} cache: {summary['finish_seconds']} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", nargs="+", default=["small", "large"], choices=["small", "large", "finish"])
    parser.add_argument("--large-points", type=int, default=70_000)
    parser.add_argument("--large-default", action="store_true", help="also time umap-learn's call on the large maps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "LATENTS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2], args.seed)
        return

    import numba
    import umap  # noqa: F401  (only for its version; the children do the work)
    from importlib.metadata import version

    result: dict = {"cpu_cores": os.cpu_count(), "load_average_start": round(os.getloadavg()[0], 1),
                    "umap_learn": version("umap-learn"), "numba": numba.__version__}
    with tempfile.TemporaryDirectory(prefix="map_time_") as tmp:
        work = Path(tmp)
        ours_cache, default_cache = work / "cache_ours", work / "cache_default"
        if "small" in args.sections:
            z_c, z_s = default_run_latents()
            path = work / "small.npz"
            np.savez(path, z_c=z_c, z_style=z_s)
            print(f"small: {len(z_c)} latents of assets/default_run (z_c {z_c.shape[1]}-D, style {z_s.shape[1]}-D)",
                  flush=True)
            runs = {tag: run_child(mode, path, cache, args.seed, work, tag)
                    for tag, mode, cache in (("ours_cold", "ours", ours_cache), ("ours_warm", "ours", ours_cache),
                                             ("default_cold", "default", default_cache),
                                             ("default_warm", "default", default_cache))}
            small = {f"{tag}_s": r["wall_s"] for tag, r in runs.items()}
            small.update({f"{tag}_cpu_s": r["cpu_s"] for tag, r in runs.items()})
            small["speedup_cold"] = round(runs["default_cold"]["wall_s"] / runs["ours_cold"]["wall_s"], 2)
            small["speedup_warm"] = round(runs["default_warm"]["wall_s"] / runs["ours_warm"]["wall_s"], 2)
            small["cpu_ratio_cold"] = round(runs["default_cold"]["cpu_s"] / runs["ours_cold"]["cpu_s"], 2)
            small["cpu_ratio_warm"] = round(runs["default_warm"]["cpu_s"] / runs["ours_warm"]["cpu_s"], 2)
            small["same_map_cold_and_warm"] = bool(np.array_equal(runs["ours_cold"]["zc"], runs["ours_warm"]["zc"])
                                                   and np.array_equal(runs["ours_cold"]["style"], runs["ours_warm"]["style"]))
            for tag in ("ours_warm", "default_warm"):
                small[f"{tag}_neighbours_kept_zc"] = neighbours_kept(z_c, runs[tag]["zc"])
                small[f"{tag}_neighbours_kept_style"] = neighbours_kept(z_s, runs[tag]["style"])
            small["ours_phases"] = runs["ours_warm"]["times"]
            small["ours_cold_phases"] = runs["ours_cold"]["times"]
            small["default_cold_phases"] = runs["default_cold"]["times"]
            result["small"] = small
            print("small:", json.dumps({k: v for k, v in small.items() if not isinstance(v, dict)}), flush=True)
        if "large" in args.sections:
            z_c, z_s, source = large_latents(args.large_points)
            path = work / "large.npz"
            np.savez(path, z_c=z_c, z_style=z_s)
            load_before = round(os.getloadavg()[0], 1)
            print(f"large: {len(z_c)} latents, {source}; load average {load_before}", flush=True)
            # cold: a new process with an empty numba cache (the first map after install); warm: the next one
            large_cache = work / "cache_large"
            runs = {tag: run_child("ours", path, large_cache, args.seed, work, f"large_ours_{tag}")
                    for tag in ("cold", "warm")}
            ours = runs["warm"]
            large = {"points": len(z_c), "source": source, "load_average_before": load_before}
            for tag, r in runs.items():
                large[f"ours_{tag}_s"], large[f"ours_{tag}_cpu_s"] = r["wall_s"], r["cpu_s"]
                large[f"ours_{tag}_phases"] = r["times"]
            large["same_map_cold_and_warm"] = bool(np.array_equal(runs["cold"]["zc"], ours["zc"])
                                                   and np.array_equal(runs["cold"]["style"], ours["style"]))
            large["neighbours_kept_zc"] = neighbours_kept(z_c, ours["zc"])
            large["neighbours_kept_style"] = neighbours_kept(z_s, ours["style"])
            if args.large_default:
                default = run_child("default", path, default_cache, args.seed, work, "large_default")
                large["default_s"], large["default_cpu_s"] = default["wall_s"], default["cpu_s"]
                large["speedup"] = round(default["wall_s"] / ours["wall_s"], 2)
                large["default_neighbours_kept_zc"] = neighbours_kept(z_c, default["zc"])
                large["default_neighbours_kept_style"] = neighbours_kept(z_s, default["style"])
                large["default_phases"] = default["times"]
            large["load_average_after"] = round(os.getloadavg()[0], 1)
            result["large"] = large
            print("large:", json.dumps({k: v for k, v in large.items() if not isinstance(v, dict)}), flush=True)
        if "finish" in args.sections:
            result["finish"] = finish_phase(work, work / "cache_finish")
    result["load_average_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
