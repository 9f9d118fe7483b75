"""Reading a folder's photos for training: core.data.ImageFileLoader against a full-size decode, side by side.

Writes N generated photo-like JPEGs (smooth colour waves, grain and drawn rings: they compress like photos, about
2.4 MB at 12 megapixels) to a temporary folder and reads each one per round, alternating the two ways, as
training reads an own folder every epoch:

- ``ours``: ImageFileLoader, which has libjpeg decode at the smallest of 1/2, 1/4, 1/8 scale that is still at
  least the model's side (the DCT does the shrinking), then crops or resizes as before;
- ``full``: the same steps after decoding every pixel (what the loader did before).

It reports ms per image (median of the rounds), the ratio, and how far apart the two tensors are (mean and
largest absolute difference per pixel, on the [0, 1] scale).

    python bench/image_decode.py [--images 12] [--megapixels 12] [--size 64] [--rounds 3] [--channels 3]

The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data import ImageFileLoader  # noqa: E402
from core.imaging import as_seen, pixels  # noqa: E402


def photo(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    waves = np.stack([128 + 100 * np.sin(x / (300 + 10 * seed) + c) + 20 * np.cos(y / 200) for c in range(3)], -1)
    image = Image.fromarray(np.clip(waves + rng.normal(0, 6, waves.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x0, x1 = sorted(rng.integers(0, width, 2))
        y0, y1 = sorted(rng.integers(0, height, 2))
        draw.ellipse([int(x0), int(y0), int(x1), int(y1)], width=20,
                     outline=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return image


def full_decode(path: str, channels: int, size: int) -> torch.Tensor:
    """The loader's steps (squash resize) with every pixel decoded first."""
    with Image.open(path) as img:
        img = as_seen(img, channels).resize((size, size), Image.Resampling.BILINEAR)
        values = torch.from_numpy(pixels(img, channels))
    return values.unsqueeze(0) if channels == 1 else values.permute(2, 0, 1).contiguous()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=12)
    p.add_argument("--megapixels", type=float, default=12.0)
    p.add_argument("--size", type=int, default=64, help="the model's image side")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3))
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    width = int(round((args.megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    loader = ImageFileLoader(args.channels, args.size)
    with tempfile.TemporaryDirectory(prefix="image-decode-") as folder:
        paths = []
        for i in range(args.images):
            paths.append(str(Path(folder) / f"photo{i}.jpg"))
            photo(width, height, i).save(paths[-1], quality=88)
        megabytes = sum(Path(q).stat().st_size for q in paths) / len(paths) / 1e6
        times = {"ours": [], "full": []}
        for _ in range(args.rounds):
            for name, read in (("ours", loader), ("full", lambda q: full_decode(q, args.channels, args.size))):
                start = time.perf_counter()
                for q in paths:
                    read(q)
                times[name].append((time.perf_counter() - start) / len(paths) * 1000)
        diffs = [(loader(q) - full_decode(q, args.channels, args.size)).abs() for q in paths]
    ours, full = statistics.median(times["ours"]), statistics.median(times["full"])
    result = {"bench": "image_decode", "images": args.images, "width": width, "height": height,
              "jpeg_mb": round(megabytes, 2), "size": args.size, "channels": args.channels,
              "ours_ms_per_image": round(ours, 1), "full_ms_per_image": round(full, 1),
              "speedup": round(full / ours, 2), "mean_abs_diff": round(float(torch.cat(diffs).mean()), 4),
              "max_abs_diff": round(float(torch.cat(diffs).max()), 4)}
    print(f"{args.images} JPEGs of {width}x{height} ({megabytes:.1f} MB each) read as {args.size}x{args.size}, "
          f"{args.channels} channel(s): ours {ours:.1f} ms, full decode {full:.1f} ms per image "
          f"({full / ours:.2f}x); pixels differ by {result['mean_abs_diff']} on average, "
          f"{result['max_abs_diff']} at most")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
