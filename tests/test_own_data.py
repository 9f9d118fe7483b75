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
    from core.data.counts import split_counts

    counts = split_counts(s)
    for name in ("train", "val", "test"):
        c, part = counts[name], getattr(s, name)
        has = labelled_mask(part.labels)
        used = part.labels[s.labelled] if name == "train" else part.labels[has]
        assert c["labelled"] == len(used) and c["labelled"] + c["unlabelled"] == len(part)
        for a, attr in enumerate(("round", "pointy")):  # per attribute value, labelled images only
            assert c["per_attribute"][attr] == {"1": int((used[:, a] == 1).sum()), "0": int((used[:, a] == 0).sum())}
    assert sum(c["unlabelled"] for c in counts.values()) == 3

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


# ----------------------------------------------------------------------------- class folders and own splits
def class_folders(root: Path, per_class=6, unlabelled=5, loose=2, mode="L", split=None) -> None:
    """root/<shape>/*.{png,jpg} (+ root/unlabelled/, + loose images at the top unless split folders are used)."""
    for c, kind in enumerate(SHAPES):
        for i in range(per_class):
            ext = "jpg" if (i + c) % 2 else "png"
            save(shape_image(kind, i, size=(36 + i, 30 + c), mode=mode), root / kind / f"{kind}{i}.{ext}")
    for i in range(unlabelled):
        save(shape_image(SHAPES[i % 3], 50 + i, mode=mode), root / "unlabelled" / f"u{i}.jpg")
    for i in range(loose):
        save(shape_image(SHAPES[i % 3], 80 + i, mode=mode), root / f"loose{i}.png")
    (root / SHAPES[0] / "notes.txt").write_text("not an image: ignored")


def test_class_folders_unlabelled_folder_and_top_level_images(tmp_path):
    class_folders(tmp_path)
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32, seed=1))
    assert s.label_spec.names == SHAPES and s.image_shape == (1, 32, 32)
    every = np.concatenate([p.paths for p in (s.train, s.val, s.test)])
    labels = torch.cat([p.labels for p in (s.train, s.val, s.test)])
    assert len(every) == 18 + 5 + 2 and not any(p.endswith(".txt") for p in every)
    for path, label in zip(every, labels.tolist()):
        name = Path(path).parent.name
        assert label == (SHAPES.index(name) if name in SHAPES else -1), path
    assert [int(labelled_mask(p.labels).sum()) for p in (s.train, s.val, s.test)] == [14, 2, 2]
    # what systems leave beside the images is not a class: a Mac zip's __MACOSX/ (resource forks named like the
    # images, which are not images), a NAS's @eaDir/ thumbnails, a .DS_Store
    (tmp_path / "__MACOSX" / "cross").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "cross" / "._cross0.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    save(shape_image("ring", 0), tmp_path / "ring" / "@eaDir" / "ring0.png" / "SYNOFILE_THUMB_S.jpg")
    (tmp_path / ".DS_Store").write_bytes(b"Bud1")
    again = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32, seed=1))
    assert again.label_spec.names == SHAPES
    assert sorted(np.concatenate([p.paths for p in (again.train, again.val, again.test)])) == sorted(every)
    (tmp_path / "unlabelled").rename(tmp_path / "Unlabeled")  # the other spelling, any case: not a class
    other = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32, seed=1))
    assert other.label_spec.names == SHAPES
    assert sum(int((~labelled_mask(p.labels)).sum()) for p in (other.train, other.val, other.test)) == 7


def test_train_val_test_folders_are_the_split_and_a_missing_part_is_cut_from_train(tmp_path):
    for part, n in (("train", 8), ("val", 2), ("test", 3)):
        class_folders(tmp_path / part, per_class=n, unlabelled=4 if part == "train" else 1, loose=0, mode="RGB")
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32))
    for name in ("train", "val", "test"):
        part = getattr(s, name)
        assert all(Path(p).relative_to(tmp_path).parts[0] == name for p in part.paths)
    assert (len(s.train), len(s.val), len(s.test)) == (28, 7, 10)
    assert len(s.unlabelled) == 4 and s.image_shape == (3, 32, 32)
    import shutil

    shutil.rmtree(tmp_path / "val")
    cut = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32))
    assert all("/test/" in p for p in cut.test.paths) and all("/train/" in p for p in cut.val.paths)
    assert len(cut.val) == 2 and len(cut.train) == 26  # 10% of train's 24 labelled (2) and of its 4 unlabelled (0)


