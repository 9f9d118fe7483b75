"""The map fit that runs in a child process (no Qt), so the explorer can stop it at any moment.

UMAP cannot be interrupted from inside a fit and numba dislikes concurrent callers in one process; a child
process per fit answers both: the window stays responsive, and closing it kills the fit at once.
Messages on the queue: ("progress", phase, fraction), ("done", zc, style, key) or ("error", text).
"""
from __future__ import annotations


def run_job(maps_path: str, z_c, z_style, seed: int, queue) -> None:
    try:
        from core.projection import load_or_compute_maps

        maps = load_or_compute_maps(maps_path, z_c, z_style, seed=seed,
                                    progress=lambda phase, fraction: queue.put(("progress", phase, fraction)))
        queue.put(("done", maps.zc, maps.style, maps.key))
    except Exception as e:  # reported to the window as one line, never a traceback
        queue.put(("error", f"{type(e).__name__}: {e}"))
