"""Benchmark: is a large map fluid? Milliseconds per pan, zoom, hover and drag step at 70,000 points.

Builds the real window offscreen (1600x1000) on a run of ``--points`` points: the embedded default run's latents,
maps and images tiled, with a little jitter on the maps (and on the latents, so no two points coincide). Then, on
the z_c map, it times ``--steps`` steps of each interaction, each step ending with a forced repaint of that map
(``repaint()``) and an event-loop pass:
  pan    view.translateBy by 1% of the range (back and forth)
  zoom   view.scaleBy by 0.93 or 1/0.93 around a point under the cursor (in and out, like wheel notches)
  hover  a mouse move over the map (the hover ring follows the nearest point)
  drag   the decoding handle moved along a random walk (decode, image panel, both handles)
``--variants`` runs the same steps with the exact scatter always (``exact``: the behaviour before the preview)
and with the splatted preview while the range moves (``preview``: the explorer's default), in one process, so
both see the same machine load. After each variant it also times the settle: the exact scatter coming back once
the view rests, and compares the map at rest with the exact scatter's picture (they must be identical).

Usage:  .venv/bin/python bench/map_fluidity.py [--points 70000] [--steps 80] [--variants exact,preview]
Readable lines first; the LAST line is one JSON object. Goal: zoom p95 well under 33 ms (>= 30 frames per second).
"""
from __future__ import annotations

import scratch_settings  # noqa: F401  (first: the explorer windows below must not overwrite the user's settings)

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


def tiled_run(run, points: int, seed: int = 0):
    """``run`` tiled to ``points`` points: copies of its latents, labels and images, maps jittered by ~0.4%."""
    from core.latents import Latents
    from core.projection import LatentMaps
    from explorer.rundata import RunData

    lat, maps = run.latents, run.maps
    rng = np.random.default_rng(seed)
    idx = np.arange(points) % len(lat)
    copy = np.arange(points) >= len(lat)  # the originals stay exact, the copies get jitter

    def jitter(a, share):
        a = a[idx].astype(np.float32)
        a[copy] += (rng.normal(size=(int(copy.sum()), a.shape[1])) * share * np.ptp(a, axis=0)).astype(np.float32)
        return a

    big = Latents(z_c=jitter(lat.z_c, 0.002), z_style=jitter(lat.z_style, 0.002), labels=lat.labels[idx],
                  probs=lat.probs[idx], split=lat.split[idx], index=lat.index[idx],
                  images=lat.images[idx] if lat.images is not None else None)
    big_maps = LatentMaps(zc=jitter(maps.zc, 0.004), style=jitter(maps.style, 0.004), key="tiled")
    return RunData(run_dir=run.run_dir, engine=run.engine, latents=big, maps=big_maps, seed=run.seed)


def stats(ms) -> dict:
    a = np.asarray(ms, dtype=float)
    return {"p50_ms": round(float(np.percentile(a, 50)), 1), "p95_ms": round(float(np.percentile(a, 95)), 1),
            "max_ms": round(float(a.max()), 1), "n": int(len(a))}


def map_image(view) -> np.ndarray:
    image = view.grab().toImage().convertToFormat(view.grab().toImage().Format.Format_RGB32)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    return np.frombuffer(ptr, dtype=np.uint8).reshape(image.height(), image.bytesPerLine())[:, :image.width() * 4].copy()


