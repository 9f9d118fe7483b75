"""A user's own images as users hold them: partly labelled CSVs, class folders, their own split, several sizes.

Images are generated here (JPEG and PNG, grey and RGB, several sizes); training runs are real but tiny
(1 epoch, --threads 1, no maps unless maps are the point).
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.data import DataConfig, DataError, load_data
from core.labels import BINARY, MULTICLASS, labelled_mask

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ("cross", "ring", "triangle")


def shape_image(kind: str, i: int, size=(40, 44), mode="RGB") -> Image.Image:
    """A small picture of a shape class, varied by i (position, shade), so images differ."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = w / 2 + (i % 5) - 2, h / 2 + (i % 3) - 1
    r = min(w, h) / 3
    if kind == "cross":
        on = (np.abs(xx - cx) < r / 4) | (np.abs(yy - cy) < r / 4)
    elif kind == "ring":
        d = np.hypot(xx - cx, yy - cy)
        on = (d < r) & (d > r / 2)
    else:
        on = (yy - cy > -r) & (np.abs(xx - cx) < (yy - cy + r) / 2) & (yy - cy < r)
    base = np.zeros((h, w, 3), dtype=np.uint8)
    base[on] = (200 + i % 50, 90 + 3 * (i % 20), 40)
    img = Image.fromarray(base, "RGB")
    return img.convert(mode)


def save(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=90) if path.suffix == ".jpg" else img.save(path)


def partly_labelled_csv(folder: Path, n=60, labelled_every=5, mode="RGB", extra_cols="", rows_extra=None) -> Path:
    """n images (alternating JPEG / PNG, sizes around 40x44); one row in ``labelled_every`` keeps its label."""
    rows = ["file,shape" + extra_cols]
    for i in range(n):
        kind = SHAPES[i % 3]
        name = f"p{i:04d}.{'jpg' if i % 2 else 'png'}"
        save(shape_image(kind, i, size=(40 + i % 7, 44 - i % 5), mode=mode), folder / name)
        label = kind if i % labelled_every == 0 else ""
        rows.append(f"{name},{label}" + (rows_extra(i) if rows_extra else ""))
    path = folder / "labels.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def run_cli(*args, timeout=240):
    return subprocess.run([sys.executable, str(ROOT / "train_cli.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def assert_one_error_line(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], proc.stderr


# ----------------------------------------------------------------------------- unlabelled rows
def test_empty_label_cells_are_unlabelled_images_not_a_class(tmp_path):
    partly_labelled_csv(tmp_path, n=60, labelled_every=5)
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32))
    assert s.label_spec.kind == MULTICLASS and s.label_spec.names == SHAPES  # no '' class
    every = torch.cat([s.train.labels, s.val.labels, s.test.labels])
    assert int(labelled_mask(every).sum()) == 12 and int((every == -1).sum()) == 48
    # the split keeps the labelled share in every part (12 labelled: 10 / 1 / 1; 48 unlabelled: 38 / 5 / 5)
    assert [int(labelled_mask(p.labels).sum()) for p in (s.train, s.val, s.test)] == [10, 1, 1]
    assert (len(s.train), len(s.val), len(s.test)) == (48, 6, 6)
    # the model sees the labels of labelled rows only; unlabelled rows are trained by the unlabelled objective
    assert len(s.labelled) == 10 and bool(labelled_mask(s.train.labels[s.labelled]).all())
    assert len(s.unlabelled) == 38 and not bool(labelled_mask(s.train.labels[s.unlabelled]).any())
    # p(y) comes from the labelled rows only: three classes, no mass on a phantom class
    assert s.label_prior.shape == (3,)
    # --sup-frac and --num-labels count labelled rows only
    half = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32, sup_frac=0.5))
    assert len(half.labelled) == 5 and len(half.unlabelled) == 43
    two = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32, num_labels=2))
    assert len(two.labelled) == 2
    with pytest.raises(DataError, match="between 1 and 10"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32, num_labels=11))


def test_fully_labelled_csv_splits_as_before(tmp_path):
    """Runs trained before unlabelled rows existed must reload the same split (the explorer reloads images)."""
    from core.data.splits import random_split, train_val_test_sizes

    partly_labelled_csv(tmp_path, n=30, labelled_every=1)
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32, seed=3))
    paths = np.array(sorted((tmp_path / f"p{i:04d}.{'jpg' if i % 2 else 'png'}").as_posix() for i in range(30)))
    expected = random_split(30, train_val_test_sizes(30, 0.1, 0.1, "x"), 3)
    assert [sorted(p) for p in (s.train.paths, s.val.paths, s.test.paths)] == [sorted(paths[e]) for e in expected]


