"""Training loop: interleaved labelled and unlabelled batches, per-epoch evaluation, atomic checkpoints,
``--resume`` and a NaN guard. It knows the model only through the two losses in ``core.objective``.

An epoch is one pass over the labelled and one over the unlabelled training images, with the labelled batches
spread evenly among the unlabelled ones (as in the authors' code), so the objective is the paper's sum over both.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from core import checkpoint as ckpt
from core.config import RunConfig
from core.data import DataSplits, iterate_batches
from core.device import bf16_autocast_pays_off, freed_memory_kept
from core.distributed import ProcessGroup, all_finite, mean_over_processes
from core.errors import CCVAEError
from core.labels import labelled_mask
from core.model import CCVAE
from core.objective import LossParts, supervised_loss, unsupervised_loss
from core.prior_fit import refit_prior

METRICS_FILE = "metrics.jsonl"


class TrainingDiverged(CCVAEError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class LossModule(torch.nn.Module):
    """The training losses as a module whose ``forward`` computes them, so DistributedDataParallel can wrap it
    (DDP synchronises gradients only for work done inside its wrapper's forward). Used with one process too.

    forward(x [B, C, H, W], y [B] or [B, A] or None) -> LossParts: the labelled loss when y is given, else the
    unlabelled one. The K-sample estimate of q(y|x) and the enumeration over labels stay per example.
    """

    def __init__(self, model: CCVAE, beta: float, k: int):
        super().__init__()
        self.model = model
        self.beta = beta
        self.k = k

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> LossParts:
        if y is None:
            return unsupervised_loss(self.model, x, self.beta)
        return supervised_loss(self.model, x, y, self.beta, self.k)


@dataclass
class EpochStats:
    epoch: int
    values: dict = field(default_factory=dict)


def batch_schedule(num_sup: int, num_unsup: int) -> list[bool]:
    """True for a labelled batch: labelled batches spread evenly among the unlabelled ones."""
    total = num_sup + num_unsup
    if num_sup == 0:
        return [False] * total
    # place labelled batch j at round((j + 0.5) * total / num_sup - 0.5): even spacing, first one early
    marks = {min(total - 1, int((j + 0.5) * total / num_sup)) for j in range(num_sup)}
    while len(marks) < num_sup:  # collisions only when num_sup ~ total; fill the gaps in order
        marks.add(next(i for i in range(total) if i not in marks))
    return [i in marks for i in range(total)]


def accuracy(model: CCVAE, data, indices: np.ndarray | None = None, batch_size: int = 500,
             device: torch.device | str = "cpu", num_workers: int = 0) -> float:
    """Accuracy of q(y|z_c) at z_c = encoder mean: share of correct classes, or mean per-attribute accuracy.

    Only images that have a label count; NaN when none of ``indices`` has one.
    """
    indices = np.arange(len(data)) if indices is None else np.asarray(indices)
    indices = indices[labelled_mask(data.labels[torch.as_tensor(indices, dtype=torch.int64)]).numpy()]
    correct, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for x, y in iterate_batches(data, indices, batch_size, shuffle=False, generator=None, num_workers=num_workers):
            pred = model.predict(x.to(device)).cpu()
            if pred.dim() == 1:
                correct += float((pred == y).sum())
            else:
                correct += float((pred == y).float().mean(-1).sum())
            count += len(y)
    return correct / count if count else float("nan")


def evaluation_loss(model: CCVAE, data, indices: np.ndarray, cfg: RunConfig, device, batch_size: int = 500,
                    num_workers: int = 0) -> dict:
    """Held-out losses for the loss curves: the labelled loss over the images that have a label, the
    unlabelled loss over all of them."""
    sums: dict[str, float] = {}
    n = {"sup_": 0, "unsup_": 0}
    model.eval()
    with torch.no_grad():
        for x, y in iterate_batches(data, indices, batch_size, shuffle=False, generator=None, num_workers=num_workers):
            x, y = x.to(device), y.to(device)
            has = labelled_mask(y)
            parts = unsupervised_loss(model, x, cfg.objective.beta).as_dict("unsup_")
            n["unsup_"] += len(x)
            weights = {k: len(x) for k in parts}
            if bool(has.any()):
                sup = supervised_loss(model, x[has], y[has], cfg.objective.beta,
                                      cfg.objective.num_qyx_samples).as_dict("sup_")
                parts.update(sup)
                weights.update({k: int(has.sum()) for k in sup})
                n["sup_"] += int(has.sum())
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v * weights[k]
    return {k: v / max(n[k.split("_")[0] + "_"], 1) for k, v in sums.items()}


def lr_scales(cfg: RunConfig) -> tuple[float, float, float]:
    """Learning-rate multiples of the three parameter groups of ``make_optimizer``."""
    return 1.0, cfg.train.classifier_lr_scale, cfg.train.prior_lr_scale


def loader_workers(splits: DataSplits, cfg: RunConfig) -> int:
    """DataLoader worker processes: the configured number for file-backed sets; in-memory sets need none."""
    return 0 if splits.train.in_memory else int(cfg.data.get("num_workers") or 0)


def make_optimizer(model: CCVAE, cfg: RunConfig) -> torch.optim.Optimizer:
    """Adam over three groups: the networks, the classifier q(y|z_c) and the conditional prior p(z_c|y), the
    last two at their own multiples of the learning rate (see TrainConfig)."""
    prior = model.head.prior_parameters()
    prior_ids = {id(p) for p in prior}
    classifier = [p for p in model.head.parameters() if id(p) not in prior_ids]
    head_ids = {id(p) for p in model.head.parameters()}
    networks = [p for p in model.parameters() if id(p) not in head_ids]
    groups = [networks, classifier, prior]
    return torch.optim.Adam([{"params": params, "lr": cfg.train.lr * scale}
                             for params, scale in zip(groups, lr_scales(cfg))], lr=cfg.train.lr,
                            **adam_options(next(model.parameters()).device))


def adam_options(device: torch.device) -> dict:
    """Adam's fused kernel (one pass per parameter instead of about ten) where torch has it: 4% of a CPU
    training step at the CelebA setting (bench/train_throughput.py), the same update up to float rounding."""
    return {"fused": True} if device.type in ("cpu", "cuda") else {}


class Trainer:
    """Trains ``model`` on ``splits`` into ``run_dir``. ``on_epoch`` (optional) sees each epoch's metrics."""

    def __init__(self, run_dir: Path, cfg: RunConfig, splits: DataSplits, model: CCVAE, device: torch.device,
                 group: ProcessGroup | None = None, progress: bool = True,
                 on_epoch: Callable[[dict], None] | None = None, wrap_model: Callable | None = None):
        self.run_dir = Path(run_dir)
        self.cfg = cfg
        self.splits = splits
        self.model = model.to(device)
        self.device = device
        self.group = group or ProcessGroup()
        self.progress = progress
        self.on_epoch = on_epoch
        # the module the losses run through (wrapped in DistributedDataParallel under torchrun)
        losses = LossModule(self.model, cfg.objective.beta, cfg.objective.num_qyx_samples)
        self.train_module = wrap_model(losses) if wrap_model else losses
        self.optimizer = make_optimizer(self.model, cfg)
        self.start_epoch = 0
        # bf16 autocast halves the conv time on CPUs with native bf16 (measured in bench/train_throughput.py);
        # the likelihood, log-densities and the K-sample estimate still run in float32 (see core/objective.py)
        self.use_amp = cfg.train.amp and bf16_autocast_pays_off(device)

    # ----------------------------------------------------------------- state on disk
    def resume(self) -> int:
        """Continue from ``checkpoint.pt``; drop metrics lines of epochs that never reached a checkpoint."""
        stored = ckpt.load_checkpoint(self.run_dir, self.model, self.optimizer)
        self.start_epoch = int(stored["epoch"])
        if "rng" in stored:
            torch.set_rng_state(stored["rng"])
        metrics = self.run_dir / METRICS_FILE
        if metrics.exists() and self.group.is_main:
            kept = [line for line in metrics.read_text().splitlines()
                    if line.strip() and json.loads(line).get("epoch", 0) <= self.start_epoch]
            ckpt.atomic_write_bytes(metrics, ("\n".join(kept) + "\n" if kept else "").encode())
        return self.start_epoch

    def _save(self, epoch: int, record: dict) -> None:
        if not self.group.is_main:
            return
        # model.pt first: if the process dies between the two writes, resume still finds a consistent checkpoint.
        # It names its epoch and metrics, so a watcher (the explorer's live view) reads one atomic file.
        ckpt.save_model(self.run_dir, self.model, epoch=epoch, metrics=record)
        ckpt.save_checkpoint(self.run_dir, self.model, self.optimizer, epoch)

    def _log(self, record: dict) -> None:
        if not self.group.is_main:
            return
        with open(self.run_dir / METRICS_FILE, "a") as f:
            f.write(json.dumps(record) + "\n")

    # ----------------------------------------------------------------- one epoch
    def _shard(self, indices: np.ndarray, generator: torch.Generator) -> np.ndarray:
        """This process's share of a seeded permutation (every process draws the same permutation)."""
        order = indices[torch.randperm(len(indices), generator=generator).numpy()]
        if self.group.world_size == 1:
            return order
        # pad by wrapping so every process runs the same number of steps (DDP needs lockstep)
        per_rank = math.ceil(len(order) / self.group.world_size)
        padded = np.resize(order, per_rank * self.group.world_size)
        return padded[self.group.rank::self.group.world_size]

    def _step(self, x: torch.Tensor, y: torch.Tensor | None):
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.use_amp):
            parts = self.train_module(x, y)
        if not all_finite(parts.loss, self.group):  # every process stops, or none
            loss = parts.loss.detach()
            value = float(loss) if not torch.isfinite(loss) else "non-finite on another process"
            error = TrainingDiverged(
                f"the loss became {value} ({'labelled' if y is not None else 'unlabelled'} batch); "
                f"training stopped, the last good checkpoint in {self.run_dir} is kept (try a lower --lr)",
                on_every_rank=self.group.world_size > 1)  # all_finite stops every process at once
            raise error
        self.optimizer.zero_grad(set_to_none=True)
        parts.loss.backward()
        self.optimizer.step()
        return parts

    def _set_learning_rate(self, epoch: int) -> None:
        """The schedule is a function of the epoch alone, so --resume needs no scheduler state."""
        factor = 1.0
        if self.cfg.train.lr_schedule == "cosine":
            factor = 0.5 * (1 + math.cos(math.pi * (epoch - 1) / max(self.cfg.train.epochs, 1)))
        for group, scale in zip(self.optimizer.param_groups, lr_scales(self.cfg)):
            group["lr"] = self.cfg.train.lr * scale * factor

    def train_epoch(self, epoch: int) -> dict:
        cfg, splits = self.cfg, self.splits
        self._set_learning_rate(epoch)
        gen = torch.Generator().manual_seed(cfg.train.seed * 100_003 + epoch)
        sup_idx = self._shard(splits.labelled, gen)
        unsup_idx = self._shard(splits.unlabelled, gen)
        bs = cfg.train.batch_size
        n_sup, n_unsup = math.ceil(len(sup_idx) / bs), math.ceil(len(unsup_idx) / bs)
        schedule = batch_schedule(n_sup, n_unsup)
        loader_kw = dict(shuffle=False, generator=None, num_workers=loader_workers(self.splits, self.cfg),
                         pin_memory=self.device.type == "cuda")
        sup_iter = iter(iterate_batches(splits.train, sup_idx, bs, **loader_kw))
        unsup_iter = iter(iterate_batches(splits.train, unsup_idx, bs, **loader_kw))
        self.train_module.train()
        sums: dict[str, float] = {}
        counts = {"sup_": 0, "unsup_": 0}
        images = 0
        start = time.perf_counter()
        bar = self._bar(len(schedule), epoch)
        for labelled in schedule:
            x, y = next(sup_iter) if labelled else next(unsup_iter)
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True) if labelled else None
            parts = self._step(x, y)
            prefix = "sup_" if labelled else "unsup_"
            for key, value in parts.as_dict(prefix).items():
                sums[key] = sums.get(key, 0.0) + value
            counts[prefix] += 1
            images += len(x)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(parts.loss.detach()):.1f}", refresh=False)
        if bar is not None:
            bar.close()
        seconds = time.perf_counter() - start
        record = {key: value / counts[key.split("_")[0] + "_"] for key, value in sums.items()}
        record = mean_over_processes(record, self.group)  # every process ran as many steps of equal size
        record.update(train_seconds=seconds, images_per_second=images * self.group.world_size / max(seconds, 1e-9))
        return record

    def refit_prior(self, epoch: int) -> dict:
        """p(z_c|y) set to its optimum for the encoder as it ends the epoch (core/prior_fit.py); each process
        reads its share of the training images and the sums are added up, so every process sets the same prior."""
        gen = torch.Generator().manual_seed(self.cfg.train.seed * 100_003 + epoch + 7)
        start = time.perf_counter()
        reduce = None
        if self.group.world_size > 1:
            from core.distributed import sum_over_processes

            reduce = lambda t: sum_over_processes(t, self.group)  # noqa: E731
        moved = refit_prior(self.model, self.splits.train, self._shard(self.splits.labelled, gen),
                            self._shard(self.splits.unlabelled, gen), self.cfg.objective.num_qyx_samples,
                            device=self.device, seed=self.cfg.train.seed * 1009 + epoch,
                            num_workers=loader_workers(self.splits, self.cfg), reduce=reduce)
        return {**moved, "prior_refit_seconds": time.perf_counter() - start}

    def _bar(self, total: int, epoch: int):
        if not (self.progress and self.group.is_main):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=f"epoch {epoch}/{self.cfg.train.epochs}", unit="batch", leave=False,
                    dynamic_ncols=True, disable=None)  # None: no bar when stderr is not a terminal

    # ----------------------------------------------------------------- the whole run
    def fit(self) -> list[dict]:
        history = []
        val_idx = np.arange(len(self.splits.val))[: self.cfg.train.eval_limit]
        for epoch in range(self.start_epoch + 1, self.cfg.train.epochs + 1):
            with freed_memory_kept(self.device.type == "cpu"):  # each step reuses the one before's memory
                record = {"epoch": epoch, **self.train_epoch(epoch)}
            refit = self.cfg.train.prior_refit
            if refit == "epoch" or (refit == "end" and epoch == self.cfg.train.epochs):
                record.update(self.refit_prior(epoch))
            if self.group.is_main:
                eval_start = time.perf_counter()
                record["val_accuracy"] = accuracy(self.model, self.splits.val, val_idx, device=self.device,
                                                  num_workers=loader_workers(self.splits, self.cfg))
                record.update({f"val_{k}": v for k, v in evaluation_loss(
                    self.model, self.splits.val, val_idx, self.cfg, self.device,
                    num_workers=loader_workers(self.splits, self.cfg)).items()})
                record["eval_seconds"] = time.perf_counter() - eval_start
            self._save(epoch, record)
            self._log(record)
            history.append(record)
            if self.on_epoch:
                self.on_epoch(record)
        return history
