"""The live view's work, run in a child process (no Qt): read the newest model.pt of a run in training, encode the
run's points with it, and fit both maps starting from the layout shown.

The points are the ones the finished run will show: ``core.latents.encode_points`` over the run's own data and
``map_points`` (test images first, then validation, then training), so the explorer shows the same images
throughout and after training. The first epoch's maps start from UMAP's spectral layout (the same latents and seed
give the same map); every later one from the maps shown (``core.projection``'s ``init``, fewer epochs), so
points move rather than jump.

Why a process: torch's unpickling, numba and the data loading hold the GIL for long stretches, and the window must
never stall for more than 100 ms. It is started once per watched run and kept, so torch, the data and umap's
kernels load once. Nothing is written anywhere: maps fitted here are never cached.

Messages: jobs on ``inbox`` are ``(job, init)`` (job: any picklable id; init: LatentMaps or None), ``None`` to
stop. Answers on ``outbox``: ("progress", job, text), ("encoded", job, EpochPoints), ("maps", job, LatentMaps),
("error", job, one line).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class EpochPoints:
    """The run's points encoded by one epoch's model, with what is needed to rebuild that model elsewhere."""

    epoch: int | None
    val_accuracy: float | None
    config: dict             # config.json as read with the weights
    state: dict              # the model's state dict as numpy arrays
    latents: object          # core.latents.Latents
    swap_choice: object      # core.swap_choice.SwapChoice: which swap lands more often on this model
    stamp: object = None     # explorer.live.Stamp of the model.pt read (None: it was replaced while being read)
    engine: object = None    # core.inference.Engine, built on the receiving side (``build_engine``)


def encode_epoch(run_dir, data_cache: dict, device: str = "cpu") -> EpochPoints:
    """Read ``run_dir``'s model.pt (one read: weights, epoch and metrics agree) and encode its points.
    ``data_cache`` keeps the loaded data set between calls. Raises CCVAEError (one line) for what cannot be used."""
    import torch

    from core import checkpoint as ckpt
    from core.inference import Engine
    from core.latents import encode_points
    from core.swap_choice import self_read

    from explorer.live import epoch_facts, stamp

    run_dir = Path(run_dir)
    before = stamp(run_dir / ckpt.MODEL_FILE)  # the job reads the newest file, maybe newer than the one it was for
    model, cfg, info = ckpt.load_run_epoch(run_dir, device)
    read = before if stamp(run_dir / ckpt.MODEL_FILE) == before else None
    latents = encode_points(model, run_data(cfg, data_cache), cfg.train.map_points, torch.device(device))
    epoch, accuracy = epoch_facts(run_dir, info)
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    # the swap panel's default reads it; computed here, it costs the window nothing (seed 0: the explorer's own)
    choice = self_read(Engine(model, cfg, run_dir), latents.z_c, latents.z_style)
    return EpochPoints(epoch, accuracy, cfg.to_json(), state, latents, choice, read)


def run_data(cfg, data_cache: dict):
    """The run's data set (core.data.DataSplits), loaded once and kept in ``data_cache``."""
    from core.data import DataConfig, load_data
    from core.run import check_labels_match

    data = cfg.data_as_trained()
    key = json.dumps(data, sort_keys=True)
    if key not in data_cache:
        data_cache.clear()
        splits = load_data(DataConfig(**data))
        check_labels_match(cfg, splits)
        data_cache[key] = splits
    return data_cache[key]


def warm_up(run_dir, data_cache: dict) -> None:
    """What every job needs, done while the first epoch trains: the data set and umap's compiled kernels."""
    from core.checkpoint import load_config
    from core.projection import fit_map

    try:
        run_data(load_config(run_dir), data_cache)
        fit_map(np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32), epochs=1)
    except Exception:  # noqa: BLE001 - the first job meets the same problem and reports it
        pass


def build_engine(points: EpochPoints, run_dir):
    """The Engine of ``points``' model (on the CPU), for the explorer's decoding, swaps and walks."""
    import torch

    from core.checkpoint import build_model
    from core.config import RunConfig
    from core.inference import Engine

    config = RunConfig.from_json(points.config)
    model = build_model(config)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in points.state.items()})
    engine = Engine(model.eval(), config, Path(run_dir))
    # A new model's first decode pays torch's one-time setup of its layers (~15 ms): paid here, on the relay
    # thread, rather than by the window's first display (it decodes point A at once).
    engine.decode(np.asarray(points.latents.z_c[:1], dtype=np.float32),
                  np.asarray(points.latents.z_style[:1], dtype=np.float32))
    engine.classify(np.asarray(points.latents.z_c[:1], dtype=np.float32))
    return engine


def fit_maps(points: EpochPoints, init, progress=None):
    """Both maps of ``points``: from ``init`` (the maps shown, same points) with WARM_START_EPOCHS, else a fresh
    fit with the run's seed."""
    from core.projection import WARM_START_EPOCHS, compute_maps

    lat = points.latents
    seed = int(points.config.get("train", {}).get("seed", 0))
    if init is not None and len(init.zc) == len(lat):
        return compute_maps(lat.z_c, lat.z_style, seed=seed, init=init, epochs=WARM_START_EPOCHS, progress=progress)
    return compute_maps(lat.z_c, lat.z_style, seed=seed, progress=progress)


def serve(run_dir: str, inbox, outbox, threads: int = 1) -> None:
    """The child process: answer jobs until ``None`` arrives (or the parent kills it)."""
    import torch

    from core.errors import CCVAEError

    torch.set_num_threads(max(1, int(threads)))  # a background job beside a training run: one core at most
    try:  # and below the window and the training in the scheduler's eyes, on a machine with few cores
        os.nice(10)
    except OSError:
        pass
    data_cache: dict = {}
    warm_up(run_dir, data_cache)
    while True:
        message = inbox.get()
        if message is None:
            return
        job, init = message
        try:
            outbox.put(("progress", job, "encoding the points"))
            points = encode_epoch(run_dir, data_cache)
            outbox.put(("encoded", job, points))
            last = [-1]

            def progress(phase: str, fraction: float) -> None:
                percent = int(fraction * 100)
                if percent != last[0]:  # at most a hundred messages a fit
                    last[0] = percent
                    outbox.put(("progress", job, f"maps {percent}%"))

            outbox.put(("maps", job, fit_maps(points, init, progress)))
        except CCVAEError as e:
            outbox.put(("error", job, str(e)))
        except Exception as e:  # reported as one line, never a traceback; the watcher moves on to the next epoch
            outbox.put(("error", job, f"{type(e).__name__}: {str(e)[:200]}"))
