"""Dataset presets: the one place that says how a data set's runs start.

The dataclass defaults in ``core.config`` suit 28x28 digits (MNIST, Fashion-MNIST, mnist5k, small folders).
A preset lists only what a data set changes from them, so each default has a single definition:

    cfg = run_config(DataConfig(dataset="celeba", data_dir="data/celeba"), train={"epochs": 5})
    cfg.model.latent_dim, cfg.train.batch_size, cfg.train.lr   # 45, 200, 1e-4: CelebA's preset

The training command line, the study and the explorer start from ``run_config``; an explicit setting (an
option, a grid value) always wins over the preset. What only the data can say (the label kind, the image shape,
and with them z_c's size and the likelihood) is settled when the run starts (``settle_model``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.config import ModelConfig, ObjectiveConfig, RunConfig, TrainConfig
from core.data.config import DATASET_NAMES, DataConfig
from core.errors import ConfigError
from core.labels import LabelSpec
from core.likelihood import default_likelihood


@dataclass(frozen=True)
class DatasetPreset:
    """Fields a data set sets differently from ``core.config``'s defaults, per part of the RunConfig."""

    model: dict = field(default_factory=dict)
    objective: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)


PRESETS: dict[str, DatasetPreset] = {
    "mnist5k": DatasetPreset(),
    "mnist5k-morpho": DatasetPreset(),  # the same digits with binary shape attributes
    "mnist": DatasetPreset(),
    "fashion-mnist": DatasetPreset(),
    # 64x64 RGB faces with 40 binary attributes: a latent wide enough for one z_c dimension per attribute plus
    # style, bigger batches and a slower learning rate; the likelihood is core.likelihood's rule (the authors'
    # Laplace is --likelihood laplace)
    "celeba": DatasetPreset(model={"latent_dim": 45}, train={"batch_size": 200, "lr": 1e-4}),
    "folder": DatasetPreset(),
}
assert set(PRESETS) == set(DATASET_NAMES), "every data set needs a preset"


def preset(dataset: str) -> DatasetPreset:
    try:
        return PRESETS[dataset]
    except KeyError:
        raise ConfigError(f"unknown data set {dataset!r}; expected one of: {', '.join(DATASET_NAMES)}") from None


def default_value(dataset: str, part: str, name: str):
    """The value a run on ``dataset`` starts with for ``part.name`` (e.g. "train", "lr"): the preset's, else
    the dataclass default. Command lines show it in their help."""
    own = getattr(preset(dataset), part)
    if name in own:
        return own[name]
    cls = {"model": ModelConfig, "objective": ObjectiveConfig, "train": TrainConfig}[part]
    return next(f for f in dataclasses.fields(cls) if f.name == name).default


def run_config(data: DataConfig | dict, *, model: dict | None = None, objective: dict | None = None,
               train: dict | None = None) -> RunConfig:
    """The configuration a new run on ``data`` starts from: core.config's defaults, then the data set's preset,
    then the given fields. The label kind, image shape and (unless given) the likelihood stay open until
    ``settle_model`` sees the data."""
    data = data if isinstance(data, DataConfig) else DataConfig(**data)
    own = preset(data.dataset)
    # label_spec None: the data settles it, and with it z_c's size; likelihood None: settled from the channels
    model_fields = {"label_spec": None, "likelihood": None, **own.model, **(model or {})}
    try:
        return RunConfig(model=ModelConfig(**model_fields),
                         objective=ObjectiveConfig(**{**own.objective, **(objective or {})}),
                         train=TrainConfig(**{**own.train, **(train or {})}), data=data.to_json())
    except TypeError as e:  # a field name that does not exist: a programming error worth a clear line
        raise ConfigError(f"unknown run setting: {e}") from None


def settle_model(model: ModelConfig, label_spec: LabelSpec, image_shape) -> ModelConfig:
    """``model`` with what the data says filled in: label kind, image shape, z_c's size (when 0: one per class;
    binary labels: one per attribute) and the likelihood (when None). Raises ConfigError when z_c does not fit."""
    likelihood = model.likelihood or default_likelihood(int(image_shape[0]))
    return dataclasses.replace(model, label_spec=label_spec, image_shape=tuple(image_shape), likelihood=likelihood)
