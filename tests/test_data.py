"""The embedded mnist5k set, the labelled subset, the label prior and batch iteration."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from core.data import (DataConfig, DataError, ImageSet, TensorImageSet, choose_labelled, iterate_batches,
                       label_prior, load_data)
from core.labels import BINARY, MULTICLASS, LabelSpec

DIGITS = LabelSpec(MULTICLASS, tuple(str(d) for d in range(10)))


@pytest.fixture(scope="module")
def mnist5k():
    return load_data(DataConfig())


def test_mnist5k_shapes_and_sizes(mnist5k):
    s = mnist5k
    assert s.name == "mnist5k"
    assert (len(s.train), len(s.val), len(s.test)) == (4000, 500, 500)
    assert s.image_shape == (1, 28, 28) and s.train.image_shape == (1, 28, 28)
    assert s.label_spec == DIGITS
    assert s.train.in_memory and isinstance(s.train, ImageSet)
    image, label = s.train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert label.dtype == torch.int64 and label.dim() == 0
    images, labels = s.test.get_batch(np.arange(7))
    assert images.shape == (7, 1, 28, 28) and images.dtype == torch.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.5
    assert labels.shape == (7,) and labels.dtype == torch.int64
    # get_batch's fast path agrees with item-by-item access
    assert torch.equal(images[3], s.test[3][0]) and labels[3] == s.test[3][1]


def test_mnist5k_split_is_stratified(mnist5k):
    for part, per_class in ((mnist5k.train, 400), (mnist5k.val, 50), (mnist5k.test, 50)):
        assert np.bincount(part.labels.numpy(), minlength=10).tolist() == [per_class] * 10


def test_mnist5k_splits_are_disjoint_and_cover_all(mnist5k):
    flat = [part.images.reshape(len(part), -1).numpy() for part in (mnist5k.train, mnist5k.val, mnist5k.test)]
    rows = {row.tobytes() for part in flat for row in part}
    with np.load("assets/mnist5k.npz") as archive:
        originals = {row.tobytes() for row in archive["images"].reshape(5000, -1)}
    # the 5,000 images are all distinct, so comparing pixel rows compares identities
    assert len(originals) == 5000 and rows == originals
    train, val, test = ({r.tobytes() for r in part} for part in flat)
    assert not (train & val) and not (train & test) and not (val & test)


def test_mnist5k_split_ignores_seed_but_labelled_subset_does_not(mnist5k):
    other = load_data(DataConfig(seed=5, sup_frac=0.1))
    assert torch.equal(other.test.images, mnist5k.test.images)
    assert torch.equal(other.train.labels, mnist5k.train.labels)
    again = load_data(DataConfig(seed=5, sup_frac=0.1))
    assert np.array_equal(again.labelled, other.labelled)
    third = load_data(DataConfig(seed=6, sup_frac=0.1))
    assert not np.array_equal(third.labelled, other.labelled)


def test_labelled_and_unlabelled_partition_train():
    s = load_data(DataConfig(num_labels=100, seed=2))
    assert len(s.labelled) == 100 and len(s.unlabelled) == 3900
    assert s.labelled.dtype == np.int64 and s.unlabelled.dtype == np.int64
    assert np.all(np.diff(s.labelled) > 0) and np.all(np.diff(s.unlabelled) > 0)
    assert np.array_equal(np.union1d(s.labelled, s.unlabelled), np.arange(4000))
    assert np.bincount(s.train.labels[s.labelled].numpy(), minlength=10).tolist() == [10] * 10


def test_full_supervision_by_default(mnist5k):
    assert len(mnist5k.labelled) == 4000 and len(mnist5k.unlabelled) == 0
    assert torch.allclose(mnist5k.label_prior, torch.full((10,), 0.1))


def test_data_config_json_round_trip():
    cfg = DataConfig(dataset="folder", data_dir="/d", sup_frac=0.25, channels=3, seed=4)
    d = json.loads(json.dumps(dataclasses.asdict(cfg)))
    assert DataConfig(**d) == cfg
    assert DataConfig.from_json(cfg.to_json()) == cfg


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(DataError, match="mnist5k, mnist5k-morpho, mnist, fashion-mnist, celeba, folder"):
        load_data(DataConfig(dataset="cifar"))


# --- choose_labelled ----------------------------------------------------------------------------------------

def test_choose_labelled_is_balanced_and_seeded():
    labels = torch.arange(10).repeat_interleave(30)  # 30 per class
    chosen = choose_labelled(labels, DIGITS, None, 47, seed=1)
    assert len(chosen) == 47 and chosen.dtype == np.int64 and np.all(np.diff(chosen) > 0)
    counts = np.bincount(labels[chosen].numpy(), minlength=10)
    assert counts.min() == 4 and counts.max() == 5
    assert np.array_equal(chosen, choose_labelled(labels, DIGITS, None, 47, seed=1))
    assert not np.array_equal(chosen, choose_labelled(labels, DIGITS, None, 47, seed=2))
    by_frac = choose_labelled(labels, DIGITS, 0.1, None, seed=0)
    assert np.bincount(labels[by_frac].numpy(), minlength=10).tolist() == [3] * 10


def test_choose_labelled_gives_small_classes_share_to_others():
    spec = LabelSpec(MULTICLASS, ("a", "b", "c"))
    labels = torch.tensor([0] * 2 + [1] * 50 + [2] * 50)
    counts = np.bincount(labels[choose_labelled(labels, spec, None, 30, seed=0)].numpy(), minlength=3)
    assert counts.tolist() == [2, 14, 14]


def test_choose_labelled_binary_is_random_subset():
    spec = LabelSpec(BINARY, ("x", "y"))
    labels = torch.randint(0, 2, (200, 2)).float()
    chosen = choose_labelled(labels, spec, 0.25, None, seed=3)
    assert len(chosen) == 50 and len(np.unique(chosen)) == 50 and chosen.max() < 200
    assert np.array_equal(chosen, choose_labelled(labels, spec, 0.25, None, seed=3))


@pytest.mark.parametrize("sup_frac, num_labels", [(0.0, None), (1.5, None), (-0.1, None), (float("nan"), None),
                                                  (None, 0), (None, 301), (None, 2.5)])
def test_choose_labelled_rejects_bad_amounts(sup_frac, num_labels):
    labels = torch.arange(10).repeat_interleave(30)
    with pytest.raises(DataError):
        choose_labelled(labels, DIGITS, sup_frac, num_labels, seed=0)


def test_choose_labelled_bounds_accepted():
    labels = torch.arange(10).repeat_interleave(30)
    assert len(choose_labelled(labels, DIGITS, 1.0, None, seed=0)) == 300
    assert len(choose_labelled(labels, DIGITS, None, 300, seed=0)) == 300
    assert len(choose_labelled(labels, DIGITS, None, 1, seed=0)) == 1
    assert len(choose_labelled(labels, DIGITS, 1e-6, None, seed=0)) == 1


# --- label_prior --------------------------------------------------------------------------------------------

def test_label_prior_multiclass_is_smoothed():
    spec = LabelSpec(MULTICLASS, ("a", "b", "c"))
    prior = label_prior(torch.tensor([0, 0, 0, 1]), spec)
    assert prior.dtype == torch.float32 and prior.shape == (3,)
    assert torch.allclose(prior, torch.tensor([4 / 7, 2 / 7, 1 / 7]))


def test_label_prior_binary_is_clipped():
    spec = LabelSpec(BINARY, ("x", "y", "z"))
    prior = label_prior(torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), spec)
    assert prior.dtype == torch.float32
    assert torch.allclose(prior, torch.tensor([1 - 1e-3, 1e-3, 0.5]))


# --- iterate_batches ----------------------------------------------------------------------------------------

def _numbered_set(n):
    """Image i has every pixel equal to i, so batches reveal which indices they hold."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()
    return TensorImageSet(images, torch.arange(n))


