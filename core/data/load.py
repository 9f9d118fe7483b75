"""``load_data``: from a DataConfig to train / validation / test sets and the labelled subset."""
from __future__ import annotations

import numpy as np

from core.data.celeba import load_celeba
from core.data.config import DATASET_NAMES, DataConfig
from core.data.errors import DataError
from core.data.folder import load_folder
from core.data.idx import IDX_DATASETS, load_idx_dataset
from core.data.labelled import choose_labelled, label_prior
from core.data.mnist5k import load_mnist5k
from core.data.morpho import load_mnist5k_morpho
from core.data.splits import DataSplits


def load_data(cfg: DataConfig, check_images: bool = True) -> DataSplits:
    """Loads the configured data set and chooses which training labels the model may see.

    The train/val/test split is fixed for mnist5k (and mnist5k-morpho), mnist and
    fashion-mnist (seed 0, whatever ``cfg.seed``)
    and official for celeba; a folder data set keeps its own split (split column, train/ val/ test/ folders) or
    is split with ``cfg.seed``. The labelled subset always
    depends on ``cfg.seed``. Raises DataError for anything missing or malformed. ``check_images=False`` skips
    opening every folder image's header (for readers of a finished run, which only need a few images).
    """
    if cfg.dataset == "mnist5k":
        train, val, test, spec = load_mnist5k()
    elif cfg.dataset == "mnist5k-morpho":
        train, val, test, spec = load_mnist5k_morpho()
    elif cfg.dataset in IDX_DATASETS:
        train, val, test, spec = load_idx_dataset(cfg.dataset, cfg.data_dir)
    elif cfg.dataset == "celeba":
        train, val, test, spec = load_celeba(cfg.data_dir)
    elif cfg.dataset == "folder":
        train, val, test, spec = load_folder(cfg.data_dir, cfg.labels_csv, cfg.image_size, cfg.channels,
                                             cfg.seed, cfg.resize, check=check_images)
    else:
        raise DataError(f"unknown data set {cfg.dataset!r}; expected one of: {', '.join(DATASET_NAMES)}")

    labelled = choose_labelled(train.labels, spec, cfg.sup_frac, cfg.num_labels, cfg.seed)
    unlabelled = np.setdiff1d(np.arange(len(train), dtype=np.int64), labelled, assume_unique=True)
    return DataSplits(name=cfg.dataset, train=train, val=val, test=test, labelled=labelled,
                      unlabelled=unlabelled, label_spec=spec, image_shape=train.image_shape,
                      label_prior=label_prior(train.labels[labelled], spec))
