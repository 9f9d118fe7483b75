"""Background work for the window: fitting the 2-D maps of a run without cached ones.

``MapWorker`` is a QThread that starts the fit in a child process (``map_job.run_job``) and relays its
progress as signals; ``cancel()`` kills the child, so the thread ends within a fraction of a second even in the
middle of a UMAP fit. Widgets are only touched by the slots these signals reach, on the main thread.
"""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
import weakref

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal

from core.projection import LatentMaps

from explorer.map_job import run_job

POLL_S = 0.05  # how long a relay thread waits on its queue before checking for a stop


def run_in_child(target, args: tuple, relay) -> None:
    """Run ``target(*args, queue)`` in a fresh child process while ``relay(process, queue)`` passes its messages on
    in this thread; the child is ended however the relay stops."""
    ctx = mp.get_context("spawn")  # a fresh interpreter: no Qt, no torch threads inherited
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue), daemon=True)
    process.start()
    try:
        relay(process, queue)
    finally:
        end_child(process, queue)


def end_child(process, *queues) -> None:
    """Stop a worker's child process (politely, then for good) and release its queues without blocking."""
    if process is not None and process.is_alive():
        process.terminate()
        process.join(2.0)
        if process.is_alive():
            process.kill()
            process.join(1.0)
    for q in queues:
        q.cancel_join_thread()
        q.close()


class MapWorker(QThread):
    progress = pyqtSignal(str, float)   # phase, fraction in [0, 1]
    succeeded = pyqtSignal(object)      # LatentMaps
    failed = pyqtSignal(str)            # one-line reason
    cancelled = pyqtSignal()
    live: "weakref.WeakSet[MapWorker]" = weakref.WeakSet()  # every worker alive, for tests to check none runs

    def __init__(self, maps_path, z_c: np.ndarray, z_style: np.ndarray, seed: int, parent=None):
        super().__init__(parent)
        MapWorker.live.add(self)
        self._args = (str(maps_path), np.asarray(z_c), np.asarray(z_style), int(seed))
        self._stop = False

    def cancel(self) -> None:
        self._stop = True

    def run(self) -> None:
        run_in_child(run_job, self._args, self._relay)

    def _relay(self, process, queue) -> None:
        while True:
            if self._stop:
                self.cancelled.emit()
                return
            try:
                message = queue.get(timeout=POLL_S)
            except queue_module.Empty:
                if not process.is_alive() and queue.empty():
                    self.failed.emit(f"the map worker stopped unexpectedly (exit code {process.exitcode})")
                    return
                continue
            kind = message[0]
            if kind == "progress":
                self.progress.emit(str(message[1]), float(message[2]))
            elif kind == "done":
                self.succeeded.emit(LatentMaps(zc=message[1], style=message[2], key=message[3]))
                return
            else:
                self.failed.emit(str(message[1]))
                return


def start_worker(worker: QThread, progress_bar, label, text: str, on_progress, on_done, on_failed) -> QThread:
    """Start a map worker (``MapWorker`` or the study's) with its signals connected and the status bar's
    progress bar reset and shown beside ``text``; returns the worker."""
    worker.progress.connect(on_progress)
    worker.succeeded.connect(on_done)
    worker.failed.connect(on_failed)
    progress_bar.setValue(0)
    progress_bar.show()
    label.setText(text)
    worker.start()
    return worker


def stop_worker(worker: QThread | None) -> None:
    """Cancel a map worker and wait until its thread has ended (its child process killed); None: nothing runs."""
    if worker is not None:
        worker.cancel()
        worker.wait()