def test_split_column_in_the_csv(tmp_path):
    def split_of(i):
        return ",test" if i % 10 == 0 else (",val" if i % 10 == 1 else ",train")

    partly_labelled_csv(tmp_path, n=40, labelled_every=2, extra_cols=",Split", rows_extra=split_of)
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32, seed=5))
    assert s.label_spec.names == SHAPES  # the split column is not a label
    idx = {name: sorted(int(Path(p).stem[1:]) for p in getattr(s, name).paths) for name in ("train", "val", "test")}
    assert idx["test"] == list(range(0, 40, 10)) and idx["val"] == list(range(1, 40, 10))
    assert len(idx["train"]) == 32
    other = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32, seed=6))
    assert list(other.test.paths) == list(s.test.paths)  # the data's own split does not follow the seed


@pytest.mark.parametrize("mode", ["squash", "crop", "pad"])
def test_resize_modes(tmp_path, mode):
    """A 60x20 picture in three bands (red | green | blue) made square three ways."""
    bands = np.zeros((20, 60, 3), dtype=np.uint8)
    bands[:, :20, 0] = bands[:, 20:40, 1] = bands[:, 40:, 2] = 255
    for i in range(6):
        save(Image.fromarray(bands), tmp_path / ("a" if i % 2 else "b") / f"{i}.png")
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=32, resize=mode))
    x = s.train[0][0].numpy()  # [3, 32, 32]
    centre = x[:, 16, :]  # the middle row, left to right
    if mode == "crop":  # only the green centre square is left
        assert centre[1].min() > 0.95 and centre[0].max() < 0.05 and centre[2].max() < 0.05
    else:  # all three bands survive
        assert centre[0, 2] > 0.95 and centre[1, 16] > 0.95 and centre[2, 29] > 0.95
    corner_black = x[:, 1, 16].max() < 0.05
    assert corner_black == (mode == "pad")  # pad adds black borders above and below


