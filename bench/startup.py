"""Benchmark: seconds from launching the explorer to its populated window (maps, handles, decoded image).

Runs ``python -m explorer [RUN_DIR] --exit-when-ready`` in a fresh process a few times (offscreen unless a
display is set) and times each launch from the start of the process to the line ``ready <s>`` the app prints
once the window is populated; the app's own figure (seconds since its first import) is reported beside it.
Default run: the embedded one (assets/default_run). Goal: <= 5 s.

Usage:  .venv/bin/python bench/startup.py [RUN_DIR] [--repeats 3]
Readable lines first; the LAST line is one JSON object.
"""
from __future__ import annotations

import scratch_settings  # noqa: F401  (first: the explorer windows below must not overwrite the user's settings)

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def launch(run_dir: str | None, timeout: float) -> tuple[float, float]:
    env = dict(os.environ)
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    cmd = [sys.executable, "-m", "explorer", "--exit-when-ready"] + ([run_dir] if run_dir else [])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("ready "):
            wall = time.perf_counter() - t0
            proc.wait(timeout)
            return wall, float(line.split()[1])
    proc.wait(timeout)
    raise RuntimeError(f"the explorer exited with {proc.returncode} before it was ready: {proc.stderr.read().strip()}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dir", nargs="?", default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--timeout", type=float, default=300)
    args = p.parse_args(argv)
    walls, inside = [], []
    for i in range(args.repeats):
        try:
            wall, app_s = launch(args.run_dir, args.timeout)
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        walls.append(wall)
        inside.append(app_s)
        print(f"launch {i + 1}: populated after {wall:.2f} s (the app counts {app_s:.2f} s from its first import)")
    result = {"bench": "startup", "run": args.run_dir or "assets/default_run", "seconds": [round(w, 2) for w in walls],
              "best_s": round(min(walls), 2), "median_s": round(sorted(walls)[len(walls) // 2], 2),
              "first_s": round(walls[0], 2), "goal_s": 5.0, "cpus": os.cpu_count()}
    result["meets_goal"] = result["median_s"] <= 5.0
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
