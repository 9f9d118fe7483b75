"""A run's interventions measured by the project's judge, written into its summary.json.

    python train_cli.py measure runs/demo                # after training (or: train with --measure)

Uses ``core.measures.measure_all`` as the study does: the test images (at most ``IMAGES``), conditional
generations (``PER_LABEL`` per label), label swaps through the learned prior and between the encoder's class
statistics (of ``STATS_IMAGES`` training images), style kept under a swap, locality. The judge is trained once
per data set and cached (``judge_dir``; default ``~/.cache/ccvae-explorer/judges/<data key>``, or
``$CCVAE_JUDGE_DIR/<data key>``). The summary gets ``measures`` (the headline figures) and ``swap_choice``
(``core.swap_choice``: which swap lands more often, by the judge).
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from core import checkpoint as ckpt
from core import swap_choice

IMAGES = 1000
STATS_IMAGES = 2000
PER_LABEL = 100
HEADLINE = ("cond_gen_acc", "swap_success", "swap_success_stats", "style_share", "style_ratio", "style_pixel_share",
            "locality", "recon_nll", "recon_mse")


def default_judge_dir(data_config: dict) -> Path:
    from core.judge import judge_key

    root = os.environ.get("CCVAE_JUDGE_DIR")
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ccvae-explorer" / "judges"
    return base / judge_key(data_config)


def _subset(n: int, count: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:min(count, n)].sort().values


def measure_engine(engine, splits, judge, seed: int = 0, images: int = IMAGES, per_label: int = PER_LABEL) -> dict:
    """The headline measures of ``engine`` on ``splits`` by ``judge``: floats, plus ``images`` and
    ``judge_test_accuracy``."""
    from core.measures import class_statistics, measure_all

    x = splits.test.get_batch(_subset(len(splits.test), images, seed))[0]
    train_x, train_y = splits.train.get_batch(_subset(len(splits.train), STATS_IMAGES, seed))
    stats = class_statistics(engine, train_x, train_y)
    values = measure_all(engine, judge, x, per_label, seed, class_stats=stats)
    return headline(values, len(x), per_label, judge.test_accuracy)


def headline(values: dict, images: int, per_label: int, judge_test_accuracy: float) -> dict:
    """The summary's ``measures`` from ``measure_all``'s output (the study writes its cells' figures the same way)."""
    out = {k: round(float(values[k]), 4) for k in HEADLINE if k in values}
    out.update(images=int(images), gen_per_label=int(per_label), judge_test_accuracy=judge_test_accuracy)
    return out


def write_into_summary(run_dir: Path, measures: dict) -> dict:
    """Add ``measures`` and the judge's ``swap_choice`` to the run's summary.json (atomically)."""
    from core.run import SUMMARY_FILE

    path = Path(run_dir) / SUMMARY_FILE
    summary = json.loads(path.read_text()) if path.exists() else {}
    summary["measures"] = measures
    choice = swap_choice.from_measures(measures)
    if choice is not None:
        summary["swap_choice"] = choice.to_json()
    ckpt.atomic_write_json(path, summary)
    return summary


def measure_run(run_dir: Path, judge_dir: Path | None = None, device: str = "cpu", seed: int | None = None,
                log: Callable[[str], None] | None = None, engine=None, splits=None) -> dict:
    """Measure the run in ``run_dir`` and write the figures into its summary; returns the summary."""
    from core.data import DataConfig, load_data
    from core.inference import Engine
    from core.judge import JudgeSettings, load_or_train_judge
    from core.measures import check_test_images

    say = log or (lambda msg: None)
    engine = engine or Engine.from_run(run_dir, device=device)
    if splits is None:
        from core.data import identity

        cfg = engine.config
        splits = load_data(DataConfig(**{**cfg.data_as_trained(), "sup_frac": 1.0, "num_labels": None}))
        identity.check_same_data(run_dir, cfg, splits, "measure")
    check_test_images(len(splits.test), "measure")  # before the judge is trained
    seed = int(engine.config.train.seed if seed is None else seed)
    judge_dir = Path(judge_dir) if judge_dir else default_judge_dir(engine.config.data)
    judge = load_or_train_judge(judge_dir, dict(engine.config.data), splits, JudgeSettings(seed=0), engine.device, say)
    start = time.perf_counter()
    say("measuring swaps, generations and style with the judge")
    measures = measure_engine(engine, splits, judge, seed)
    measures["measure_seconds"] = round(time.perf_counter() - start, 1)
    return write_into_summary(run_dir, measures)


def main(argv: list[str] | None = None) -> int:
    from core.errors import CCVAEError
    from core.options import OneLineParser, at_least, fail, finished_run_or_error, set_threads

    p = OneLineParser(prog="ccvae-train measure", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a finished run folder")
    p.add_argument("--judge-dir", default=None, help="where the judge is cached (default: a per-user cache)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=at_least(0), default=0, help="CPU threads for torch (0: torch's default)")
    args = p.parse_args(argv)
    problem = finished_run_or_error(args.run, (ckpt.CONFIG_FILE, ckpt.MODEL_FILE))
    if problem:
        return fail(problem)
    set_threads(args.threads)
    try:
        summary = measure_run(Path(args.run), args.judge_dir, args.device, log=lambda m: print(m, file=sys.stderr))
    except (CCVAEError, ValueError) as e:  # a run, data, judge or measure that cannot be used: one line
        return fail(str(e))
    print(json.dumps({"run": str(Path(args.run)), **summary["measures"],
                      "swap_choice": summary.get("swap_choice", {}).get("method")}))
    return 0
