"""Benchmark: peak memory of a training run over a large folder of images, which is read lazily.

Generates a folder of 64x64 RGB PNGs (a coloured shape on a tinted background, with four binary attributes:
round, red, big, top) and its labels.csv, then trains one epoch on it with
    /usr/bin/time -v python train_cli.py --dataset folder --data-dir FOLDER --epochs 1 ...
and reports the peak resident memory ("Maximum resident set size") next to what the images would take if they
were held in memory. The same run on a folder ten times smaller shows how the peak grows with the data: lazily
loaded data should add only the paths and labels (bytes per image), not the pixels.

With DataLoader workers (``--workers``), ``time -v`` reports the largest single process; the script also samples
the proportional set size (PSS: shared pages counted once) of the whole process tree, workers included.

Usage:  .venv/bin/python bench/peak_memory.py [--images 20000] [--small 2000] [--workers 2] [--dir DIR]
Readable lines first; the LAST line is one JSON object with all the figures.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIZE = 64
ATTRIBUTES = ("round", "red", "big", "top")


def make_shapes_folder(folder: Path, n: int, seed: int = 0) -> Path:
    """Write n deterministic 64x64 PNGs and labels.csv (path + the four 0/1 attributes) into ``folder``.

    A folder that already holds labels.csv for n images is reused as it is.
    """
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "labels.csv"
    if csv_path.is_file() and sum(1 for _ in open(csv_path)) == n + 1:
        return folder
    rng = np.random.default_rng(seed)
    attrs = rng.integers(0, 2, size=(n, len(ATTRIBUTES)))
    tints = rng.integers(150, 256, size=(n, 3))
    jitter = rng.random((n, 4))
    rows = []
    for i in range(n):
        round_, red, big, top = (int(v) for v in attrs[i])
        img = Image.new("RGB", (SIZE, SIZE), tuple(int(v) for v in tints[i]))
        radius = (17 + 6 * jitter[i, 0]) if big else (7 + 4 * jitter[i, 0])
        cx = radius + jitter[i, 1] * (SIZE - 2 * radius)
        cy = (SIZE * (0.28 if top else 0.72)) + (jitter[i, 2] - 0.5) * 6
        shade = int(60 + 120 * jitter[i, 3])
        colour = (220, shade // 3, shade // 3) if red else (shade // 3, shade // 2, 220)
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        draw = ImageDraw.Draw(img)
        (draw.ellipse if round_ else draw.rectangle)(box, fill=colour)
        name = f"{i // 1000:03d}/{i:06d}.png"
        (folder / name).parent.mkdir(exist_ok=True)
        img.save(folder / name, compress_level=1)
        rows.append([name, round_, red, big, top])
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", *ATTRIBUTES])
        writer.writerows(rows)
    return folder


def parse_time_v(stderr: str) -> dict:
    """The figures of GNU time -v this benchmark reads: peak RSS (MB) and wall-clock seconds."""
    out = {}
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if match:
        out["peak_rss_mb"] = int(match.group(1)) / 1024
    match = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", stderr)
    if match:
        seconds = 0.0
        for part in match.group(1).split(":"):
            seconds = seconds * 60 + float(part)
        out["wall_s"] = seconds
    return out


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_pss_mb(root_pid: int) -> float:
    """Sum of PSS over ``root_pid`` and all its descendants, in MB (0 for processes that vanished)."""
    tree, total, todo = _children(), 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        total += int(match.group(1)) if match else 0
    return total / 1024


def measure_run(folder: Path, out: Path, workers: int, extra: list[str]) -> dict:
    """One epoch of train_cli.py on ``folder`` under /usr/bin/time -v; peak RSS and the tree's peak PSS."""
    cmd = ["/usr/bin/time", "-v", sys.executable, str(ROOT / "train_cli.py"), "--dataset", "folder",
           "--data-dir", str(folder), "--epochs", "1", "--out", str(out), "--workers", str(workers),
           "--no-maps", "--no-figures", "--quiet", "--sup-frac", "0.1", "--map-points", "1000", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_pss = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_pss
        while not stop.wait(0.5):
            peak_pss = max(peak_pss, tree_pss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"training failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    return {**parse_time_v(stderr), "peak_tree_pss_mb": peak_pss, "train_seconds": summary["train_seconds"],
            "images_per_second": summary["images_per_second"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--small", type=int, default=2_000, help="size of the comparison folder (0: skip it)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the training runs")
    parser.add_argument("--dir", help="keep the generated folders here (reused when run again)")
    parser.add_argument("--train-args", default="", help="extra train_cli.py arguments, e.g. '--threads 1'")
    args = parser.parse_args()
    if not shutil.which("/usr/bin/time"):
        raise SystemExit("/usr/bin/time is missing (Debian/Ubuntu: apt-get install -y time)")

    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ccvae-peak-"))
    # what the interpreter costs before any data: importing torch alone (its CUDA build maps large libraries)
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", "import torch"], capture_output=True, text=True)
    results = {"import_torch_peak_rss_mb": round(parse_time_v(done.stderr).get("peak_rss_mb", float("nan")), 1)}
    print(f"import torch alone: peak RSS {results['import_torch_peak_rss_mb']:.0f} MB", flush=True)
    try:
        for label, n in (("large", args.images), ("small", args.small)):
            if n <= 0:
                continue
            start = time.perf_counter()
            folder = make_shapes_folder(base / f"shapes{n}", n)
            generate_s = time.perf_counter() - start
            disk_mb = sum(p.stat().st_size for p in folder.rglob("*.png")) / 2**20
            print(f"{label}: {n} images of 64x64 RGB in {folder} ({disk_mb:.0f} MB of PNG, {generate_s:.0f} s)",
                  flush=True)
            run_dir = base / f"run{n}"
            shutil.rmtree(run_dir, ignore_errors=True)
            figures = measure_run(folder, run_dir, args.workers, args.train_args.split())
            pixels_mb = n * 3 * SIZE * SIZE / 2**20
            results[label] = {"images": n, "png_mb": round(disk_mb, 1), "generate_s": round(generate_s, 1),
                              "in_memory_uint8_mb": round(pixels_mb, 1), "in_memory_float32_mb": round(4 * pixels_mb, 1),
                              **{k: round(v, 1) for k, v in figures.items()}}
            print(f"  peak RSS {figures['peak_rss_mb']:.0f} MB (largest process; time -v), "
                  f"peak PSS of the process tree {figures['peak_tree_pss_mb']:.0f} MB; "
                  f"the images alone would take {pixels_mb:.0f} MB as uint8, {4 * pixels_mb:.0f} MB as float32; "
                  f"training {figures['train_seconds']:.0f} s at {figures['images_per_second']:.0f} img/s",
                  flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    if "small" in results:
        grow = results["large"]["peak_rss_mb"] - results["small"]["peak_rss_mb"]
        results["peak_rss_growth_mb"] = round(grow, 1)
        extra = results["large"]["images"] - results["small"]["images"]
        print(f"{extra} more images raised the peak RSS by {grow:.0f} MB "
              f"({grow * 2**20 / extra:.0f} bytes per image; their pixels are {3 * SIZE * SIZE} bytes as uint8)")
    results.update(workers=args.workers, cpu_cores=os.cpu_count(), load_average=round(os.getloadavg()[0], 1))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
