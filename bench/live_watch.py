"""Benchmark: the explorer's event loop while it watches a run train (goal: never blocked for more than 100 ms).

Starts a real ``train_cli.py`` run in a subprocess (mnist5k, one thread), opens a real MainWindow (offscreen by
default; QT_QPA_PLATFORM=xcb under Xvfb works too) on the folder as soon as ``config.json`` appears, before the
first epoch ends, and lets it follow every epoch to the end: the background worker reads each model.pt, encodes
the run's points and fits both maps from the previous layout; the window swaps them in and repaints. Meanwhile a
5 ms QTimer stamps the event loop: a gap between two ticks is how long the window could not answer.

Prints the longest gap and the 95th percentile, the epochs shown, and how long after each model.pt was written
its maps were on screen; also the time the window's thread spent swapping each epoch in. The LAST line is one
JSON object. Goal: longest gap <= 100 ms.

Usage:  .venv/bin/python bench/live_watch.py [--epochs 6] [--limit-train 1000] [--map-points 10000]
(mnist5k has 5,000 images, so the default maps all 5,000, as the finished run would.)
"""
from __future__ import annotations

import scratch_settings  # noqa: F401  (first: the explorer windows below must not overwrite the user's settings)

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

TICK_MS = 5


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--limit-train", type=int, default=1000)
    p.add_argument("--map-points", type=int, default=10_000)
    p.add_argument("--size", default="1280x800", help="window size")
    p.add_argument("--screenshot", metavar="PNG", help="also save the window after the second epoch is shown")
    args = p.parse_args(argv)

    from PyQt6.QtCore import Qt, QTimer
    from PyQt6.QtWidgets import QApplication

    from explorer.app import dispose, keep_gc_pauses_short
    from explorer.live import look
    from explorer.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="live-watch-"))
    run = folder / "run"
    command = [sys.executable, str(ROOT / "train_cli.py"), "--dataset", "mnist5k", "--sup-frac", "0.5",
               "--out", str(run), "--epochs", str(args.epochs), "--limit-train", str(args.limit_train),
               "--map-points", str(args.map_points), "--threads", "1", "--no-figures", "--no-maps", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    window = MainWindow()
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    keep_gc_pauses_short()  # as python -m explorer does once its window is up
    train = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run / "config.json").exists():
            app.processEvents()
            time.sleep(0.01)
            if time.monotonic() > deadline or train.poll() is not None:
                print(f"error: train_cli.py wrote no config.json ({train.poll()})", file=sys.stderr)
                return 2
        waiting = look(run).model is None
        ticks: list[tuple[float, float]] = []  # (wall clock, CPU time of the window's thread) at each tick
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.timeout.connect(lambda: ticks.append((time.perf_counter(), time.thread_time())))
        shown: list[dict] = []
        answers: list[tuple[str, float, float]] = []  # (handler, wall ms, CPU ms of the window's thread)

        def on_maps() -> None:
            if window.model.maps is not None and not window.model.maps.provisional:
                stamp = window.live.watcher.shown if window.live is not None else None
                lag = time.time() - stamp.mtime_ns / 1e9 if stamp is not None else float("nan")
                shown.append({"epoch": window.model.training.epoch, "seconds_after_model_pt": round(lag, 2)})
                if args.screenshot and len(shown) == 2:
                    QTimer.singleShot(0, lambda: window.grab().save(args.screenshot))

        # the time the window's thread spends swapping an epoch in: the session's answer handlers, timed
        session_calls = ("encoded", "mapped")

        def timed(name, original):
            def call(*a):
                t0, c0 = time.perf_counter(), time.thread_time()
                try:
                    return original(*a)
                finally:
                    answers.append((name, (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000))
            return call

        window.qt_model.mapsReady.connect(on_maps)
        timer.start(TICK_MS)
        t_watch = time.perf_counter()
        window.watch(run)
        for name in session_calls:  # the worker's signals reach these bound methods; wrap them before any answer
            getattr(window.live_worker, name).disconnect()
            getattr(window.live_worker, name).connect(timed(name, getattr(window.live, name)))
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.001)
            status = window.model.training
            if train.poll() is not None and status is not None and status.epoch == args.epochs \
                    and not status.working:
                break
        t_end = time.perf_counter()
        timer.stop()
        if train.wait() != 0:
            print(f"error: train_cli.py failed: {train.stderr.read().strip()[-300:]}", file=sys.stderr)
            return 2
        files = sorted(p.name for p in run.iterdir())
        points = len(window.model.run.latents) if window.model.run is not None else 0
        dispose(window)  # the window deleted while the application lives (a crash at exit otherwise)
    finally:
        if train.poll() is None:
            train.kill()
        shutil.rmtree(folder, ignore_errors=True)
    stamps = np.asarray(ticks)
    gaps, gap_cpu = np.diff(stamps[:, 0]) * 1000, np.diff(stamps[:, 1]) * 1000
    longest, p95 = float(gaps.max()), float(np.percentile(gaps, 95))
    worst = int(gaps.argmax())
    load = os.getloadavg()[0]
    print(f"watched {args.epochs} epochs of mnist5k (limit-train {args.limit_train}), {points:,} points, "
          f"{t_end - t_watch:.1f} s, opened {'before' if waiting else 'after'} the first epoch ended")
    for s in shown:
        print(f"  epoch {s['epoch']}: maps on screen {s['seconds_after_model_pt']:.2f} s after its model.pt")
    print(f"event loop ({TICK_MS} ms timer, {len(gaps):,} gaps): longest {longest:.1f} ms, p95 {p95:.1f} ms; "
          f"the window's thread ran {gap_cpu[worst]:.1f} ms of the longest gap (the rest: waiting for a core or the "
          f"GIL); longest CPU between ticks {gap_cpu.max():.1f} ms")
    for name, wall, cpu in answers:
        print(f"  window thread, {name}: {wall:.1f} ms wall, {cpu:.1f} ms CPU")
    print(f"run folder after: {', '.join(files)}; load average {load:.2f}")
    print(json.dumps({"bench": "live_watch", "epochs": args.epochs, "points": points,
                      "epochs_shown": [s["epoch"] for s in shown], "longest_gap_ms": round(longest, 1),
                      "p95_gap_ms": round(p95, 1), "longest_gap_cpu_ms": round(float(gap_cpu[worst]), 1),
                      "longest_cpu_between_ticks_ms": round(float(gap_cpu.max()), 1),
                      "answer_max_ms": round(max((a[1] for a in answers), default=0), 1),
                      "answer_max_cpu_ms": round(max((a[2] for a in answers), default=0), 1),
                      "seconds_after_model_pt": [s["seconds_after_model_pt"] for s in shown],
                      "goal_ms": 100, "met": longest <= 100, "files": files, "load": round(load, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
