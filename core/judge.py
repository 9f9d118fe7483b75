"""The judge: an ordinary CNN classifier that scores what a CCVAE's pictures show, independently of the CCVAE.

The measures in ``core.measures`` ask "does this generated or edited image show label y?". The CCVAE's own
classifier q(y|z_c) cannot answer that honestly (it reads the latent, not the picture), so a separate network
trained on the same training images with *all* their labels does. It is an evaluator, not part of the model, so
using every label is fair even when the CCVAE saw only a few.

Network: two 3x3 conv layers (32, 64 channels, each followed by 2x2 max pooling), a 128-unit hidden layer whose
activations are the judge's *features* (used to compare images), and a linear output. Multi-class labels get a
softmax, binary attributes one sigmoid each.

Cache: ``judge.pt`` (tensors only, read with weights_only=True) and ``judge.json`` (the key, settings and test
accuracy) in one folder; ``load_or_train_judge`` reuses them when the key (data set and how it is split) matches.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core import checkpoint as ckpt
from core.data import DataSplits, iterate_batches
from core.errors import CCVAEError
from core.labels import LabelSpec, labelled_mask

JUDGE_WEIGHTS = "judge.pt"
JUDGE_INFO = "judge.json"
_FORMAT = "ccvae-explorer-judge"
_VERSION = 1


class JudgeError(CCVAEError):
    """A cached judge that cannot be used; one-line message."""


class JudgeNet(nn.Module):
    """x [B, C, H, W] in [0, 1] -> logits [B, K] (multi-class) or [B, A] (binary attributes)."""

    def __init__(self, image_shape: tuple[int, int, int], num_outputs: int, feature_dim: int = 128):
        super().__init__()
        c, h, w = image_shape
        # 64x64 images are pooled twice more first so the network stays as small as for 28x28
        self.shrink = nn.AvgPool2d(4) if h >= 56 else nn.Identity()
        h, w = (h // 4, w // 4) if h >= 56 else (h, w)
        self.conv = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten())
        self.hidden = nn.Sequential(nn.Dropout(0.25), nn.Linear(64 * (h // 4) * (w // 4), feature_dim),
                                    nn.ReLU(inplace=True))
        self.out = nn.Sequential(nn.Dropout(0.25), nn.Linear(feature_dim, num_outputs))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x -> the hidden layer's activations [B, feature_dim] (what the judge 'sees')."""
        return self.hidden(self.conv(self.shrink(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


@dataclass
class JudgeSettings:
    epochs: int = 6            # at most this many passes over the training images
    patience: int = 2          # stop when validation accuracy has not improved for this many epochs
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    max_train_images: int = 60000  # a cap for very large sets (CelebA); MNIST-sized sets are used whole


class Judge:
    """A trained JudgeNet in eval mode with the calls the measures use. Images [B, C, H, W] in [0, 1]."""

    def __init__(self, net: JudgeNet, label_spec: LabelSpec, image_shape: tuple[int, int, int],
                 info: dict | None = None, device="cpu"):
        self.net = net.to(device).eval()
        self.label_spec = label_spec
        self.image_shape = tuple(int(v) for v in image_shape)
        self.info = dict(info or {})
        self.device = torch.device(device)

    @property
    def test_accuracy(self) -> float:
        return float(self.info.get("test_accuracy", float("nan")))

    def _run(self, images, fn, batch_size: int = 1000) -> torch.Tensor:
        x = torch.as_tensor(images).float()
        with torch.inference_mode():
            return torch.cat([fn(chunk.to(self.device)).cpu() for chunk in x.split(batch_size)]) if len(x) else \
                torch.zeros(0)

    def probs(self, images) -> torch.Tensor:
        """Class probabilities [B, K], or per-attribute probabilities [B, A]."""
        if self.label_spec.is_multiclass:
            return self._run(images, lambda x: F.softmax(self.net(x), -1))
        return self._run(images, lambda x: torch.sigmoid(self.net(x)))

    __call__ = probs

    def features(self, images) -> torch.Tensor:
        """The hidden layer [B, 128]: distances here compare images as the judge sees them."""
        return self._run(images, self.net.features)


def judge_key(data_config: dict) -> str:
    """What decides the judge's training and test images: the data set and where/how it is read and split.
    The labelled fraction is left out on purpose: the judge uses every training label whatever the CCVAE saw."""
    fields = {k: data_config.get(k) for k in ("dataset", "data_dir", "labels_csv", "image_size", "channels")}
    if data_config.get("dataset") == "folder":  # only folder data sets are split with the seed
        fields["seed"] = data_config.get("seed", 0)
        if data_config.get("resize", "squash") != "squash":  # keys of judges made before --resize stay valid
            fields["resize"] = data_config["resize"]
    if fields.get("data_dir"):
        fields["data_dir"] = str(Path(fields["data_dir"]).expanduser().resolve())
    digest = hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]
    return f"{data_config.get('dataset', 'data')}-{digest}"


def _loss(logits: torch.Tensor, y: torch.Tensor, multiclass: bool) -> torch.Tensor:
    return F.cross_entropy(logits, y) if multiclass else F.binary_cross_entropy_with_logits(logits, y)


def judge_accuracy(judge: Judge, data, limit: int | None = None, batch_size: int = 500) -> float:
    """Share of correct classes (multi-class) or mean per-attribute accuracy (binary) on the images of ``data``
    that have a label (the first ``limit`` of them)."""
    idx = np.flatnonzero(labelled_mask(data.labels).numpy())[:limit]
    n = len(idx)
    correct = 0.0
    for x, y in iterate_batches(data, idx, batch_size, shuffle=False, generator=None):
        p = judge.probs(x)
        if judge.label_spec.is_multiclass:
            correct += float((p.argmax(-1) == y).sum())
        else:
            correct += float(((p > 0.5).float() == y).float().mean(-1).sum())
    return correct / max(n, 1)


def train_judge(splits: DataSplits, settings: JudgeSettings | None = None, device="cpu",
                log: Callable[[str], None] | None = None) -> Judge:
    """Train a JudgeNet on all labelled-or-not training images (with their labels), keep the weights of the best
    validation epoch, and score it on the test split."""
    settings = settings or JudgeSettings()
    say = log or (lambda msg: None)
    spec = splits.label_spec
    torch.manual_seed(settings.seed)
    net = JudgeNet(tuple(splits.image_shape), spec.size).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    gen = torch.Generator().manual_seed(settings.seed)
    train_idx = np.flatnonzero(labelled_mask(splits.train.labels).numpy())  # the judge needs every label
    if len(train_idx) > settings.max_train_images:  # a random subset: data sets may be sorted by class
        train_idx = np.sort(np.random.default_rng(settings.seed).permutation(train_idx)[:settings.max_train_images])
    judge = Judge(net, spec, tuple(splits.image_shape), device=device)
    best, best_state, stale = -1.0, None, 0
    start = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        net.train()
        for x, y in iterate_batches(splits.train, train_idx, settings.batch_size, shuffle=True, generator=gen):
            loss = _loss(net(x.to(device)), y.to(device), spec.is_multiclass)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        val_acc = judge_accuracy(judge, splits.val, limit=5000)
        say(f"judge epoch {epoch}/{settings.epochs}: validation accuracy {val_acc:.4f}")
        if val_acc > best:
            best, stale = val_acc, 0
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= settings.patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    judge.info = {"val_accuracy": round(best, 4), "epochs_run": epoch,
                  "train_seconds": round(time.perf_counter() - start, 1)}
    judge.info["test_accuracy"] = round(judge_accuracy(judge, splits.test), 4)
    return judge


def save_judge(folder: Path, judge: Judge, key: str, settings: JudgeSettings) -> None:
    folder = Path(folder)
    state = {k: v.detach().cpu() for k, v in judge.net.state_dict().items()}
    ckpt.atomic_torch_save(folder / JUDGE_WEIGHTS, {"format": _FORMAT, "version": _VERSION, "model": state})
    info = {"format": _FORMAT, "version": _VERSION, "key": key, "label_spec": judge.label_spec.to_json(),
            "image_shape": list(judge.image_shape), "settings": settings.__dict__, **judge.info}
    ckpt.atomic_write_json(folder / JUDGE_INFO, info)  # written last: its presence means the weights are complete


def load_judge(folder: Path, device="cpu") -> Judge:
    """Rebuild a judge from ``judge.json`` + ``judge.pt`` (tensors only)."""
    folder = Path(folder)
    try:
        info = json.loads((folder / JUDGE_INFO).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise JudgeError(f"{folder / JUDGE_INFO}: cannot read ({type(e).__name__})") from None
    if info.get("format") != _FORMAT or info.get("version") != _VERSION:
        raise JudgeError(f"{folder / JUDGE_INFO}: not a judge of this version")
    path = folder / JUDGE_WEIGHTS
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable file is a cache miss to the caller, reported in one line
        raise JudgeError(f"{path}: cannot load ({type(e).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != _FORMAT:
        raise JudgeError(f"{path}: not judge weights")
    spec = LabelSpec.from_json(info["label_spec"])
    net = JudgeNet(tuple(info["image_shape"]), spec.size)
    try:
        net.load_state_dict(obj["model"])
    except (RuntimeError, KeyError) as e:
        raise JudgeError(f"{path}: weights do not match judge.json ({str(e).splitlines()[0][:120]})") from None
    return Judge(net, spec, tuple(info["image_shape"]), {k: info[k] for k in ("val_accuracy", "test_accuracy", "epochs_run", "train_seconds",
                                                   "key") if k in info}, device=device)


def load_or_train_judge(folder: Path, data_config: dict, splits: DataSplits, settings: JudgeSettings | None = None,
                        device="cpu", log: Callable[[str], None] | None = None) -> Judge:
    """The cached judge in ``folder`` when it was trained for the same data (same ``judge_key``); otherwise train
    one and cache it there."""
    say = log or (lambda msg: None)
    settings = settings or JudgeSettings()
    key = judge_key(data_config)
    folder = Path(folder)
    if (folder / JUDGE_INFO).exists():
        try:
            judge = load_judge(folder, device)
            stored = json.loads((folder / JUDGE_INFO).read_text()).get("settings")
            if judge.info.get("key") == key and judge.label_spec == splits.label_spec and stored == settings.__dict__:
                say(f"judge: cached in {folder} (test accuracy {judge.test_accuracy:.4f})")
                return judge
            say(f"judge: the cache in {folder} was trained on other data or settings; training a new one")
        except JudgeError as e:
            say(f"judge: {e}; training a new one")
    say(f"judge: training a CNN classifier on {min(len(splits.train), settings.max_train_images)} training images")
    judge = train_judge(splits, settings, device, log)
    judge.info["key"] = key
    save_judge(folder, judge, key, settings)
    say(f"judge: test accuracy {judge.test_accuracy:.4f} ({judge.info['train_seconds']} s)")
    return judge