def test_iterate_batches_covers_each_index_once():
    data = _numbered_set(50)
    indices = np.arange(3, 40)
    gen = torch.Generator().manual_seed(0)
    batches = list(iterate_batches(data, indices, 8, shuffle=True, generator=gen))
    assert [len(b[1]) for b in batches] == [8, 8, 8, 8, 5]
    seen = torch.cat([labels for _, labels in batches]).numpy()
    assert sorted(seen.tolist()) == indices.tolist()
    assert not np.array_equal(seen, indices)  # shuffled
    images = torch.cat([images for images, _ in batches])
    assert torch.allclose(images[:, 0, 0, 0] * 255, torch.as_tensor(seen, dtype=torch.float32))


def test_iterate_batches_order_follows_generator():
    data = _numbered_set(64)
    indices = np.arange(64)

    def order(seed):
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([y for _, y in iterate_batches(data, indices, 10, shuffle=True, generator=gen)])

    assert torch.equal(order(1), order(1)) and not torch.equal(order(1), order(2))
    unshuffled = torch.cat([y for _, y in iterate_batches(data, indices, 10, shuffle=False, generator=None)])
    assert torch.equal(unshuffled, torch.arange(64))


def test_iterate_batches_drop_last_and_empty():
    data = _numbered_set(20)
    batches = list(iterate_batches(data, np.arange(20), 6, shuffle=False, generator=None, drop_last=True))
    assert [len(y) for _, y in batches] == [6, 6, 6]
    assert list(iterate_batches(data, np.array([], dtype=np.int64), 6, shuffle=True, generator=None)) == []
