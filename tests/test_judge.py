"""The judge: trains to a useful accuracy, caches tensors only, and retrains when the data set changes."""
import json

import pytest
import torch

from core.data import DataConfig, load_data
from core.judge import (JUDGE_INFO, JUDGE_WEIGHTS, JudgeSettings, judge_key, load_judge, load_or_train_judge)
import core.judge as judge_module


@pytest.fixture(scope="module")
def mnist():
    return load_data(DataConfig(dataset="mnist5k"))


SETTINGS = JudgeSettings(epochs=1, max_train_images=1500, batch_size=32)


@pytest.fixture(scope="module")
def cached(mnist, tmp_path_factory):
    folder = tmp_path_factory.mktemp("judge")
    judge = load_or_train_judge(folder, {"dataset": "mnist5k"}, mnist, SETTINGS)
    return folder, judge


def test_judge_learns_and_reports_test_accuracy(cached, mnist):
    folder, judge = cached
    assert 0.6 < judge.test_accuracy <= 1.0  # one epoch of a small CNN on 1,500 digits (chance: 0.1)
    x, y = mnist.test.get_batch(torch.arange(100))
    probs = judge(x)
    assert probs.shape == (100, 10) and torch.allclose(probs.sum(-1), torch.ones(100), atol=1e-5)
    assert judge.features(x).shape == (100, 128)
    info = json.loads((folder / JUDGE_INFO).read_text())
    assert info["test_accuracy"] == judge.test_accuracy and info["key"] == judge_key({"dataset": "mnist5k"})


def test_cache_is_tensors_only_and_reused(cached, mnist, monkeypatch):
    folder, judge = cached
    torch.load(folder / JUDGE_WEIGHTS, weights_only=True)  # raises if anything but tensors and plain data
    monkeypatch.setattr(judge_module, "train_judge", lambda *a, **k: pytest.fail("the cached judge was retrained"))
    again = load_or_train_judge(folder, {"dataset": "mnist5k", "sup_frac": 0.1}, mnist, SETTINGS)  # same key
    x, _ = mnist.test.get_batch(torch.arange(20))
    assert torch.allclose(again(x), judge(x), atol=1e-6)
    assert again.test_accuracy == judge.test_accuracy


def test_other_data_or_a_corrupt_cache_trains_a_new_judge(cached, mnist, monkeypatch, tmp_path):
    folder, judge = cached
    calls = []

    def fake_train(splits, settings, device, log):
        calls.append(1)
        return judge

    monkeypatch.setattr(judge_module, "train_judge", fake_train)
    load_or_train_judge(folder, {"dataset": "fashion-mnist", "data_dir": str(tmp_path)}, mnist, SETTINGS)
    assert len(calls) == 1
    load_or_train_judge(folder, {"dataset": "mnist5k"}, mnist, JudgeSettings(epochs=2))  # other settings
    assert len(calls) == 2
    (folder / JUDGE_WEIGHTS).write_bytes(b"not a torch file")
    load_or_train_judge(folder, {"dataset": "mnist5k"}, mnist, SETTINGS)
    assert len(calls) == 3


def test_judge_key_ignores_the_labelled_share_but_not_the_data():
    a = judge_key({"dataset": "mnist5k", "sup_frac": 0.1, "seed": 3})
    assert a == judge_key({"dataset": "mnist5k", "sup_frac": 1.0})
    assert a != judge_key({"dataset": "fashion-mnist"})
    assert judge_key({"dataset": "folder", "data_dir": "/x", "seed": 0}) != judge_key(
        {"dataset": "folder", "data_dir": "/x", "seed": 1})


def test_load_judge_refuses_pickled_code(cached, tmp_path):
    folder, _ = cached
    (tmp_path / JUDGE_INFO).write_text((folder / JUDGE_INFO).read_text())

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"format": "ccvae-explorer-judge", "model": Evil()}, tmp_path / JUDGE_WEIGHTS)
    with pytest.raises(judge_module.JudgeError, match="cannot load"):
        load_judge(tmp_path)
