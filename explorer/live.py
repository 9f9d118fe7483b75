"""Watching a run while ``train_cli.py`` trains it: what the folder holds now, which model.pt to show next, and
what the status bar says. No Qt: ``explorer.live_worker`` polls with a QTimer and runs the jobs.

The trainer replaces ``model.pt`` atomically after every epoch (``core.atomic``: readers see the old file or the
whole new one), and the file names its epoch and that epoch's metrics (``core.checkpoint.load_run_epoch``). The
watcher only looks at ``os.stat`` of it (``Stamp``): a new stamp is a new epoch. It starts one job at a time and
always for the newest file, so epochs that end while a job runs are skipped, never queued.

The explorer reads a run folder in training and writes nothing into it: no map cache, no settings, no lock.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from core.checkpoint import CONFIG_FILE, MODEL_FILE
from core.latents import LATENTS_FILE
from core.run import SUMMARY_FILE
from core.trainer import METRICS_FILE

POLL_MS = 500  # how often the window looks at the folder (one os.stat per file; microseconds)


@dataclass(frozen=True)
class Stamp:
    """One version of a file, as ``os.stat`` tells it: an atomic replace gives a new inode, a new mtime or both."""

    mtime_ns: int
    size: int
    inode: int


def stamp(path: str | os.PathLike) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:  # missing, or gone between a listing and the stat
        return None
    return Stamp(st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass(frozen=True)
class Folder:
    """What a run folder holds at one moment."""

    is_run: bool                 # config.json is there
    model: Stamp | None          # model.pt, None before the first epoch ends
    has_latents: bool            # latents.npz: written by the finish phase (or ``train_cli.py latents``)
    finished: bool               # summary.json written after the last model.pt: training and its finish are over

    @property
    def in_training(self) -> bool:
        """A run that has not written its points yet: training now (or stopped before its end)."""
        return self.is_run and not self.has_latents


def look(run_dir: str | os.PathLike) -> Folder:
    run_dir = Path(run_dir)
    model = stamp(run_dir / MODEL_FILE)
    summary = stamp(run_dir / SUMMARY_FILE)
    return Folder(is_run=(run_dir / CONFIG_FILE).is_file(), model=model,
                  has_latents=(run_dir / LATENTS_FILE).is_file(),
                  finished=summary is not None and model is not None and summary.mtime_ns >= model.mtime_ns)


def is_training_folder(run_dir: str | os.PathLike) -> bool:
    """A run folder without its points yet, whose config.json reads: the explorer watches it rather than refusing
    it (a folder whose config.json is broken keeps its one-line refusal)."""
    from core.checkpoint import load_config
    from core.errors import CCVAEError

    if not look(run_dir).in_training:
        return False
    try:
        load_config(run_dir)
    except CCVAEError:
        return False
    return True


class Watcher:
    """Which model.pt to encode next, one job at a time.

    ``poll(folder)`` returns the stamp of a model.pt to encode now (newer than the one shown, none in flight, not
    one that failed), else None. ``done(stamp)`` / ``failed(stamp)`` end the job. ``shown`` is the model.pt whose
    points are on the maps (the baseline when a finished run is opened: only a later model.pt is new).
    """

    def __init__(self, shown: Stamp | None = None):
        self.shown = shown
        self.busy: Stamp | None = None
        self.bad: Stamp | None = None   # a model.pt that could not be read or encoded: not tried again

    def poll(self, folder: Folder) -> Stamp | None:
        new = folder.model
        if new is None or self.busy is not None or new in (self.shown, self.bad):
            return None
        self.busy = new
        return new

    def done(self, job: Stamp, read: Stamp | None = None) -> None:
        """The job ended with its points shown; ``read``: the model.pt it actually read (a newer one than the job
        was started for, when training saved another in between), so that one is not encoded again."""
        self.shown, self.busy = read or job, None

    def failed(self, job: Stamp) -> None:
        self.bad, self.busy = job, None


@dataclass(frozen=True)
class TrainingStatus:
    """What the status bar says about a run being watched."""

    epoch: int | None = None            # the epoch whose model the maps show; None: none yet
    epochs: int | None = None           # epochs the run is set to train
    val_accuracy: float | None = None   # of that epoch's model (labelled validation images)
    working: str = ""                   # what the background job is doing ("encoding epoch 4")
    finished: bool = False              # training and its finish phase are over
    problem: str = ""                   # the last job's failure, one line

    def text(self) -> str:
        if self.epoch is None:
            head = "training: first epoch saved" if self.working else \
                "training: waiting for the first epoch (no model.pt yet)"
        else:
            of = f" / {self.epochs}" if self.epochs else ""
            head = f"{'trained' if self.finished else 'training'}: epoch {self.epoch}{of}"
            if self.val_accuracy is not None:
                head += f" \u00b7 val accuracy {self.val_accuracy:.3f}"
            if self.finished:
                head += " (finished)"
        parts = [head] + [p for p in (self.working, self.problem and f"error: {self.problem}") if p]
        return " \u00b7 ".join(parts)

    def but(self, **changes) -> "TrainingStatus":
        return replace(self, **changes)


def metrics_accuracy(run_dir: str | os.PathLike, epoch: int | None) -> tuple[int | None, float | None]:
    """(epoch, val_accuracy) from metrics.jsonl: the line of ``epoch`` (None: the last line). A line being
    appended may be cut short; it is skipped, never an error."""
    try:
        lines = Path(run_dir, METRICS_FILE).read_text().splitlines()
    except OSError:
        return epoch, None
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    if epoch is not None:
        records = [r for r in records if r.get("epoch") == epoch]
    if not records:
        return epoch, None
    record = records[-1]
    value = record.get("val_accuracy")
    accuracy = float(value) if isinstance(value, (int, float)) and value == value else None
    return record.get("epoch", epoch), accuracy


def epoch_facts(run_dir, info: dict) -> tuple[int | None, float | None]:
    """(epoch, val_accuracy) of a model.pt from what it says of itself (``info``: ``load_run_epoch``'s), else
    from metrics.jsonl (weights saved by an older trainer carry no epoch: the last line stands for them)."""
    epoch = info.get("epoch")
    value = info.get("metrics", {}).get("val_accuracy")
    if value is not None and value == value:
        return int(epoch), float(value)
    return metrics_accuracy(run_dir, epoch)


class LiveSession:
    """The live view of one run folder, between the folder, the background jobs and the ``ExplorerModel``.
    No Qt: the window calls ``tick`` from a timer and hands the jobs' answers to ``encoded``, ``mapped`` and
    ``failed``; tests call them directly.

    ``start_job(job, init)`` starts encoding the model.pt stamped ``job`` (``explorer.live_job``), with ``init``
    the maps shown (own points only) or None. ``show_run(run)`` shows a RunData (the window's way of opening a run;
    the first epoch's points arrive so, on a provisional PCA map until their UMAP maps come). ``shown``: the
    model.pt whose points a finished run opened with (None for a run in training).
    """

    def __init__(self, run_dir, model, start_job, show_run=None, shown: Stamp | None = None):
        from core.checkpoint import load_config

        self.run_dir = Path(run_dir)
        self.model = model
        self.start_job = start_job
        self.show_run = show_run or model.load
        self.watcher = Watcher(shown)
        self._points: dict = {}            # job -> EpochPoints encoded, waiting for their maps
        epochs = int(load_config(self.run_dir).train.epochs)
        status = TrainingStatus(epochs=epochs)
        if shown is not None:  # a finished run: its own epoch and accuracy until a newer model.pt comes
            epoch, accuracy = metrics_accuracy(self.run_dir, None)
            status = status.but(epoch=epoch, val_accuracy=accuracy, finished=look(self.run_dir).finished)
        self.model.set_training(status)

    @property
    def status(self) -> TrainingStatus:
        return self.model.training

    def tick(self) -> None:
        """Look at the folder: start a job for a new model.pt, note when training has finished."""
        folder = look(self.run_dir)
        if folder.finished != self.status.finished and self.status.epoch is not None:
            self.model.set_training(self.status.but(finished=folder.finished))
        job = self.watcher.poll(folder)
        if job is None:
            return
        self.model.set_training(self.status.but(working="reading the new model.pt", problem=""))
        self.start_job(job, self._init_maps())

    def _init_maps(self):
        """The UMAP maps shown, of the run's own points: where the next maps start."""
        from core.projection import LatentMaps

        maps = self.model.maps
        if self.model.run is None or maps is None or maps.provisional:
            return None
        n = self.model.own_points
        return LatentMaps(zc=maps.zc[:n].copy(), style=maps.style[:n].copy(), key="")

    def _is_current(self, job) -> bool:
        return job == self.watcher.busy

    def encoded(self, job, points) -> None:
        """A job encoded the points (``explorer.live_job.EpochPoints`` with its engine built). The first epoch is
        shown at once on a PCA map; later ones wait for their maps, so the points move once."""
        if not self._is_current(job):
            return
        if self.model.run is None or self.model.run.run_dir != self.run_dir:
            from explorer.rundata import RunData

            run = RunData(run_dir=self.run_dir, engine=points.engine, latents=points.latents, maps=None,
                          seed=int(points.config.get("train", {}).get("seed", 0)), swap_choice=points.swap_choice)
            self._set_epoch(points, working=f"fitting the maps of epoch {points.epoch}")  # said as they appear
            self.show_run(run)
        else:
            self.model.set_training(self.status.but(working=f"fitting the maps of epoch {points.epoch}"))
        self._points[job] = points

    def mapped(self, job, maps) -> None:
        """A job's maps are ready: the maps move (or, for the first epoch, the UMAP maps replace the PCA)."""
        points = self._points.pop(job, None)
        if not self._is_current(job) or points is None:
            return
        self.watcher.done(job, points.stamp)
        self._set_epoch(points)  # first, so whoever sees the new maps reads their epoch
        if self.model.engine is points.engine:  # the first epoch, shown on its PCA map: now its UMAP map
            self.model.set_maps(maps)
        else:
            self.model.apply_epoch(points.engine, points.latents, maps, follow=True, swap_choice=points.swap_choice)

    def failed(self, job, message: str) -> None:
        """A job failed. With its points encoded (the map fit failed) they are shown on their PCA map (the
        fallback); else that model.pt is skipped and the next epoch tried."""
        if not self._is_current(job):
            return
        points = self._points.pop(job, None)
        if points is not None:
            from core.projection import provisional_maps

            self.watcher.done(job, points.stamp)
            self._set_epoch(points, problem=f"maps of epoch {points.epoch}: {message}; showing a PCA map")
            if self.model.engine is not points.engine:
                maps = provisional_maps(points.latents.z_c, points.latents.z_style)
                self.model.apply_epoch(points.engine, points.latents, maps, follow=False,
                                       swap_choice=points.swap_choice)
        else:
            self.watcher.failed(job)
            self.model.set_training(self.status.but(working="", problem=message))

    def progress(self, job, text: str) -> None:
        if self._is_current(job):
            epoch = self.status.epoch
            head = "first epoch" if epoch is None else "new epoch"
            self.model.set_training(self.status.but(working=f"{head}: {text}"))

    def _set_epoch(self, points, working: str = "", problem: str = "") -> None:
        epochs = points.config.get("train", {}).get("epochs", self.status.epochs)  # --resume may add epochs
        self.model.set_training(self.status.but(epoch=points.epoch, epochs=epochs, val_accuracy=points.val_accuracy,
                                                working=working, problem=problem,
                                                finished=look(self.run_dir).finished))
