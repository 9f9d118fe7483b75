"""Typed settings of a run. Each part is a small dataclass that round-trips to JSON, so ``config.json`` beside
the weights is enough to rebuild the model and its data."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.errors import ConfigError
from core.labels import LabelSpec
from core.likelihood import check_likelihood

FORMAT_VERSION = 1  # bump when config.json or model.pt change in a way old runs cannot be read


@dataclass
class ModelConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W): 28x28 grey or 64x64 RGB
    # None until the data says what its labels are (then z_c's size is settled)
    label_spec: LabelSpec | None = field(default_factory=lambda: LabelSpec("multiclass", tuple(str(i) for i in range(10))))
    latent_dim: int = 16          # size of the whole latent z = [z_c, z_style]
    zc_dim: int = 0               # size of z_c; 0: one dimension per class (capped at latent_dim - 1);
                                  # binary labels always get one dimension per attribute, as in the paper
    likelihood: str | None = "bernoulli"  # p(x|z): one of core.likelihood.LIKELIHOODS (see there); None until
                                          # the data says (core.likelihood.default_likelihood)
    likelihood_scale: float = 1.0  # the fixed scale of "laplace" (1 in the CCVAE authors' code); others ignore it
    hidden_channels: tuple[int, ...] = ()  # conv widths; empty means the default for the image size

    def __post_init__(self):
        self.image_shape = tuple(int(v) for v in self.image_shape)
        self.hidden_channels = tuple(int(v) for v in self.hidden_channels)
        if isinstance(self.label_spec, dict):
            self.label_spec = LabelSpec.from_json(self.label_spec)
        if self.likelihood is not None:
            check_likelihood(self.likelihood)
        if not self.likelihood_scale > 0:
            raise ConfigError(f"the Laplace scale must be positive, not {self.likelihood_scale}")
        if self.label_spec is None:
            return
        if not self.label_spec.is_multiclass:
            self.zc_dim = self.label_spec.size  # one z_c dimension per attribute, as in the paper
        elif self.zc_dim == 0:
            # one per class: on mnist5k this reached 94% validation accuracy after 8 epochs at 50% labels,
            # where 4 dimensions reached 85%; the classes separate sooner with more room
            self.zc_dim = min(self.label_spec.size, self.latent_dim - 1)
        if self.zc_dim < 1 or self.zc_dim >= self.latent_dim:
            what = "attributes" if not self.label_spec.is_multiclass else "zc_dim"
            raise ConfigError(f"z_c needs {self.zc_dim} dimensions ({what}) but the latent has {self.latent_dim}; "
                             f"zc_dim must be between 1 and latent_dim - 1 (raise --latent-dim)")

    @property
    def style_dim(self) -> int:
        return self.latent_dim - self.zc_dim

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["label_spec"] = self.label_spec.to_json() if self.label_spec is not None else None
        d["image_shape"] = list(self.image_shape)
        d["hidden_channels"] = list(self.hidden_channels)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "ModelConfig":
        return cls(**d)


@dataclass
class ObjectiveConfig:
    beta: float = 1.0        # weight on the latent terms; 1 is the paper's objective
    num_qyx_samples: int = 100  # K in the estimate of q(y|x) = mean_k q(y|z_c^(k))

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "ObjectiveConfig":
        return cls(**d)


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    # the conditional prior p(z_c|y) learns this many times faster than the networks: Adam moves a parameter by
    # about lr per step, so at 1e-3 the class means lag far behind the encoder's clusters for the first thousands
    # of steps and label swaps land off the data (mnist5k, 12 epochs, 50% labels: swaps re-classified as the
    # target 15% of the time at 1x, 75% at 10x, same accuracy)
    prior_lr_scale: float = 10.0
    # the classifier q(y|z_c) at this multiple: faster classifiers were unstable on Fashion-MNIST (50% labels,
    # validation accuracy after 6 epochs: 0.879 with both heads at 10x, 0.885 with the classifier at 1x)
    classifier_lr_scale: float = 1.0
    lr_schedule: str = "constant"  # "constant", or "cosine": decay to 0 over the run's epochs, epoch by epoch
    # set p(z_c|y) to the objective's exact optimum for the current encoder (core/prior_fit.py): "end" once after
    # the last epoch, "epoch" after every epoch, "none" gradient steps only (runs saved before this option existed
    # trained with "none"). "end" is the default: "epoch" lets the encoder spread z_c further and keeps less style
    # under a swap (bench/swap_diagnosis.py; docs/study_mnist5k.md)
    prior_refit: str = "end"
    seed: int = 0
    device: str = "auto"        # auto | cpu | cuda | cuda:N
    amp: bool = True            # bfloat16 autocast where the hardware has it (CUDA; CPUs with AVX512-BF16/AMX)
    map_points: int = 10000     # at most this many evaluation images get latents and 2-D maps
    eval_limit: int = 5000      # validation images scored after each epoch (accuracy, loss curves)
    make_maps: bool = True      # fit UMAP maps at the end of training
    make_figures: bool = True
    measure: bool = False       # measure swaps, generations and style with the judge into summary.json (core/run_measures.py)
    threads: int = 0            # CPU threads for torch (0: torch's default); 1 is fastest on a busy 2-core machine
    limit_train: int = 0        # train on the first N labelled and N unlabelled images only (0: all); smoke runs

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "TrainConfig":
        return cls(**{"prior_refit": "none", **d})


@dataclass
class RunConfig:
    """Everything in ``config.json``: enough to rebuild the model and reload its data."""

    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: dict = field(default_factory=dict)          # core.data.DataConfig as a dict
    extra: dict = field(default_factory=dict)         # facts about the run (world size, effective batch, ...)

    def data_as_trained(self) -> dict:
        """The run's data settings with the image shape its model takes filled in where they were left to the
        images (a folder's channels and side default from what it holds, and a folder changes: a grey picture
        added later, or read only in part, must not reload a colour run as grey)."""
        data = dict(self.data)
        if data.get("dataset") == "folder":
            channels, side, _ = self.model.image_shape
            if data.get("channels") is None:
                data["channels"] = int(channels)
            if data.get("image_size") is None:
                data["image_size"] = int(side)
        return data

    def to_json(self) -> dict:
        return {"format": "ccvae-explorer-run", "version": FORMAT_VERSION, "model": self.model.to_json(),
                "objective": self.objective.to_json(), "train": self.train.to_json(), "data": dict(self.data),
                "extra": dict(self.extra)}

    @classmethod
    def from_json(cls, d: dict) -> "RunConfig":
        if not isinstance(d, dict) or d.get("format") != "ccvae-explorer-run":
            raise ValueError("not a ccvae-explorer run configuration")
        if d.get("version") != FORMAT_VERSION:
            raise ValueError(f"run format version {d.get('version')} is not supported (this version reads {FORMAT_VERSION})")
        return cls(model=ModelConfig.from_json(d["model"]), objective=ObjectiveConfig.from_json(d["objective"]),
                   train=TrainConfig.from_json(d["train"]), data=dict(d.get("data", {})),
                   extra=dict(d.get("extra", {})))
