"""The study's grid: which cells (beta x latent size x labelled fraction) to train, and each cell's RunConfig."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from core.config import ModelConfig, ObjectiveConfig, RunConfig, TrainConfig
from core.data import DATASET_NAMES, DataConfig

POSTER_BETAS = (0.001, 0.05, 0.2, 0.4, 1.0)  # the poster's four KL weights and the paper's objective (1)
POSTER_LATENT_DIMS = (16, 128)
DEFAULT_EPOCHS = 15  # the default grid on mnist5k: about 15 min on the shared 2-core CPU (docs/study_mnist5k.md)


class StudyError(Exception):
    """Settings or a study folder that cannot be used; one-line message."""


@dataclass
class StudyConfig:
    """What to train and how to measure it. Every cell shares everything but its beta, latent size and
    labelled fraction."""

    data: dict = field(default_factory=lambda: {"dataset": "mnist5k"})  # DataConfig fields except sup_frac
    betas: tuple[float, ...] = POSTER_BETAS
    latent_dims: tuple[int, ...] = POSTER_LATENT_DIMS
    sup_fracs: tuple[float, ...] = (1.0,)  # share of training labels each cell's CCVAE may see
    zc_dim: int = 0                # size of z_c (multi-class); 0: one per class as in the trainer; binary: one per attribute
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    # CPU threads for torch (0: torch's default). 1 by default: the cells are small models, and on the shared
    # 2-core machine one thread trained at 276 img/s where torch's default of two managed 40-45 img/s
    threads: int = 1
    limit_train: int = 0           # each cell trains on at most N labelled and N unlabelled images (0: all)
    num_qyx_samples: int = 100     # K in the estimate of q(y|x)
    make_maps: bool = False        # per-cell UMAP maps (slow; the explorer can compute them later)
    make_figures: bool = True      # per-cell figures in <cell>/figures
    measure_images: int = 300      # test images the measures use (the first ones of the test split)
    gen_per_label: int = 50       # conditional generations per label for cond-gen accuracy
    judge_epochs: int = 6          # at most this many epochs for the judge (early stop on validation)
    judge_images: int = 60000      # the judge trains on at most this many training images (a random subset)

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        self.latent_dims = tuple(int(d) for d in self.latent_dims)
        self.sup_fracs = tuple(float(f) for f in self.sup_fracs)
        self.data = dict(self.data)
        self.data.pop("sup_frac", None)
        self.data.pop("num_labels", None)

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
        for d in self.latent_dims:
            if d <= max(1, self.zc_dim):
                raise StudyError(f"latent size {d} leaves no style: it must exceed the z_c size "
                                 f"({self.zc_dim or 'one per class, at most latent size - 1'})")
        for f in self.sup_fracs:
            if not (0 < f <= 1):
                raise StudyError(f"labelled fraction must be in (0, 1], got {f:g}")
        if self.zc_dim < 0 or self.threads < 0 or self.limit_train < 0:
            raise StudyError("z_c size, threads and the training limit must not be negative")
        for name in ("epochs", "batch_size", "measure_images", "gen_per_label", "judge_epochs", "judge_images"):
            if getattr(self, name) < 1:
                raise StudyError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}")
        if self.measure_images < 2:
            raise StudyError("measure images must be at least 2 (the style measures pair images)")
        if not self.lr > 0:
            raise StudyError(f"learning rate must be positive, got {self.lr:g}")

    def cells(self) -> list["Cell"]:
        return [Cell(beta, latent, frac) for latent in self.latent_dims for beta in self.betas
                for frac in self.sup_fracs]

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("betas", "latent_dims", "sup_fracs"):
            d[k] = list(d[k])
        return d


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

    def run_config(self, study: StudyConfig, channels: int) -> RunConfig:
        """The cell's ordinary run configuration. ``channels``: 1 (grey, Bernoulli) or 3 (RGB, Laplace)."""
        data = DataConfig(**{**study.data, "sup_frac": self.sup_frac, "seed": study.data.get("seed", study.seed)})
        # label_spec None: the data settles it (and with it a z_c of one dimension per class) when the run starts
        model = ModelConfig(label_spec=None, latent_dim=self.latent_dim, zc_dim=study.zc_dim,
                            likelihood="laplace" if channels == 3 else "bernoulli")
        train = TrainConfig(epochs=study.epochs, batch_size=study.batch_size, lr=study.lr, seed=study.seed,
                            device=study.device, threads=study.threads, limit_train=study.limit_train, make_maps=study.make_maps, make_figures=study.make_figures)
        return RunConfig(model=model, objective=ObjectiveConfig(beta=self.beta, num_qyx_samples=study.num_qyx_samples),
                         train=train, data=data.to_json())