def class_folder_with_problem(root: Path, problem: str) -> list[str]:
    """A small valid layout with one thing wrong; returns extra CLI arguments."""
    class_folders(root, per_class=3, unlabelled=0, loose=0)
    if problem == "empty class":
        (root / "star").mkdir()
        (root / "star" / "readme.txt").write_text("no images yet")
    elif problem == "undecodable":
        (root / "ring" / "bad.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    elif problem in ("missing file", "bad split"):
        rows = ["file,shape,split"] + [f"{k}/{k}{i}.{'jpg' if (i + c) % 2 else 'png'},{k},train"
                                      for c, k in enumerate(SHAPES) for i in range(3)]
        rows.append("ring/gone.png,ring,test" if problem == "missing file" else "ring/ring0.png,ring,tset")
        (root / "labels.csv").write_text("\n".join(rows) + "\n")
    elif problem == "neither":
        import shutil

        for kind in SHAPES:
            for f in (root / kind).iterdir():
                shutil.move(str(f), root / f.name)
            (root / kind).rmdir()
    return []


@pytest.mark.parametrize("problem, fragments", [
    ("empty class", ["class folder", "star", "holds no images"]),
    ("missing file", ["line 11", "gone.png", "does not exist"]),
    ("bad split", ["line 11", "'tset'", "train, val or test"]),
    ("undecodable", ["bad.jpg", "cannot decode image", "refused"]),
    ("neither", ["neither labels.csv nor class subfolders"]),
])
def test_bad_folders_give_one_error_line_exit_2_and_no_run_folder(tmp_path, problem, fragments):
    data = tmp_path / "data"
    class_folder_with_problem(data, problem)
    out = tmp_path / "run"
    proc = run_cli("--dataset", "folder", "--data-dir", str(data), "--out", str(out), "--epochs", "1",
                   "--threads", "1", "--no-maps", "--no-figures", "--quiet")
    assert_one_error_line(proc, *fragments)
    assert not out.exists()


def test_a_folder_too_small_to_measure_is_refused_before_training_and_still_trains_alone(tmp_path):
    """Six images leave one test image. Training alone finishes with its figures (a one-image test split used to
    crash the finish phase after the training); a study, --measure and `measure` refuse the data in one line, as
    their measures pair test images, before anything is trained or written (they used to crash after)."""
    data = tmp_path / "data"
    class_folders(data, per_class=2, unlabelled=0, loose=0)
    common = ("--dataset", "folder", "--data-dir", str(data), "--epochs", "1", "--threads", "1", "--quiet")
    for out, extra in ((tmp_path / "measured", ("--measure", "--no-maps")),
                       (tmp_path / "study", ("--betas", "1", "--latent-dims", "8"))):
        proc = run_cli(*(("study",) if out.name == "study" else ()), *common, "--out", str(out), *extra)
        assert_one_error_line(proc, "the test split has 1 image(s)", "need at least 2")
        assert not out.exists()
    run = tmp_path / "run"
    proc = run_cli(*common, "--out", str(run), "--no-maps")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {"reconstructions.png", "label_swaps.png", "latent_walks.png"} <= {p.name for p in (run / "figures").iterdir()}
    proc = run_cli("measure", str(run), "--judge-dir", str(tmp_path / "judge"))
    assert_one_error_line(proc, "measure: the test split has 1 image(s)")
    assert "measures" not in json.loads((run / "summary.json").read_text())
    model = (run / "model.pt").read_bytes()
    proc = run_cli("refit-prior", str(run), "--measure")
    assert_one_error_line(proc, "--measure: the test split has 1 image(s)")
    assert (run / "model.pt").read_bytes() == model  # refused before the prior was refitted and saved


def test_labels_the_training_images_cannot_teach_are_warned_before_training(tmp_path):
    """An attribute that is 0 on every labelled training image (a CSV column left at its default), or a class no
    labelled training image has, trains nothing: a `warning:` line says so with the counts, before the epochs."""
    from core.data.counts import label_warnings

    names = []
    for i in range(20):
        names.append(f"b{i}.png")
        save(shape_image(SHAPES[i % 3], i, size=(30, 30), mode="L"), tmp_path / "data" / names[-1])
    (tmp_path / "data" / "labels.csv").write_text(
        "file,round,hat\n" + "\n".join(f"{n},{i % 2},0" for i, n in enumerate(names)) + "\n")
    proc = run_cli("--dataset", "folder", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                   "--epochs", "1", "--threads", "1", "--no-maps", "--no-figures")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    counts_at = next(i for i, line in enumerate(lines) if line.startswith("images: train"))
    assert lines[counts_at + 1].startswith("warning: attribute 'hat' is 0 on all 16 labelled training images")
    assert not any("'round'" in line for line in lines)

    multiclass = {"train": {"labelled": 5, "per_class": {"a": 3, "b": 2, "c": 0}}}
    assert len(label_warnings(multiclass)) == 1 and "class 'c' has no labelled training image" in label_warnings(multiclass)[0]
    always = {"train": {"labelled": 4, "per_attribute": {"x": {"1": 4, "0": 0}, "y": {"1": 1, "0": 3}}}}
    assert [w.split(":")[0] for w in label_warnings(always)] == ["attribute 'x' is 1 on all 4 labelled training images, never 0"]
    assert label_warnings({"train": {"labelled": 0, "per_class": {"a": 0}}}) == []  # nothing labelled: said elsewhere


# ----------------------------------------------------------------------------- a run that travels
def test_thumbnail_side_keeps_a_10000_point_run_small():
    from core.latents import thumbnail_side

    assert thumbnail_side(10000, (3, 64, 64)) == 32 and thumbnail_side(10000, (3, 128, 128)) == 32
    assert thumbnail_side(10000, (1, 128, 128)) == 48 and thumbnail_side(600, (3, 128, 128)) == 64
    assert thumbnail_side(600, (1, 32, 32)) == 32  # never above the image's own side


def test_a_run_explored_without_its_data_folder(tmp_path, monkeypatch):
    """Full images come from the data while it is there; moved away, the thumbnails stand in, the reason is one
    line, nothing raises; relocating to the new place brings the full images back."""
    import core.latents
    from core.config import RunConfig, TrainConfig
    from core.point_images import PointImages
    from core.run import train_run
    from explorer.rundata import RunData

    monkeypatch.setattr(core.latents, "_MAX_STORED_IMAGE_BYTES", 0)  # as for a large run: images not stored
    monkeypatch.setattr(core.latents, "_THUMBNAIL_BUDGET_BYTES", 30 * 3 * 32 * 32)  # -> 32x32 thumbnails
    data = tmp_path / "data"
    partly_labelled_csv(data, n=30, labelled_every=2)
    cfg = RunConfig(train=TrainConfig(epochs=1, batch_size=16, map_points=30, make_maps=False, make_figures=False,
                                      threads=1),
                    data=DataConfig(dataset="folder", data_dir=str(data), image_size=64).to_json())
    cfg.objective.num_qyx_samples = 4
    run = tmp_path / "run"
    train_run(run, cfg, progress=False)

    there = RunData.open(run)
    assert there.latents.images is None and there.latents.thumbnails.shape == (30, 3, 32, 32)
    full = there.images[3]
    assert full.shape == (64, 64, 3) and there.images.problem is None

    moved = tmp_path / "moved"
    data.rename(moved)
    away = RunData.open(run)
    thumb = away.images[3]
    assert thumb.shape == (32, 32, 3) and away.images.full(3) is None
    assert "does not exist" in away.images.problem and "\n" not in away.images.problem
    # the thumbnail is the full image, smaller
    small = torch.nn.functional.interpolate(torch.from_numpy(full).permute(2, 0, 1)[None].float(), size=(32, 32),
                                            mode="bilinear", antialias=True)[0].permute(1, 2, 0).numpy()
    assert np.abs(small - thumb).mean() < 2.0

    (tmp_path / "empty").mkdir()
    assert "neither labels.csv" in away.images.relocate(tmp_path / "empty")  # refused, nothing changes
    assert away.images.full(3) is None
    assert away.images.relocate(moved) is None and away.images.problem is None
    assert np.array_equal(away.images[3], full)

    # a run written before thumbnails existed, without its data: a placeholder of the model's size, no error
    old = PointImages(there.latents.__class__(**{**vars(there.latents), "thumbnails": None}),
                      {"dataset": "folder", "data_dir": str(tmp_path / "gone")}, image_shape=(3, 64, 64))
    assert old[0].shape == (64, 64, 3) and "does not exist" in old.problem


def test_training_at_128_grey_from_split_class_folders(tmp_path):
    data = tmp_path / "data"
    for part, n in (("train", 4), ("val", 1), ("test", 1)):
        class_folders(data / part, per_class=n, unlabelled=3 if part == "train" else 1, loose=0, mode="L")
    out = tmp_path / "run"
    proc = run_cli("--dataset", "folder", "--data-dir", str(data), "--image-size", "128", "--resize", "pad",
                   "--out", str(out), "--epochs", "1", "--threads", "1", "--no-maps", "--no-figures",
                   "--qyx-samples", "4", "--quiet")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"]["image_shape"] == [1, 128, 128] and cfg["data"]["resize"] == "pad"
    assert cfg["data"]["data_dir"] == str(data.resolve())
    assert summary["counts"]["train"] == {"images": 15, "labelled": 12, "unlabelled": 3, "unlabelled_in_data": 3,
                                          "labels_hidden": 0, "per_class": {k: 4 for k in SHAPES}}
    assert summary["counts"]["test"]["per_class"] == {k: 1 for k in SHAPES} and summary["test_accuracy"] is not None


def test_a_small_run_keeps_its_images_whole_whatever_the_map_point_limit(tmp_path):
    """600 points at 64x64 RGB (7 MB) are stored whole even under the default limit of 10,000 points, and thumbnails
    at the images' own size count as whole images: such a run never needs its data."""
    from core.latents import Latents
    from core.point_images import PointImages

    data = tmp_path / "data"
    partly_labelled_csv(data, n=30, labelled_every=2)
    s = load_data(DataConfig(dataset="folder", data_dir=str(data), image_size=64))
    from core.config import ModelConfig
    from core.labels import LabelSpec
    from core.latents import encode_points
    from core.model import CCVAE

    model = CCVAE(ModelConfig(image_shape=(3, 64, 64), label_spec=LabelSpec(MULTICLASS, SHAPES)), s.label_prior)
    lat = encode_points(model, s, 10000, "cpu")
    assert lat.images is not None and lat.images.shape == (30, 3, 64, 64) and lat.thumbnails is None
    same_size = Latents(**{**vars(lat), "images": None, "thumbnails": lat.images})
    pics = PointImages(same_size, {"dataset": "folder", "data_dir": str(tmp_path / "gone")}, image_shape=(3, 64, 64))
    assert pics.stored and pics[0].shape == (64, 64, 3) and pics.problem is None


@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_label_tables_as_spreadsheets_save_them(tmp_path, delimiter):
    """Semicolon-separated (a spreadsheet's CSV in many locales) and tab-separated tables read like comma ones,
    with a byte-order mark and Windows line ends; a path with the separator inside quotes stays one cell."""
    rows = [f"file{delimiter}shape{delimiter}pointy"]
    for i in range(12):
        name = f"a {i}{delimiter}x.png" if i == 0 else f"p{i}.png"
        save(shape_image(SHAPES[i % 3], i, size=(30, 30), mode="L"), tmp_path / name)
        cell = f'"{name}"' if delimiter in name else name
        rows.append(f"{cell}{delimiter}{i % 2}{delimiter}{int(i % 3 == 0)}")
    (tmp_path / "labels.csv").write_text("\r\n".join(rows) + "\r\n", encoding="utf-8-sig", newline="")
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=28))
    assert s.label_spec.kind == BINARY and s.label_spec.names == ("shape", "pointy")
    assert len(s.train) + len(s.val) + len(s.test) == 12


