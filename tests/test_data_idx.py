"""MNIST / Fashion-MNIST IDX files: tiny generated files in both layouts, errors, and the real Debian files."""
import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data import DataConfig, DataError, load_data
from core.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    magic = IMAGES_MAGIC if array.ndim == 3 else LABELS_MAGIC
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, n_train=24, n_test=6, gz=True, seed=0):
    """Writes the four files; returns the arrays (train images, train labels, test images, test labels)."""
    rng = np.random.default_rng(seed)
    arrays = (rng.integers(0, 256, (n_train, 28, 28)), np.arange(n_train) % 10,
              rng.integers(0, 256, (n_test, 28, 28)), np.arange(n_test) % 10)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in zip(STEMS, arrays):
        data = idx_bytes(array)
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip_flat_layout(tmp_path, gz):
    train_x, train_y, test_x, test_y = write_idx_set(tmp_path, gz=gz)
    s = load_data(DataConfig(dataset="fashion-mnist", data_dir=str(tmp_path)))
    assert s.label_spec.names[0] == "T-shirt/top" and s.label_spec.names[-1] == "Ankle boot"
    assert (len(s.train), len(s.val), len(s.test)) == (22, 2, 6)
    assert s.image_shape == (1, 28, 28) and s.train.in_memory
    assert torch.equal(s.test.images[:, 0], torch.as_tensor(test_x, dtype=torch.uint8))
    assert torch.equal(s.test.labels, torch.as_tensor(test_y))
    # train + val are exactly the original training images, each once
    together = torch.cat([s.train.images, s.val.images])[:, 0].reshape(24, -1).numpy()
    originals = train_x.astype(np.uint8).reshape(24, -1)
    assert sorted(r.tobytes() for r in together) == sorted(r.tobytes() for r in originals)


def test_idx_torchvision_layout_and_fixed_split(tmp_path):
    write_idx_set(tmp_path / "MNIST" / "raw", gz=False)
    a = load_data(DataConfig(dataset="mnist", data_dir=str(tmp_path), seed=1))
    b = load_data(DataConfig(dataset="mnist", data_dir=str(tmp_path), seed=2))
    assert a.label_spec.names == tuple(str(d) for d in range(10))
    assert torch.equal(a.val.images, b.val.images)  # the train/val split does not follow cfg.seed
    image, label = a.train[0]
    assert image.dtype == torch.float32 and image.shape == (1, 28, 28) and label.dtype == torch.int64


def test_idx_missing_file_names_both_places(tmp_path):
    write_idx_set(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError) as err:
        load_data(DataConfig(dataset="fashion-mnist", data_dir=str(tmp_path)))
    message = str(err.value)
    assert "train-images-idx3-ubyte(.gz)" in message and str(tmp_path / "FashionMNIST" / "raw") in message
    assert "dataset-fashion-mnist" in message and "\n" not in message


def test_mnist_without_folder_is_an_error():
    with pytest.raises(DataError, match="mnist"):
        load_data(DataConfig(dataset="mnist"))


def test_idx_truncated_and_corrupt_files(tmp_path):
    write_idx_set(tmp_path, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    good = path.read_bytes()
    path.write_bytes(good[:-100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(path, IMAGES_MAGIC)
    path.write_bytes(b"\x00\x00\x08\x01" + good[4:])
    with pytest.raises(DataError, match="magic"):
        read_idx(path, IMAGES_MAGIC)
    path.write_bytes(gzip.compress(good)[:-30])  # gzip stream cut short
    with pytest.raises(DataError, match=str(path)):
        read_idx(path, IMAGES_MAGIC)
    path.write_bytes(good[:6])
    with pytest.raises(DataError, match="header"):
        read_idx(path, IMAGES_MAGIC)


def test_idx_mismatched_counts(tmp_path):
    write_idx_set(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5)))
    with pytest.raises(DataError, match="6 images"):
        load_data(DataConfig(dataset="mnist", data_dir=str(tmp_path)))


@pytest.mark.skipif(not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_files():
    s = load_data(DataConfig(dataset="fashion-mnist", data_dir=os.fspath(DEBIAN_FASHION), num_labels=100))
    assert (len(s.train), len(s.val), len(s.test)) == (55000, 5000, 10000)
    assert np.bincount(s.test.labels.numpy()).tolist() == [1000] * 10
