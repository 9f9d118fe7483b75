"""Generated coloured shapes: a small colour data set with known attributes, for tests, benches and trying the
``folder`` data set without any download.

Each picture is a red or blue circle or square, small or large, at a random place, on a black background
("plain") or on a random colourful texture ("busy"). ``labels.csv`` has the three binary columns red, circle,
large. Written as an ordinary image folder, it is read by ``--dataset folder`` like a user's own images:

    python -m core.data.synthetic OUT_DIR [--count 800] [--size 64] [--background plain|busy] [--seed 0]
    python train_cli.py --dataset folder --data-dir OUT_DIR --image-size 64 --channels 3 --out runs/shapes
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from core.atomic import atomic_write_bytes

BACKGROUNDS = ("plain", "busy")
ATTRIBUTES = ("red", "circle", "large")


def _shape_colour(red: bool, rng: np.random.Generator) -> np.ndarray:
    """A saturated red or blue with a little jitter, so colour is a clear attribute but not one exact value."""
    strong, weak = rng.uniform(0.75, 1.0), rng.uniform(0.0, 0.2)
    other = rng.uniform(0.0, 0.2)
    return np.array([strong, other, weak] if red else [weak, other, strong], dtype=np.float32)


def _busy_background(size: int, rng: np.random.Generator) -> np.ndarray:
    """[size, size, 3] in [0, 1]: a few random colour waves plus blobs, darkened so the shape stays visible."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.zeros((size, size, 3), dtype=np.float32)
    for _ in range(3):
        fx, fy = rng.uniform(1, 6, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * (fx * xs + fy * ys) + phase)
        img += wave[..., None] * rng.uniform(0.0, 1.0, size=3)
    for _ in range(4):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.25)
        blob = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r))
        img += blob[..., None] * rng.uniform(0.0, 1.0, size=3)
    img /= max(float(img.max()), 1e-6)
    return (0.6 * img).astype(np.float32)


def make_shape_image(red: bool, circle: bool, large: bool, size: int, background: str,
                     rng: np.random.Generator) -> np.ndarray:
    """One picture, uint8 [size, size, 3]."""
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, not {background!r}")
    img = np.zeros((size, size, 3), dtype=np.float32) if background == "plain" else _busy_background(size, rng)
    half = size * (rng.uniform(0.28, 0.36) if large else rng.uniform(0.12, 0.17))
    cx, cy = rng.uniform(half + 1, size - half - 1, size=2)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    if circle:
        inside = (xs - cx) ** 2 + (ys - cy) ** 2 <= half * half
    else:
        inside = (np.abs(xs - cx) <= half) & (np.abs(ys - cy) <= half)
    img[inside] = _shape_colour(red, rng)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def make_shapes_arrays(count: int, size: int = 64, background: str = "plain",
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, size, size, 3], labels uint8 [N, 3] for red, circle, large); all eight combinations
    come equally often (in a shuffled order)."""
    rng = np.random.default_rng(seed)
    combos = np.array([[(k >> b) & 1 for b in range(3)] for k in range(8)], dtype=np.uint8)
    labels = combos[rng.permutation(np.arange(count) % 8)]
    images = np.stack([make_shape_image(bool(r), bool(c), bool(l), size, background, rng) for r, c, l in labels])
    return images, labels


def write_shapes_folder(out_dir: str | Path, count: int = 800, size: int = 64, background: str = "plain",
                        seed: int = 0) -> Path:
    """Writes OUT/img/NNNNN.png and OUT/labels.csv (path, red, circle, large); returns the CSV's path."""
    out = Path(out_dir)
    (out / "img").mkdir(parents=True, exist_ok=True)
    images, labels = make_shapes_arrays(count, size, background, seed)
    rows = []
    for i, (image, label) in enumerate(zip(images, labels)):
        name = f"img/{i:05d}.png"
        Image.fromarray(image, "RGB").save(out / name)
        rows.append([name, *(str(int(v)) for v in label)])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", *ATTRIBUTES])
    writer.writerows(rows)
    csv_path = out / "labels.csv"
    atomic_write_bytes(csv_path, text.getvalue().encode())
    return csv_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.data.synthetic", description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="folder to write (img/*.png and labels.csv)")
    p.add_argument("--count", type=int, default=800)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--background", choices=BACKGROUNDS, default="plain")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.count < 8 or args.size < 16:
        print("error: --count must be at least 8 and --size at least 16", file=sys.stderr)
        return 2
    path = write_shapes_folder(args.out, args.count, args.size, args.background, args.seed)
    print(f"wrote {args.count} images and {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
