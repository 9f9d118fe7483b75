"""One training run from start to finish: data, model, training, then the outputs the explorer reads.

Run folder layout:
    config.json      everything needed to rebuild the model and reload its data
    model.pt         the weights (tensors only)
    checkpoint.pt    weights + optimizer + epoch, for --resume
    metrics.jsonl    one JSON object per epoch
    latents.npz      encoder means, labels and classifier outputs of the evaluation images
    maps.npz         2-D UMAP maps of z_c and of the style (cached; keyed by the latents)
    figures/*.png    reconstructions, generations, interpolations, swaps or walks, curves
    warnings.log     library warnings met while finishing (e.g. umap-learn's), each with what it means
    summary.json     the final figures (test accuracy, reconstruction error against the mean image, timings);
                     also the last line printed
    morphology.json  mnist5k-morpho only: flips and generations measured by the morphometry (core.morpho_measures)
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from core import checkpoint as ckpt
from core import distributed
from core.config import RunConfig
from core.data import DataConfig, DataSplits, identity, load_data
from core.data.counts import counts_line, label_warnings, split_counts
from core.device import pick_device
from core.errors import CCVAEError
from core.inference import Engine
from core.library_warnings import WARNINGS_FILE, recorded_warnings, save_warnings
from core.latents import MAPS_FILE, encode_points, load_latents, save_latents
from core.model import CCVAE
from core.presets import settle_model
from core.reconstruction import reconstruction_quality, spread_indices
from core.trainer import METRICS_FILE, ProcessGroup, Trainer, accuracy, loader_workers

SUMMARY_FILE = "summary.json"
FIGURES_DIR = "figures"


class RunError(CCVAEError):
    """A run that cannot start (folder in use, labels that do not match); one-line message."""


def load_history(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def check_labels_match(cfg: RunConfig, splits: DataSplits) -> None:
    if splits.label_spec != cfg.model.label_spec:
        raise RunError(f"the data's labels ({splits.label_spec.kind}: {', '.join(splits.label_spec.names)[:80]}) "
                       f"do not match the run's ({cfg.model.label_spec.kind}: {', '.join(cfg.model.label_spec.names)[:80]})")
    if tuple(splits.image_shape) != tuple(cfg.model.image_shape):
        raise RunError(f"the data's images are {tuple(splits.image_shape)}, the run's model takes {tuple(cfg.model.image_shape)}")


# What --resume may change: how long and how fast the rest of the run trains and what it writes at the end.
# Everything else (model, objective, data, batch size, learning rate, seed) would make a different run.
RESUMABLE_TRAIN_FIELDS = ("epochs", "lr_schedule", "device", "amp", "threads", "map_points", "eval_limit",
                          "make_maps", "make_figures", "measure")


def resumed_config(stored: RunConfig, wanted: RunConfig) -> RunConfig:
    """``stored`` with the fields --resume may change taken from ``wanted``."""
    changes = {name: getattr(wanted.train, name) for name in RESUMABLE_TRAIN_FIELDS}
    data = {**stored.data, "num_workers": wanted.data.get("num_workers", stored.data.get("num_workers", 0))}
    return dataclasses.replace(stored, train=dataclasses.replace(stored.train, **changes), data=data)


def _refuse_unmeasurable(splits: DataSplits, measure: bool) -> None:
    """With --measure, a test split too small to measure is refused up front (core.measures.check_test_images)."""
    if measure:
        from core.measures import check_test_images

        check_test_images(len(splits.test), "--measure")


def prepare(run_dir: Path, cfg: RunConfig | None, resume: bool) -> tuple[RunConfig, DataSplits, CCVAE]:
    """Check the folder, load the data, build the model (with p(y) from the labelled subset)."""
    run_dir = Path(run_dir)
    exists = (run_dir / ckpt.CONFIG_FILE).exists()
    if resume:
        if not exists:
            raise RunError(f"{run_dir}: nothing to resume (no {ckpt.CONFIG_FILE}); start it without --resume")
        stored = ckpt.load_config(run_dir)
        cfg = stored if cfg is None else resumed_config(stored, cfg)
    elif exists:
        raise RunError(f"{run_dir} already holds a run; use --resume to continue it, or choose another --out")
    else:  # absolute paths in config.json: the run's data are found from any working directory
        for key in ("data_dir", "labels_csv"):
            if cfg.data.get(key):
                cfg.data[key] = str(Path(cfg.data[key]).expanduser().resolve())
    splits = load_data(DataConfig(**(cfg.data_as_trained() if resume else cfg.data)))
    if not resume:  # the data decides the label kind, image shape (z_c's size, the likelihood) of a new run
        cfg = dataclasses.replace(cfg, model=settle_model(cfg.model, splits.label_spec, splits.image_shape))
    check_labels_match(cfg, splits)
    # on resume, before anything is trained or written: a changed folder would re-cut the split (a new run has
    # no fingerprint recorded yet: it records this one)
    data_id = identity.check_same_data(run_dir, cfg, splits, "resume")
    cfg = dataclasses.replace(cfg, extra={**cfg.extra, identity.EXTRA_KEY: data_id})
    _refuse_unmeasurable(splits, cfg.train.measure)  # before the training, not after it
    if cfg.train.limit_train > 0:
        splits.labelled = splits.labelled[: cfg.train.limit_train]
        splits.unlabelled = splits.unlabelled[: cfg.train.limit_train]
    torch.manual_seed(cfg.train.seed)
    model = CCVAE(cfg.model, splits.label_prior)
    return cfg, splits, model


def write_latents(run_dir: Path, cfg: RunConfig, splits: DataSplits, model: CCVAE, device: torch.device,
                  say: Callable[[str], None]) -> int:
    """Encode up to ``cfg.train.map_points`` evaluation images into latents.npz and, with ``make_maps``, fit their
    2-D maps into maps.npz; returns the number of points. Every file is written whole or not at all, and maps
    are keyed by the latents they were fitted on, so a stop in between leaves nothing that looks valid and is
    not (the explorer refits maps whose key does not match)."""
    latents = encode_points(model, splits, cfg.train.map_points, device, num_workers=loader_workers(splits, cfg))
    maps = None
    if cfg.train.make_maps:
        from core.projection import compute_maps, load_maps, maps_cache_key

        say(f"fitting 2-D maps of {len(latents)} latents (UMAP)")
        key = maps_cache_key(latents.z_c, latents.z_style, cfg.train.seed)
        maps = load_maps(run_dir / MAPS_FILE, expected_key=key)
        if maps is None or len(maps.zc) != len(latents):
            maps = compute_maps(latents.z_c, latents.z_style, seed=cfg.train.seed)
    save_latents(run_dir, latents)  # only now: nothing is replaced before every result is in hand
    if maps is not None:
        from core.projection import save_maps

        save_maps(run_dir / MAPS_FILE, maps)
    return len(latents)


def finish(run_dir: Path, cfg: RunConfig, splits: DataSplits, model: CCVAE, device: torch.device,
           history: list[dict], progress: Callable[[str], None] | None = None) -> dict:
    """After training: test accuracy, latents, maps, figures and the summary."""
    say = progress or (lambda msg: None)
    run_dir = Path(run_dir)
    workers = loader_workers(splits, cfg)
    start = time.perf_counter()
    say("scoring the test images")
    test_acc = accuracy(model, splits.test, device=device, num_workers=workers)
    say("measuring reconstructions against the mean image")
    recon = reconstruction_quality(model, splits.test, spread_indices(len(splits.test), cfg.train.eval_limit),
                                   device=device, num_workers=workers)
    # library warnings (umap-learn's above all) go to RUN/warnings.log with their meaning, not to the terminal
    with recorded_warnings() as caught:
        say("encoding the evaluation images")
        write_latents(run_dir, cfg, splits, model, device, say)
        if cfg.train.make_figures:
            say("drawing figures")
            from core.run_figures import make_run_figures

            # spread over the whole test split: its order may be grouped by class
            picks = np.unique(np.linspace(0, len(splits.test) - 1, min(64, len(splits.test))).astype(np.int64))
            picks = picks[np.random.default_rng(cfg.train.seed).permutation(len(picks))]
            x, y = splits.test.get_batch(picks)
            make_run_figures(Engine(model, cfg, run_dir), x, y.numpy(), history, run_dir / FIGURES_DIR,
                             seed=cfg.train.seed)
    notes = save_warnings(run_dir, caught)
    for note in notes:
        say(f"note: {note} (recorded in {WARNINGS_FILE})")
    morphology = None
    if cfg.data.get("dataset") == "mnist5k-morpho":  # attributes with a ground truth: score the interventions
        say("measuring flips and generations with the morphometry")
        from core.morpho_measures import MORPHOLOGY_FILE, run_morphology

        morphology = run_morphology(Engine(model, cfg, run_dir), splits, device, cfg.train.seed, say)
        ckpt.atomic_write_json(run_dir / MORPHOLOGY_FILE, morphology)
    train_seconds = sum(r.get("train_seconds", 0.0) for r in history)
    last = history[-1] if history else {}
    counts = split_counts(splits)
    summary = {
        "run": run_dir.name, "dataset": cfg.data.get("dataset"), "epochs": len(history),
        "labelled": int(len(splits.labelled)), "unlabelled": int(len(splits.unlabelled)),
        # accuracies count only images that have a label; null when a split has none
        "test_accuracy": _rounded(test_acc), "val_accuracy": _rounded(last.get("val_accuracy", float("nan"))),
        "test_images": len(splits.test), "test_labelled": counts["test"]["labelled"], "counts": counts,
        "likelihood": cfg.model.likelihood, **recon,
        "train_seconds": round(train_seconds, 1),
        "images_per_second": round(last.get("images_per_second", float("nan")), 1),
        "finish_seconds": round(time.perf_counter() - start, 1), "device": str(device),
        "library_warnings": len(caught),
    }
    if morphology is not None:
        summary["morphology"] = morphology["headline"]
    # which label swap lands more often on this model, read by the model itself (the judge's answer replaces it
    # when the run is measured): the explorer offers that one first
    from core.swap_choice import self_read

    points = load_latents(run_dir)
    summary["swap_choice"] = self_read(Engine(model, cfg, run_dir), points.z_c, points.z_style,
                                       seed=cfg.train.seed).to_json()
    ckpt.atomic_write_json(run_dir / SUMMARY_FILE, summary)
    if cfg.train.measure:
        from core.run_measures import measure_run

        summary = measure_run(run_dir, device=str(device), log=say, engine=Engine(model, cfg, run_dir))
    return summary


def _rounded(value: float) -> float | None:
    return None if value is None or value != value else round(float(value), 4)


def _create_run_folder(run_dir: Path, cfg: RunConfig) -> None:
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    ckpt.save_config(run_dir, cfg)


def train_run(run_dir: Path, cfg: RunConfig | None = None, *, resume: bool = False, progress: bool = True,
              log: Callable[[str], None] | None = None, group: ProcessGroup | None = None,
              wrap_model: Callable | None = None, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Train (or resume) the run in ``run_dir`` and write all its outputs; returns the summary."""
    group = group or ProcessGroup()
    # every process checks the folder and loads the data before rank 0 writes anything; a failure stops all
    cfg, splits, model = distributed.agree(group, lambda: prepare(run_dir, cfg, resume))
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    device = pick_device(cfg.train.device)
    if group.world_size > 1:
        device = distributed.process_device(device)
        wrap_model = wrap_model or distributed.ddp_wrapper(device)
    counts = split_counts(splits)
    facts = distributed.scale_facts(cfg.train.batch_size, cfg.train.lr, group)
    cfg = dataclasses.replace(cfg, extra={**cfg.extra, **facts, "counts": counts})
    if log and group.is_main:
        log(counts_line(counts))
        for warning in label_warnings(counts):
            log(f"warning: {warning}")
    distributed.agree(group, lambda: group.is_main and _create_run_folder(run_dir, cfg))
    trainer = Trainer(run_dir, cfg, splits, model, device, group=group, progress=progress,
                      on_epoch=on_epoch, wrap_model=wrap_model)
    if resume and (Path(run_dir) / ckpt.CHECKPOINT_FILE).exists():
        done = trainer.resume()
        if log:
            log(f"resuming {run_dir} after epoch {done}")
    if group.world_size > 1:  # the same initial model everywhere, then each process its own sampling noise
        distributed.seed_process(cfg.train.seed, group.rank, trainer.start_epoch)
    trainer.fit()
    if not group.is_main:
        return {}
    return finish(run_dir, cfg, splits, trainer.model, device, load_history(run_dir), log)


