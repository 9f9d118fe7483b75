"""The study's grid: which cells (beta x latent size x labelled fraction) to train, and each cell's RunConfig."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.config import RunConfig
from core.data import DATASET_NAMES
from core.errors import CCVAEError
from core.presets import run_config

POSTER_BETAS = (0.001, 0.05, 0.2, 0.4, 1.0)  # the poster's four KL weights and the paper's objective (1)
POSTER_LATENT_DIMS = (16, 128)
# Where a study's cells differ from a single run's defaults (core.config, then the data set's preset):
# - 15 epochs: the default grid on mnist5k takes about 15 min on the shared 2-core CPU (docs/study_mnist5k.md);
# - 1 thread: the cells are small models, and on the shared 2-core machine one thread trained at 276 img/s
#   where torch's default of two managed 40-45 img/s;
# - no per-cell UMAP maps (slow; the explorer computes them when a cell is opened).
STUDY_TRAIN_DEFAULTS = {"epochs": 15, "threads": 1, "make_maps": False}
DEFAULT_EPOCHS = STUDY_TRAIN_DEFAULTS["epochs"]
_NOT_SHARED = ("sup_frac", "num_labels")  # data settings that belong to a cell (its grid value), not the study


class StudyError(CCVAEError):
    """Settings or a study folder that cannot be used; one-line message."""


def study_run_config(data: dict | None = None, *, model: dict | None = None, objective: dict | None = None,
                     train: dict | None = None) -> RunConfig:
    """The run configuration every cell starts from: the data set's preset (core.presets), the study's own
    defaults (STUDY_TRAIN_DEFAULTS), then the given fields."""
    data = {k: v for k, v in (data or {"dataset": "mnist5k"}).items() if k not in _NOT_SHARED}
    return run_config(data, model=model, objective=objective, train={**STUDY_TRAIN_DEFAULTS, **(train or {})})


@dataclass
class StudyConfig:
    """What to train and how to measure it: one RunConfig every cell shares, and the grid values (beta,
    latent size, labelled fraction) that make each cell's run different."""

    run: RunConfig = field(default_factory=study_run_config)
    betas: tuple[float, ...] = POSTER_BETAS
    latent_dims: tuple[int, ...] = POSTER_LATENT_DIMS
    sup_fracs: tuple[float, ...] = (1.0,)  # share of training labels each cell's CCVAE may see
    measure_images: int = 300      # test images the measures use (a fixed random subset of the test split)
    gen_per_label: int = 50       # conditional generations per label for cond-gen accuracy
    judge_epochs: int = 6          # at most this many epochs for the judge (early stop on validation)
    judge_images: int = 60000      # the judge trains on at most this many training images (a random subset)

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        self.latent_dims = tuple(int(d) for d in self.latent_dims)
        self.sup_fracs = tuple(float(f) for f in self.sup_fracs)
        self.run = dataclasses.replace(self.run, data={k: v for k, v in self.run.data.items() if k not in _NOT_SHARED})

    # the shared settings the runner reads most
    @property
    def data(self) -> dict:
        """The data settings every cell shares (which set, where, seed): also the judge's cache key."""
        return {k: v for k, v in self.run.data.items() if k != "num_workers"}

    @property
    def epochs(self) -> int:
        return self.run.train.epochs

    @property
    def seed(self) -> int:
        return self.run.train.seed

    def validate(self) -> None:
        """StudyError naming the first bad setting."""
        dataset = self.data.get("dataset")
        if dataset not in DATASET_NAMES:
            raise StudyError(f"unknown data set {dataset!r}; expected one of: {', '.join(DATASET_NAMES)}")
        for name, values in (("betas", self.betas), ("latent dims", self.latent_dims),
                             ("sup fracs", self.sup_fracs)):
            if not values:
                raise StudyError(f"no {name} given")
            if len(set(values)) != len(values):
                raise StudyError(f"{name} repeat a value: {' '.join(f'{v:g}' for v in values)}")
        for b in self.betas:
            if not math.isfinite(b) or b <= 0:
                raise StudyError(f"beta must be a positive number, got {b:g}")
        zc_dim, train = self.run.model.zc_dim, self.run.train
        for d in self.latent_dims:
            if d <= max(1, zc_dim):
                raise StudyError(f"latent size {d} leaves no style: it must exceed the z_c size "
                                 f"({zc_dim or 'one per class, at most latent size - 1'})")
        for f in self.sup_fracs:
            if not (0 < f <= 1):
                raise StudyError(f"labelled fraction must be in (0, 1], got {f:g}")
        if zc_dim < 0 or train.threads < 0 or train.limit_train < 0:
            raise StudyError("z_c size, threads and the training limit must not be negative")
        for name, value in (("epochs", train.epochs), ("batch size", train.batch_size),
                            ("qyx samples", self.run.objective.num_qyx_samples),
                            ("measure images", self.measure_images), ("gen per label", self.gen_per_label),
                            ("judge epochs", self.judge_epochs), ("judge images", self.judge_images)):
            if value < 1:
                raise StudyError(f"{name} must be at least 1, got {value}")
        if self.measure_images < 2:
            raise StudyError("measure images must be at least 2 (the style measures pair images)")
        if not train.lr > 0:
            raise StudyError(f"learning rate must be positive, got {train.lr:g}")

    def cells(self) -> list["Cell"]:
        return [Cell(beta, latent, frac) for latent in self.latent_dims for beta in self.betas
                for frac in self.sup_fracs]

    def to_json(self) -> dict:
        return {"run": self.run.to_json(), "betas": list(self.betas), "latent_dims": list(self.latent_dims),
                "sup_fracs": list(self.sup_fracs), "measure_images": self.measure_images,
                "gen_per_label": self.gen_per_label, "judge_epochs": self.judge_epochs,
                "judge_images": self.judge_images}


@dataclass(frozen=True)
class Cell:
    beta: float
    latent_dim: int
    sup_frac: float

    @property
    def name(self) -> str:
        """Folder name, e.g. ``beta0.05_z16_sup1``."""
        return f"beta{self.beta:g}_z{self.latent_dim}_sup{self.sup_frac:g}"

    def label(self, with_sup: bool = False) -> str:
        """Short caption for figures and progress lines."""
        text = f"beta={self.beta:g}, latent={self.latent_dim}"
        return text + (f", sup={self.sup_frac:g}" if with_sup else "")

    def run_dir(self, out: Path) -> Path:
        return Path(out) / "cells" / self.name

    def run_config(self, study: StudyConfig) -> RunConfig:
        """The cell's ordinary run configuration: the study's shared RunConfig with the cell's grid values."""
        base = study.run
        return dataclasses.replace(base, model=dataclasses.replace(base.model, latent_dim=self.latent_dim),
                                   objective=dataclasses.replace(base.objective, beta=self.beta),
                                   data={**base.data, "sup_frac": self.sup_frac, "num_labels": None})


def random_subset(num_images: int, n: int, seed: int) -> torch.Tensor:
    """Sorted indices of a fixed random choice of ``n`` of ``num_images`` images (all when n >= num_images): the
    images every cell is measured on. Splits may be sorted by class, so the first n would miss whole classes."""
    order = torch.randperm(num_images, generator=torch.Generator().manual_seed(seed))
    return order[:min(n, num_images)].sort().values
