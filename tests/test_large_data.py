"""Large data sets: folder (and CelebA) images stay on disk, read per batch, also by DataLoader workers.

Uses the generator of bench/peak_memory.py on a few dozen images; the benchmark itself measures the real
20,000-image case.
"""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data import DataConfig, iterate_batches, load_data

ROOT = Path(__file__).resolve().parent.parent


def _bench_module():
    spec = importlib.util.spec_from_file_location("peak_memory", ROOT / "bench" / "peak_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _bench_module()


@pytest.fixture(scope="module")
def shapes(tmp_path_factory, bench):
    return bench.make_shapes_folder(tmp_path_factory.mktemp("shapes"), 60)


def test_generated_folder_is_deterministic_and_labelled(tmp_path, bench, shapes):
    again = bench.make_shapes_folder(tmp_path / "again", 60)
    assert (again / "labels.csv").read_text() == (shapes / "labels.csv").read_text()
    assert (again / "000/000007.png").read_bytes() == (shapes / "000/000007.png").read_bytes()
    splits = load_data(DataConfig(dataset="folder", data_dir=str(shapes)))
    assert splits.label_spec.kind == "binary" and splits.label_spec.names == bench.ATTRIBUTES
    assert tuple(splits.image_shape) == (3, 64, 64)
    # every attribute takes both values: each is learnable
    labels = torch.cat([splits.train.labels, splits.val.labels, splits.test.labels])
    assert bool(((labels.mean(0) > 0.1) & (labels.mean(0) < 0.9)).all())


def test_folder_data_holds_paths_not_pixels(shapes):
    splits = load_data(DataConfig(dataset="folder", data_dir=str(shapes)))
    train = splits.train
    assert train.in_memory is False
    # what a DataLoader worker receives: the paths, the labels and the loader, never the images
    pixel_bytes = len(train) * 3 * 64 * 64
    assert len(pickle.dumps(train)) < pixel_bytes / 10
    assert not any(isinstance(v, (torch.Tensor, np.ndarray)) and v.size and np.prod(v.shape) >= pixel_bytes
                   for v in vars(train).values())


def test_workers_give_the_same_batches_as_the_main_process(shapes):
    splits = load_data(DataConfig(dataset="folder", data_dir=str(shapes)))
    order = np.random.default_rng(0).permutation(len(splits.train))
    plain = list(iterate_batches(splits.train, order, 16, shuffle=False, generator=None, num_workers=0))
    workers = list(iterate_batches(splits.train, order, 16, shuffle=False, generator=None, num_workers=2,
                                   pin_memory=True))  # pinning is skipped without CUDA
    assert len(plain) == len(workers) == -(-len(order) // 16)
    for (xa, ya), (xb, yb) in zip(plain, workers):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert plain[0][0].shape[1:] == (3, 64, 64) and plain[0][0].dtype == torch.float32


def test_time_v_parsing(bench):
    text = ("\tMaximum resident set size (kbytes): 1048576\n"
            "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02.50\n")
    assert bench.parse_time_v(text) == {"peak_rss_mb": 1024.0, "wall_s": 62.5}