def refit_run(run_dir: Path, measure: bool = False, device: str = "cpu",
              log: Callable[[str], None] | None = None) -> dict:
    """Set the conditional prior of a finished run to its optimum for the trained encoder (what ``--prior-refit
    end`` does after the last epoch; core/prior_fit.py), then redo the run's outputs that read the prior
    (figures, summary with its swap choice; latents and cached maps are unchanged). For runs trained with
    ``--prior-refit none``, among them every run saved before the option existed. Returns the new summary."""
    from core.prior_fit import refit_prior

    say = log or (lambda msg: None)
    run_dir = Path(run_dir)
    dev = pick_device(device)
    model, cfg = ckpt.load_run(run_dir, dev)
    splits = load_data(DataConfig(**cfg.data_as_trained()))
    check_labels_match(cfg, splits)
    _refuse_unmeasurable(splits, measure)  # before the model is changed, not after
    if cfg.train.limit_train > 0:
        splits.labelled = splits.labelled[: cfg.train.limit_train]
        splits.unlabelled = splits.unlabelled[: cfg.train.limit_train]
    history = load_history(run_dir)
    say(f"refitting p(z_c|y) to the encoder of {run_dir} ({len(splits.labelled)} labelled, "
        f"{len(splits.unlabelled)} unlabelled training images)")
    moved = refit_prior(model, splits.train, splits.labelled, splits.unlabelled, cfg.objective.num_qyx_samples,
                        device=dev, seed=cfg.train.seed * 1009 + len(history),
                        num_workers=loader_workers(splits, cfg))
    say(f"prior means moved by {moved.get('prior_shift', 0.0):.2f} of their scale on average")
    cfg.train.prior_refit = "end"  # a --resume with more epochs refits again after its last epoch
    cfg.train.measure = bool(measure)
    cfg.extra["prior_refit_after_training"] = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), **moved}
    ckpt.save_model(run_dir, model)
    ckpt.save_config(run_dir, cfg)
    return finish(run_dir, cfg, splits, model, dev, history, say)
