"""Fitting the UMAP maps of a study's cells in the background, one child process for all of them.

The explorer's ``MapWorker`` fits one run in one child process; a study has ten runs, and each new process pays
umap-learn's import and numba's cache load again (seconds each), so ``StudyMapWorker`` hands every cell to one
child that runs the explorer's own job (``map_job.run_job``: load the cached maps or fit and cache them) cell after
cell, tagging each message with the cell's index. Maps go where each cell's ``RunData.maps_path`` points: the
user's cache folder, never the study (``explorer.study_model``). ``cancel()`` kills the child at once.
"""
from __future__ import annotations

import queue as queue_module
import weakref

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal

from core.projection import LatentMaps

from explorer.map_job import run_job
from explorer.workers import POLL_S, run_in_child



class _Tagged:
    """A queue that prefixes every message with the cell's index."""

    def __init__(self, queue, index: int):
        self.queue, self.index = queue, index

    def put(self, message) -> None:
        self.queue.put((self.index, *message))


def run_cell_jobs(jobs, queue) -> None:
    """In the child: ``run_job`` for each (cell index, maps path, z_c, z_style, seed) in turn."""
    for index, *job in jobs:
        run_job(*job, _Tagged(queue, index))


class StudyMapWorker(QThread):
    progress = pyqtSignal(int, str, float)   # cell index, phase, fraction in [0, 1] of that cell's fit
    succeeded = pyqtSignal(int, object)      # cell index, LatentMaps
    failed = pyqtSignal(int, str)            # cell index (-1: the whole worker), one-line reason
    live: "weakref.WeakSet[StudyMapWorker]" = weakref.WeakSet()  # for tests to check that none is left running

    def __init__(self, jobs, parent=None):
        """jobs: (cell index, maps path, z_c [N, Dc], z_style [N, Ds], seed) per cell to fit, in order."""
        super().__init__(parent)
        StudyMapWorker.live.add(self)
        self._jobs = [(int(i), str(path), np.asarray(zc), np.asarray(zs), int(seed)) for i, path, zc, zs, seed in jobs]
        self._stop = False

    def cancel(self) -> None:
        self._stop = True

    def run(self) -> None:
        run_in_child(run_cell_jobs, (self._jobs,), self._relay)

    def _relay(self, process, queue) -> None:
        waiting = {i for i, *_ in self._jobs}
        while waiting and not self._stop:
            try:
                message = queue.get(timeout=POLL_S)
            except queue_module.Empty:
                if not process.is_alive() and queue.empty():
                    reason = f"the map worker stopped unexpectedly (exit code {process.exitcode})"
                    for index in sorted(waiting):
                        self.failed.emit(index, reason)
                    return
                continue
            index, kind = message[0], message[1]
            if kind == "progress":
                self.progress.emit(index, str(message[2]), float(message[3]))
            elif kind == "done":
                waiting.discard(index)
                self.succeeded.emit(index, LatentMaps(zc=message[2], style=message[3], key=message[4]))
            elif kind == "error":
                waiting.discard(index)
                self.failed.emit(index, str(message[2]))
