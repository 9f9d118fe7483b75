"""Data loading for ccvae-explorer: the embedded MNIST subset, MNIST / Fashion-MNIST IDX files, CelebA and a
user's own image folder, with train / val / test splits and the choice of labelled training images.

Typical use::

    splits = load_data(DataConfig(dataset="mnist5k", sup_frac=0.1, seed=1))
    gen = torch.Generator().manual_seed(1)
    for images, labels in iterate_batches(splits.train, splits.labelled, 64, shuffle=True, generator=gen):
        ...  # images float32 [B, 1, 28, 28] in [0, 1], labels int64 [B]
"""
from core.data.batches import iterate_batches
from core.data.config import DATASET_NAMES, DataConfig, add_source_arguments, source_settings
from core.data.errors import DataError
from core.data.imageset import FileImageSet, ImageFileLoader, ImageSet, TensorImageSet
from core.data.labelled import choose_labelled, label_prior
from core.data.load import load_data
from core.data.splits import DataSplits

__all__ = [
    "DATASET_NAMES", "DataConfig", "DataError", "DataSplits", "FileImageSet", "ImageFileLoader", "ImageSet",
    "TensorImageSet", "add_source_arguments", "choose_labelled", "iterate_batches", "label_prior", "load_data",
    "source_settings",
]
