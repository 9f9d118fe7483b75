"""Run a study: train every cell of the grid that is not finished, measure each with the judge, write the report.

Study folder layout:
    study.json              the StudyConfig of the last invocation
    invocations.jsonl       one line per finished invocation (cells trained, wall time)
    judge/judge.pt, .json   the cached judge (retrained only when the data set changes)
    cells/<cell>/           one ordinary run folder per cell (see core.run), plus measures.json
    report.md/.json/.csv    one row per cell; figures/*.png put the cells side by side
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import torch

from core import checkpoint as ckpt
from core.config import RunConfig
from core.data import DataConfig, load_data
from core.device import pick_device
from core.judge import Judge, JudgeSettings, load_or_train_judge
from core.labels import labelled_mask
from core.measures import check_test_images, class_statistics, measure_all
from core.run import SUMMARY_FILE, train_run
from core.run_measures import headline, write_into_summary
from core.study.grid import Cell, StudyConfig, StudyError, random_subset
from core.study.report import INVOCATIONS_FILE, REPORT_MD, write_report

STUDY_FILE = "study.json"
MEASURES_FILE = "measures.json"
MEASURES_VERSION = 2  # part of the measures cache key: bump when a measure changes
STATS_IMAGES = 2000   # training images whose encodings give each cell's per-class (per-attribute) z_c statistics
JUDGE_DIR = "judge"


def _fmt_eta(seconds: float) -> str:
    minutes = max(0, int(round(seconds / 60)))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class GridProgress:
    """Prints one line per epoch: ``cell k/n (beta=..., latent=...) epoch e/E ... ETA hh:mm`` (hours:minutes).

    The ETA multiplies the epochs still to train in the whole grid by the mean wall time of the epochs seen so
    far in this invocation, and adds the mean time a cell has spent outside its epochs (figures, measures)."""

    def __init__(self, total_cells: int, epochs: int, print_line: Callable[[str], None]):
        self.total_cells, self.epochs, self.print_line = total_cells, epochs, print_line
        self.epoch_seconds: list[float] = []
        self.overhead_seconds: list[float] = []
        self.epochs_left = 0  # epochs still to train in cells after the current one
        self.cell_index, self.cell = 0, None
        self._last = time.perf_counter()

    def start_cell(self, index: int, cell: Cell, with_sup: bool, epochs_left_after: int) -> None:
        self.cell_index, self.cell, self.with_sup = index, cell, with_sup
        self.epochs_left = epochs_left_after
        self._last = time.perf_counter()

    def eta(self, epochs_left_here: int, cells_left: int) -> float:
        per_epoch = sum(self.epoch_seconds) / len(self.epoch_seconds) if self.epoch_seconds else 0.0
        overhead = sum(self.overhead_seconds) / len(self.overhead_seconds) if self.overhead_seconds else 10.0
        return per_epoch * (epochs_left_here + self.epochs_left) + overhead * cells_left

    def on_epoch(self, record: dict) -> None:
        now = time.perf_counter()
        self.epoch_seconds.append(now - self._last)
        self._last = now
        e = int(record["epoch"])
        parts = [f"cell {self.cell_index}/{self.total_cells} ({self.cell.label(self.with_sup)})", f"epoch {e}/{self.epochs}"]
        for key, label in (("sup_loss", "loss"), ("val_accuracy", "val acc"), ("images_per_second", "img/s")):
            if key in record:
                parts.append(f"{label} {record[key]:.4g}")
        cells_left = self.total_cells - self.cell_index + 1
        parts.append(f"ETA {_fmt_eta(self.eta(self.epochs - e, cells_left))}")
        self.print_line("  ".join(parts))

    def end_cell(self, seconds_outside_epochs: float) -> None:
        self.overhead_seconds.append(max(0.0, seconds_outside_epochs))


def _cell_state(run_dir: Path, epochs: int) -> str:
    """'new', 'partial' (started, not finished, or finished with fewer epochs) or 'done'."""
    if not (run_dir / ckpt.CONFIG_FILE).exists():
        return "new"
    summary = run_dir / SUMMARY_FILE
    if summary.exists() and (run_dir / ckpt.MODEL_FILE).exists():
        try:
            if int(json.loads(summary.read_text()).get("epochs", 0)) >= epochs:
                return "done"
        except (json.JSONDecodeError, ValueError, TypeError):
            pass
    return "partial"


def _check_same_settings(run_dir: Path, wanted: RunConfig) -> None:
    """A cell folder trained with other settings (z_c size, data, learning rate...) is not silently reused."""
    stored = ckpt.load_config(run_dir)
    mismatches = []
    if stored.objective.to_json() != wanted.objective.to_json():
        mismatches.append("objective")
    if stored.model.latent_dim != wanted.model.latent_dim or (  # zc_dim 0 asks for the default, whatever it became
            stored.model.label_spec.is_multiclass and wanted.model.zc_dim and stored.model.zc_dim != wanted.model.zc_dim):
        mismatches.append("model")
    if DataConfig(**stored.data).to_json() != DataConfig(**wanted.data).to_json():
        mismatches.append("data")
    for k in ("batch_size", "lr", "seed"):
        if getattr(stored.train, k) != getattr(wanted.train, k):
            mismatches.append(k.replace("_", " "))
    if mismatches:
        raise StudyError(f"{run_dir} was trained with other settings ({', '.join(mismatches)}); "
                         f"use another --out or remove that folder")


def _model_stamp(run_dir: Path) -> list:
    st = (run_dir / ckpt.MODEL_FILE).stat()
    return [st.st_size, st.st_mtime_ns]


def measure_cell(run_dir: Path, judge: Judge, images: torch.Tensor, study: StudyConfig, device,
                 train_sample: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict:
    """The cell's measures, cached in ``measures.json`` for this model file, judge and measure settings.
    ``train_sample`` (images, labels) gives the per-class z_c statistics for the second label-swap measure."""
    from core.inference import Engine

    key = {"version": MEASURES_VERSION, "model": _model_stamp(run_dir), "judge": judge.info.get("key"), "judge_test_accuracy": judge.test_accuracy,
           "images": len(images), "per_label": study.gen_per_label, "seed": study.seed}
    path = run_dir / MEASURES_FILE
    if path.exists():
        try:
            cached = json.loads(path.read_text())
            # measures cached before binary attributes were measured say "skipped": measure those again
            if cached.get("key") == key and "skipped" not in cached["measures"]:
                return cached["measures"]
        except (json.JSONDecodeError, KeyError):
            pass
    engine = Engine.from_run(run_dir, device=str(device))
    start = time.perf_counter()
    stats = None
    if train_sample is not None:  # per class, or per attribute and value for binary attributes
        stats = class_statistics(engine, *train_sample)
    values = measure_all(engine, judge, images, study.gen_per_label, study.seed,
                         class_stats=stats)
    values["measure_seconds"] = round(time.perf_counter() - start, 1)
    if engine.config.data.get("dataset") == "mnist5k-morpho":
        values.update(_cell_morphology(run_dir, engine, device, study.seed))
    ckpt.atomic_write_json(path, {"key": key, "measures": values})
    return values


def _cell_morphology(run_dir: Path, engine, device, seed: int) -> dict:
    """mnist5k-morpho: the flips and generations measured by the morphometry, as the cell's run wrote them at the
    end of its training (``morphology.json``, same test images and seed), or measured now if it has none."""
    from core.morpho_measures import MORPHOLOGY_FILE, flat, run_morphology

    path = run_dir / MORPHOLOGY_FILE
    result = None
    if path.exists() and path.stat().st_mtime_ns >= (run_dir / ckpt.MODEL_FILE).stat().st_mtime_ns:
        try:
            result = json.loads(path.read_text())
        except json.JSONDecodeError:
            result = None
    if result is None:
        from core.data import DataConfig, load_data

        result = run_morphology(engine, load_data(DataConfig(**engine.config.data_as_trained())), device, seed)
        ckpt.atomic_write_json(path, result)
    return flat(result)


def run_study(out: Path, study: StudyConfig, *, log: Callable[[str], None] | None = None,
              train: Callable | None = None) -> dict:
    """Train what is missing, measure every cell, write report.md/.json/.csv and the comparison figures.

    ``log`` receives progress lines (default: none). ``train`` replaces ``core.run.train_run`` (tests count calls).
    Returns the report dict (also written to report.json).
    """

    train = train or train_run
    say = log or (lambda msg: None)
    study.validate()
    wall_start = time.perf_counter()
    device = pick_device(study.run.train.device)
    splits = load_data(DataConfig(**{**study.data, "sup_frac": 1.0}))
    check_test_images(len(splits.test), "study")  # before any folder is written or cell trained
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt.atomic_write_json(out / STUDY_FILE, study.to_json())
    cells = study.cells()
    with_sup = len(study.sup_fracs) > 1
    configs = {cell: cell.run_config(study) for cell in cells}
    states = {}
    for cell in cells:
        run_dir = cell.run_dir(out)
        states[cell] = _cell_state(run_dir, study.epochs)
        if states[cell] != "new":
            _check_same_settings(run_dir, configs[cell])
    todo = [c for c in cells if states[c] != "done"]
    say(f"study: {len(cells)} cells, {len(cells) - len(todo)} already trained, {len(todo)} to train "
        f"({study.epochs} epochs each) in {out}")

    judge = load_or_train_judge(out / JUDGE_DIR, {**study.data}, splits,
                                JudgeSettings(epochs=study.judge_epochs, seed=study.seed,
                                              max_train_images=study.judge_images), device, say)
    images = splits.test.get_batch(random_subset(len(splits.test), study.measure_images, study.seed))[0]
    has_label = torch.nonzero(labelled_mask(splits.train.labels)).flatten()  # class statistics need labels
    train_sample = splits.train.get_batch(has_label[random_subset(len(has_label), STATS_IMAGES, study.seed)])

    progress = GridProgress(len(cells), study.epochs, say)
    rows = []
    for k, cell in enumerate(cells, 1):
        run_dir = cell.run_dir(out)
        cell_start = time.perf_counter()
        if states[cell] == "done":
            say(f"cell {k}/{len(cells)} ({cell.label(with_sup)}): already trained")
        else:
            later = sum(study.epochs for c in cells[k:] if states[c] != "done")
            progress.start_cell(k, cell, with_sup, later)
            epochs_before = len(progress.epoch_seconds)
            train(run_dir, configs[cell], resume=states[cell] == "partial", progress=False, log=None,
                  on_epoch=progress.on_epoch)
        measures = measure_cell(run_dir, judge, images, study, device, train_sample)
        # the cell's own summary carries its figures too (and the judge's choice of swap, for the explorer)
        write_into_summary(run_dir, headline(measures, len(images), study.gen_per_label, judge.test_accuracy))
        if states[cell] != "done":
            epoch_time = sum(progress.epoch_seconds[epochs_before:])
            progress.end_cell(time.perf_counter() - cell_start - epoch_time)
        rows.append(_row(cell, run_dir, measures))
        say(f"cell {k}/{len(cells)} ({cell.label(with_sup)}): test acc {rows[-1]['test_acc']:.3f}, "
            f"cond-gen acc {rows[-1].get('cond_gen_acc', float('nan')):.3f}, "
            f"swap {rows[-1].get('swap_success', float('nan')):.3f}")

    say("study: drawing the comparison figures and the report")
    report = write_report(out, study, cells, rows, judge, splits, device,
                          wall_seconds=time.perf_counter() - wall_start, trained=len(todo))
    with open(out / INVOCATIONS_FILE, "a") as f:  # the history report.md lists (training time of earlier runs)
        f.write(json.dumps({"finished": time.strftime("%Y-%m-%d %H:%M:%S"), "cells_trained": len(todo),
                            "cells": len(cells), "epochs": study.epochs,
                            "wall_seconds": round(time.perf_counter() - wall_start, 1)}) + "\n")
    say(f"study: report in {out / REPORT_MD}")
    return report


def _row(cell: Cell, run_dir: Path, measures: dict) -> dict:
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    row = {"cell": cell.name, "beta": cell.beta, "latent_dim": cell.latent_dim, "sup_frac": cell.sup_frac,
           "epochs": summary.get("epochs"), "test_acc": summary.get("test_accuracy"),
           "train_seconds": summary.get("train_seconds")}
    row.update({k: v for k, v in measures.items() if not isinstance(v, list)})
    row["details"] = {k: v for k, v in measures.items() if isinstance(v, list)}
    return row