def run_variant(app, window, variant: str, steps: int, rng) -> dict:
    from PyQt6.QtCore import QPointF, Qt
    from PyQt6.QtGui import QMouseEvent
    from PyQt6.QtWidgets import QApplication

    view = window.maps["zc"]
    view.preview_min_points = 10 ** 12 if variant == "exact" else 0
    window.model.select_a(0)
    window.model.set_hover(-1)
    view._fit_view(view.points())
    view.settle()
    for _ in range(3):
        view.repaint()
        app.processEvents()

    def timed(action, n: int, pause_s: float = 0.0) -> list[float]:
        times = []
        for k in range(n):
            if pause_s:
                time.sleep(pause_s)  # not timed
            t0 = time.perf_counter()
            action(k)
            view.repaint()
            app.processEvents()
            times.append((time.perf_counter() - t0) * 1000)
        return times[2:]  # the first steps switch modes (and warm caches)

    out = {}
    vb = view.view
    out["pan"] = stats(timed(lambda k: vb.translateBy(
        x=0.01 * (vb.viewRange()[0][1] - vb.viewRange()[0][0]) * (1 if k % 20 < 10 else -1)), steps))
    centre = vb.viewRect().center()
    focus = [QPointF(centre.x() + 0.3 * d[0] * vb.viewRect().width(), centre.y() + 0.3 * d[1] * vb.viewRect().height())
             for d in rng.uniform(-1, 1, size=(steps, 2))]
    # wheel notches in, out past the start, and in again: the view swings between 0.65x and 1.5x the fitted range
    out["zoom"] = stats(timed(lambda k: vb.scaleBy((0.93, 0.93) if k % 24 < 6 or k % 24 >= 18 else (1 / 0.93, 1 / 0.93),
                                                  center=focus[k // 6 * 6]), steps))
    previewed = view.previewing
    # the view rests: the exact scatter comes back once (one full draw), then the map must equal the exact one
    t0 = time.perf_counter()
    view.settle()
    view.repaint()
    app.processEvents()
    settle_ms = (time.perf_counter() - t0) * 1000
    vp = view.viewport()
    path = [QPointF(120 + (5 * k) % 420, 140 + (3 * k) % 320) for k in range(steps)]

    def hover(k):
        ev = QMouseEvent(QMouseEvent.Type.MouseMove, path[k], QPointF(vp.mapToGlobal(path[k])),
                         Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, ev)
        view._hover_proxy.flush()  # what the SignalProxy's 60/s timer does between real mouse events
    hovered = []
    window.qt_model.hoverChanged.connect(hovered.append)
    # pyqtgraph's scene drops mouse moves closer than ~10 ms apart: pause (untimed) as a real mouse would
    out["hover"] = stats(timed(hover, steps, pause_s=0.017))
    window.qt_model.hoverChanged.disconnect(hovered.append)
    out["hover"]["hover_changes"] = len(hovered)
    pts = view.points()
    p = np.array(window.model.current.positions["zc"], dtype=float)
    moves = []
    for _ in range(steps):
        p = np.clip(p + rng.normal(scale=0.004 * np.ptp(pts, axis=0)), pts.min(axis=0), pts.max(axis=0))
        moves.append(p.copy())
    out["drag"] = stats(timed(lambda k: view.handle.setPos(float(moves[k][0]), float(moves[k][1])), steps))
    out["settle_ms"] = round(settle_ms, 1)
    out["previewed_while_zooming"] = bool(previewed)
    out["preview_paint_ms"] = round(view.preview.last_paint_ms, 1) if previewed else None
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=70000)
    p.add_argument("--steps", type=int, default=80, help="steps per interaction (default 80)")
    p.add_argument("--variants", default="exact,preview", help="comma-separated: exact, preview")
    args = p.parse_args(argv)

    from PyQt6.QtWidgets import QApplication

    from explorer.app import dispose

    from explorer.main_window import MainWindow
    from explorer.rundata import RunData

    run = RunData.open(None)
    big = tiled_run(run, args.points)
    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1600, 1000)
    window.show_run(big)
    window.show()
    for _ in range(5):
        app.processEvents()
    view = window.maps["zc"]
    view.settle()
    rest = {}
    results = {}
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for variant in variants:
        results[variant] = run_variant(app, window, variant, args.steps, np.random.default_rng(0))
        # the same view at rest in every variant: the exact scatter's picture
        window.model.select_a(0)
        window.model.set_hover(-1)
        view._fit_view(view.points())
        view.settle()
        view.repaint()
        app.processEvents()
        rest[variant] = map_image(view)
    same = all(np.array_equal(rest[variants[0]], rest[v]) for v in variants)
    dispose(window)  # the window deleted while the application lives (a crash at exit otherwise)
    print(f"{args.points:,} points, window 1600x1000 offscreen, {args.steps} steps per interaction, "
          f"ms per step including a forced repaint of the map:")
    for variant in variants:
        r = results[variant]
        print(f"  {variant:8s} " + "  ".join(f"{k} p50 {r[k]['p50_ms']:5.1f} / p95 {r[k]['p95_ms']:5.1f}"
                                           for k in ("pan", "zoom", "hover", "drag"))
              + f"  (settle {r['settle_ms']:.0f} ms)")
    print(f"  map at rest identical across variants: {same}")
    result = {"bench": "map_fluidity", "points": args.points, "steps": args.steps, "window": "1600x1000",
              "variants": results, "rest_identical": bool(same), "goal_zoom_p95_ms": 33,
              "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    if "preview" in results:
        result["meets_goal"] = results["preview"]["zoom"]["p95_ms"] < 33
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
