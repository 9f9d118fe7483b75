"""Tiny studies for the tests (tests/test_study.py and tests/test_study_compare.py): image folders small enough
that a cell trains in a second, and the StudyConfig of a one-epoch grid on them."""
from __future__ import annotations

import numpy as np
from PIL import Image

from core.study import StudyConfig
from core.study.grid import study_run_config


def make_digits_folder(folder):
    """30 mnist5k digits of each of the classes 0, 1 and 2 as PNG files in ``folder``, with a labels.csv."""
    with np.load("assets/mnist5k.npz") as archive:
        images, labels = archive["images"], archive["labels"]
    rows = []
    for cls in (0, 1, 2):
        for j, i in enumerate(np.flatnonzero(labels == cls)[:30]):
            name = f"d{cls}_{j}.png"
            Image.fromarray(images[i]).save(folder / name)
            rows.append(f"{name},{cls}")
    (folder / "labels.csv").write_text("file,digit\n" + "\n".join(rows) + "\n")
    return folder


def make_shapes_folder(folder):
    """72 grey 28x28 pictures in ``folder`` with three binary attributes: square (else a disc), bright (else dim),
    left (else right), 9 of each of the 8 combinations, size jittered; labels.csv has one 0/1 column per
    attribute."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:28, :28]
    rows = []
    for k in range(72):
        square, bright, left = (k >> 0) & 1, (k >> 1) & 1, (k >> 2) & 1
        cx, cy, r = (8 if left else 19) + rng.integers(-1, 2), 14 + rng.integers(-3, 4), 4 + rng.integers(0, 3)
        inside = (np.maximum(abs(xx - cx), abs(yy - cy)) <= r) if square else ((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r)
        img = np.where(inside, 250 if bright else 110, 0).astype(np.uint8)
        Image.fromarray(img).save(folder / f"s{k}.png")
        rows.append(f"s{k}.png,{square},{bright},{left}")
    (folder / "labels.csv").write_text("file,square,bright,left\n" + "\n".join(rows) + "\n")
    return folder


def tiny_study(folder, *, zc_dim=2, lr=None, **changes):
    """One epoch of batch 16 on CPU, no figures, 10 q(y|x) samples, measured on 9 images; grid beta 0.5 and 1 x
    latent size 8 unless ``changes`` say otherwise."""
    train = dict(epochs=1, batch_size=16, device="cpu", make_figures=False, **({"lr": lr} if lr else {}))
    run = study_run_config({"dataset": "folder", "data_dir": str(folder)}, model={"zc_dim": zc_dim},
                           objective={"num_qyx_samples": 10}, train=train)
    settings = dict(run=run, betas=(0.5, 1.0), latent_dims=(8,), measure_images=9, gen_per_label=5, judge_epochs=1)
    settings.update(changes)
    return StudyConfig(**settings)