def test_a_run_whose_folder_changed_is_not_resumed_or_measured(tmp_path):
    """Images added to the folder (or relabelled) re-cut the split: a resume would train on images the run was
    tested on, a measure would score images the model learnt. Both refuse in one line and leave the run as it
    was; with the data put back the run resumes."""
    data = tmp_path / "data"
    csv_path = partly_labelled_csv(data, n=40, labelled_every=1)
    original = csv_path.read_text()
    run = tmp_path / "run"
    common = ("--image-size", "32", "--threads", "1", "--quiet", "--no-maps", "--no-figures", "--latent-dim", "6")
    proc = run_cli("--dataset", "folder", "--data-dir", str(data), "--out", str(run), "--epochs", "1", *common)
    assert proc.returncode == 0, proc.stderr[-2000:]
    recorded = json.loads((run / "config.json").read_text())["extra"]["data_fingerprint"]
    assert len(recorded) == 16
    saved = {name: (run / name).read_bytes() for name in ("model.pt", "checkpoint.pt", "metrics.jsonl", "config.json")}

    for i in range(40, 50):  # ten more images, appended to the table
        save(shape_image(SHAPES[i % 3], i), data / f"p{i:04d}.png")
    csv_path.write_text(original + "".join(f"p{i:04d}.png,{SHAPES[i % 3]}\n" for i in range(40, 50)))
    proc = run_cli("--out", str(run), "--resume", "--epochs", "2", "--quiet")
    assert_one_error_line(proc, "the data changed since this run was trained", "train 32 -> 40 images",
                          "cannot resume it")
    proc = run_cli("measure", str(run), "--judge-dir", str(tmp_path / "judge"))
    assert_one_error_line(proc, "the data changed since this run was trained", "cannot measure it")
    assert not (tmp_path / "judge").exists()  # refused before a judge was trained

    relabelled = original.replace("p0004.png,ring", "p0004.png,cross")  # the same files, one label moved
    assert relabelled != original
    csv_path.write_text(relabelled)
    proc = run_cli("--out", str(run), "--resume", "--epochs", "2", "--quiet")
    assert_one_error_line(proc, "as many images as before, but other files or labels")
    assert {name: (run / name).read_bytes() for name in saved} == saved  # nothing of the run was touched

    csv_path.write_text(original)  # the data as they were: the run goes on
    proc = run_cli("--out", str(run), "--resume", "--epochs", "2", *common)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((run / "summary.json").read_text())["epochs"] == 2
    assert json.loads((run / "config.json").read_text())["extra"]["data_fingerprint"] == recorded


def test_a_grey_run_resumes_grey_after_a_colour_picture_joins_its_folder(tmp_path):
    """A run whose channels were left to its images reloads at its model's shape: a picture of the folder
    re-saved in colour (same file, same split) would otherwise make the data RGB and the run refuse to resume."""
    data = tmp_path / "data"
    csv_path = partly_labelled_csv(data, n=30, labelled_every=1, mode="L")
    run = tmp_path / "run"
    common = ("--threads", "1", "--quiet", "--no-maps", "--no-figures", "--latent-dim", "6")
    proc = run_cli("--dataset", "folder", "--data-dir", str(data), "--out", str(run), "--epochs", "1", *common)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((run / "config.json").read_text())["model"]["image_shape"] == [1, 28, 28]
    first = csv_path.read_text().splitlines()[1].split(",")[0]
    save(shape_image("cross", 0, mode="RGB"), data / first)  # now a colour picture: new runs would be RGB
    assert load_data(DataConfig(dataset="folder", data_dir=str(data))).image_shape[0] == 3
    proc = run_cli("--out", str(run), "--resume", "--epochs", "2", *common)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((run / "summary.json").read_text())["epochs"] == 2
