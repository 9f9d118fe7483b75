"""Size of a 10,000-point run's latents.npz with the thumbnails that let it travel without its data folder.

Encodes N generated 64x64 RGB images (an untrained model is enough: the file's size does not depend on the
weights) the way a run's end does, writes latents.npz, and reports its size with and without thumbnails. Two
kinds of pictures bound what real photos give: smooth generated shapes (compress well) and uniform noise
(do not compress at all).

    python bench/thumbnail_size.py [--points 10000] [--size 64]

The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import ModelConfig  # noqa: E402
from core.data import DataSplits, TensorImageSet  # noqa: E402
from core.labels import MULTICLASS, LabelSpec  # noqa: E402
from core.latents import LATENTS_FILE, encode_points, save_latents  # noqa: E402
from core.model import CCVAE  # noqa: E402


def pictures(kind: str, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 [n, 3, size, size]."""
    if kind == "noise":
        return rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    for i in range(n):
        cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.35)
        disc = (np.hypot(xx - cx, yy - cy) < r)[None]
        background = rng.uniform(0, 255, 3)[:, None, None] * (0.6 + 0.4 * xx)[None]
        shade = rng.uniform(0, 255, 3)[:, None, None] * (0.7 + 0.3 * yy)[None]
        grain = rng.normal(0, 6, (3, size, size))
        out[i] = np.clip(np.where(disc, shade, background) + grain, 0, 255).astype(np.uint8)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10000)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    spec = LabelSpec(MULTICLASS, tuple("abc"))
    torch.manual_seed(0)
    model = CCVAE(ModelConfig(image_shape=(3, args.size, args.size), label_spec=spec, latent_dim=16,
                              likelihood="laplace"))
    rng = np.random.default_rng(0)
    result = {"points": args.points, "image_size": args.size}
    for kind in ("shapes", "noise"):
        images = torch.from_numpy(pictures(kind, args.points, args.size, rng))
        labels = torch.from_numpy(rng.integers(-1, 3, args.points))
        data = TensorImageSet(images, labels)
        empty = TensorImageSet(images[:0], labels[:0])
        splits = DataSplits(name=kind, train=empty, val=empty, test=data, labelled=np.zeros(0, np.int64),
                            unlabelled=np.zeros(0, np.int64), label_spec=spec, image_shape=data.image_shape,
                            label_prior=torch.full((3,), 1 / 3))
        start = time.perf_counter()
        latents = encode_points(model, splits, args.points, "cpu")
        seconds = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            save_latents(Path(tmp), latents)
            with_thumbs = (Path(tmp) / LATENTS_FILE).stat().st_size
            save_latents(Path(tmp), replace(latents, thumbnails=None))
            without = (Path(tmp) / LATENTS_FILE).stat().st_size
        side = latents.thumbnails.shape[-1] if latents.thumbnails is not None else None
        figures = {"thumbnail_side": side, "latents_npz_mb": round(with_thumbs / 1e6, 2),
                   "without_thumbnails_mb": round(without / 1e6, 2),
                   "thumbnails_mb": round((with_thumbs - without) / 1e6, 2),
                   "thumbnails_raw_mb": round(latents.thumbnails.nbytes / 1e6, 2) if side else 0.0,
                   "encode_seconds": round(seconds, 1)}
        for key, value in figures.items():
            print(f"{kind:7s} {key:24s} {value}")
        result[kind] = figures
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