def test_binary_rows_all_empty_are_unlabelled_and_partial_rows_are_refused(tmp_path):
    names = []
    for i in range(8):
        name = f"b{i}.png"
        save(shape_image(SHAPES[i % 3], i, size=(30, 30), mode="L"), tmp_path / name)
        names.append(name)
    cells = ["1,0", ",", "0,1", " , ", "1,1", ",", "0,0", "1,0"]
    (tmp_path / "labels.csv").write_text("file,round,pointy\n" + "\n".join(f"{n},{c}" for n, c in zip(names, cells)) + "\n")
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32))
    assert s.label_spec.kind == BINARY
    every = torch.cat([s.train.labels, s.val.labels, s.test.labels])
    assert int((~labelled_mask(every)).sum()) == 3 and bool(torch.isnan(every[~labelled_mask(every)]).all())
    assert torch.isfinite(s.label_prior).all()

    (tmp_path / "labels.csv").write_text("file,round,pointy\n" + "\n".join(
        f"{n},{c}" for n, c in zip(names, cells[:5] + ["1,", *cells[6:]])) + "\n")
    with pytest.raises(DataError, match=r"line 7 leaves 'pointy' empty"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32))


def test_accuracy_counts_only_images_with_a_label(tmp_path):
    from core.config import ModelConfig
    from core.labels import LabelSpec
    from core.model import CCVAE
    from core.trainer import accuracy, evaluation_loss
    from core.config import RunConfig

    partly_labelled_csv(tmp_path, n=30, labelled_every=2, mode="L")
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32))
    torch.manual_seed(0)
    model = CCVAE(ModelConfig(image_shape=(1, 32, 32), label_spec=LabelSpec(MULTICLASS, SHAPES)), s.label_prior)
    has = np.flatnonzero(labelled_mask(s.train.labels).numpy())
    pred = model.predict(s.train.get_batch(has)[0])
    expected = float((pred == s.train.labels[has]).float().mean())
    assert accuracy(model, s.train) == pytest.approx(expected)
    unl = np.flatnonzero(~labelled_mask(s.train.labels).numpy())
    assert np.isnan(accuracy(model, s.train, unl))
    losses = evaluation_loss(model, s.train, np.arange(len(s.train)), RunConfig(), "cpu")
    assert np.isfinite(losses["sup_loss"]) and np.isfinite(losses["unsup_loss"])
    only_unl = evaluation_loss(model, s.train, unl, RunConfig(), "cpu")
    assert "sup_loss" not in only_unl and np.isfinite(only_unl["unsup_loss"])


def test_partly_labelled_run_counts_its_images(tmp_path):
    data = tmp_path / "data"
    partly_labelled_csv(data, n=60, labelled_every=5)
    out = tmp_path / "run"
    proc = run_cli("--dataset", "folder", "--data-dir", str(data), "--image-size", "32", "--out", str(out),
                   "--epochs", "1", "--threads", "1", "--no-maps", "--no-figures", "--map-points", "60",
                   "--qyx-samples", "4")
    assert proc.returncode == 0, proc.stderr
    assert "images: train 48 (10 labelled, 38 unlabelled); val 6 (1 labelled, 5 unlabelled)" in proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (summary["labelled"], summary["unlabelled"]) == (10, 38)
    counts = summary["counts"]
    assert counts["train"]["unlabelled_in_data"] == 38 and counts["train"]["labels_hidden"] == 0
    assert sum(counts["train"]["per_class"].values()) == 10 and set(counts["train"]["per_class"]) == set(SHAPES)
    assert counts["test"] == {**counts["test"], "images": 6, "labelled": 1, "unlabelled": 5}
    assert summary["test_labelled"] == 1 and summary["test_accuracy"] in (0.0, 1.0)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["extra"]["counts"] == counts and cfg["model"]["label_spec"]["names"] == list(SHAPES)
    with np.load(out / "latents.npz") as f:
        labels = f["labels"]
    assert len(labels) == 60 and int((labels == -1).sum()) == 48


# ----------------------------------------------------------------------------- image sizes
def test_the_authors_64_network_is_unchanged_and_other_sizes_follow():
    from core.networks import Decoder, Encoder, default_channels

    enc, dec = Encoder((3, 64, 64), 45, default_channels(64)), Decoder((3, 64, 64), 45, default_channels(64))
    assert [tuple(p.shape) for p in enc.parameters()] == [
        (32, 3, 4, 4), (32,), (32, 32, 4, 4), (32,), (64, 32, 4, 4), (64,), (128, 64, 4, 4), (128,),
        (256, 128, 4, 4), (256,), (90, 256), (90,)]
    assert [tuple(p.shape) for p in dec.parameters()] == [
        (256, 45), (256,), (256, 128, 4, 4), (128,), (128, 64, 4, 4), (64,), (64, 32, 4, 4), (32,),
        (32, 32, 4, 4), (32,), (32, 3, 4, 4), (3,)]
    assert sum(p.numel() for p in enc.parameters()) == 729690
    assert sum(p.numel() for p in dec.parameters()) == 718083
    for size in (28, 32, 64, 128):
        for channels in (1, 3):
            enc = Encoder((channels, size, size), 16, default_channels(size))
            dec = Decoder((channels, size, size), 16, default_channels(size))
            loc, scale = enc(torch.rand(2, channels, size, size))
            assert loc.shape == (2, 16) and bool((scale > 0).all())
            assert dec(loc).shape == (2, channels, size, size)
    with pytest.raises(ValueError, match=r"\[28, 32, 64, 128\]"):
        default_channels(48)
