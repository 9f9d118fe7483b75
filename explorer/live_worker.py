"""The live view's background worker: one child process per watched run (``explorer.live_job.serve``) and a
QThread that relays its answers as signals.

The child does everything heavy (reading model.pt, loading the data, encoding, fitting the maps); the relay thread
unpickles the answers and rebuilds each epoch's model (``build_engine``: torch, which leaves the GIL while it
works), so the window's thread only swaps finished results in. Both start with the first job, not before: a
finished run that is only watched for a later epoch costs nothing but the window's timer. ``stop()`` kills the
child at once, in the middle of a fit if need be.
"""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
import weakref
from pathlib import Path

from PyQt6.QtCore import QThread, pyqtSignal

from explorer.live_job import build_engine, serve
from explorer.workers import POLL_S, end_child



class LiveWorker(QThread):
    progress = pyqtSignal(object, str)    # job, what the child is doing
    encoded = pyqtSignal(object, object)  # job, EpochPoints (its engine built)
    mapped = pyqtSignal(object, object)   # job, LatentMaps
    failed = pyqtSignal(object, str)      # job, one line
    live: "weakref.WeakSet[LiveWorker]" = weakref.WeakSet()  # every worker alive, for tests to check none runs

    def __init__(self, run_dir, parent=None):
        super().__init__(parent)
        LiveWorker.live.add(self)
        self.run_dir = Path(run_dir)
        self._ctx = mp.get_context("spawn")  # a fresh interpreter: no Qt, no torch threads inherited
        self._inbox = self._outbox = self._process = None
        self._stop = False
        self._job = None

    def start_child(self) -> None:
        """Start the child now (it loads torch, the data and umap's kernels while the first epoch trains)."""
        if self._process is None or not self._process.is_alive():
            self._inbox, self._outbox = self._ctx.Queue(), self._ctx.Queue()
            self._process = self._ctx.Process(target=serve, args=(str(self.run_dir), self._inbox, self._outbox),
                                              daemon=True, name="ccvae-live")
            self._process.start()

    def submit(self, job, init) -> None:
        """Encode the model.pt stamped ``job``, maps starting from ``init`` (LatentMaps or None)."""
        self.start_child()
        self._job = job
        self._inbox.put((job, init))
        if not self.isRunning():
            self._stop = False
            self.start()

    def stop(self) -> None:
        """End the relay and the child now (the window closes or opens another run)."""
        self._stop = True
        self.wait()
        process, self._process = self._process, None
        if process is not None:
            end_child(process, self._inbox, self._outbox)

    def run(self) -> None:
        while not self._stop:
            try:
                kind, job, payload = self._outbox.get(timeout=POLL_S)
            except queue_module.Empty:
                if self._process is not None and not self._process.is_alive() and not self._stop:
                    self.failed.emit(self._job, f"the live worker stopped unexpectedly "
                                                f"(exit code {self._process.exitcode})")
                    return
                continue
            except (EOFError, OSError, ValueError):  # the queue was closed under us: stopping
                return
            if kind == "encoded":
                try:
                    payload.engine = build_engine(payload, self.run_dir)
                except Exception as e:  # weights that do not fit their config: one line, the next epoch is tried
                    self.failed.emit(job, f"{type(e).__name__}: {str(e)[:160]}")
                    continue
                self.encoded.emit(job, payload)
            elif kind == "maps":
                self.mapped.emit(job, payload)
            elif kind == "progress":
                self.progress.emit(job, str(payload))
            else:
                self.failed.emit(job, str(payload))
