"""``python train_cli.py latents RUN``: encode a finished run's evaluation images again and refit its 2-D maps.

    python train_cli.py latents runs/demo --map-points 20000          # map more points than training did
    python train_cli.py latents runs/celeba --data-dir ~/data          # a run trained on another machine

Uses the run's own model.pt and config.json. ``--data-dir`` / ``--labels-csv`` say where the data live here
when that differs from where the run was trained; they and ``--map-points`` are recorded in config.json, so the
explorer reloads point images from the same place. latents.npz and maps.npz are replaced only once both are
computed, each file atomically. The last line printed is a JSON summary. This module never imports Qt.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Callable

from core.options import OneLineParser, at_least, fail


def reencode_run(run_dir: Path, *, map_points: int | None = None, data_dir: str | None = None,
                 labels_csv: str | None = None, maps: bool = True, device: str = "auto",
                 log: Callable[[str], None] | None = None) -> dict:
    """Re-encode ``run_dir``'s evaluation images (up to ``map_points``; default: the run's own number) and refit
    the maps; returns a summary dict. Raises CCVAEError subclasses with one-line messages."""
    from core import checkpoint as ckpt
    from core.data import DataConfig, load_data
    from core.device import pick_device
    from core.latents import MAPS_FILE
    from core.run import check_labels_match, write_latents

    say = log or (lambda msg: None)
    run_dir = Path(run_dir)
    start = time.perf_counter()
    stored = ckpt.load_config(run_dir)
    data = dict(stored.data)
    for name, value in (("data_dir", data_dir), ("labels_csv", labels_csv)):
        if value is not None:
            data[name] = str(Path(value).expanduser().resolve())
    # what config.json records from now on: where the data are, how many points the run maps
    recorded = dataclasses.replace(stored, data=data, train=dataclasses.replace(
        stored.train, map_points=map_points or stored.train.map_points))
    cfg = dataclasses.replace(recorded, train=dataclasses.replace(recorded.train, make_maps=maps))
    device = pick_device(device)
    model, _ = ckpt.load_run(run_dir, device)
    say(f"loading the data ({data.get('dataset')})")
    splits = load_data(DataConfig(**cfg.data_as_trained()))
    check_labels_match(cfg, splits)  # the same kind of data the model was trained on
    say(f"encoding up to {cfg.train.map_points} evaluation images")
    points = write_latents(run_dir, cfg, splits, model, device, say)
    if not maps:  # maps of the old latents would be ignored anyway (keyed); the explorer fits new ones
        (run_dir / MAPS_FILE).unlink(missing_ok=True)
    if recorded.to_json() != stored.to_json():
        ckpt.save_config(run_dir, recorded)
    return {"run": str(run_dir), "points": points, "maps": bool(maps), "device": str(device),
            "seconds": round(time.perf_counter() - start, 1)}


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="ccvae-train latents", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="run folder written by train_cli.py")
    p.add_argument("--map-points", type=at_least(1), help="evaluation images to encode (default: the run's own)")
    p.add_argument("--data-dir", help="where the run's data set lives here (default: where it was trained)")
    p.add_argument("--labels-csv", help="folder data set: its CSV of labels here (default: the run's)")
    p.add_argument("--no-maps", action="store_true", help="latents only (the explorer fits the maps when opened)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--threads", type=at_least(0), default=0, help="CPU threads for torch (default 0: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from core.errors import CCVAEError

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        summary = reencode_run(Path(args.run), map_points=args.map_points, data_dir=args.data_dir,
                               labels_csv=args.labels_csv, maps=not args.no_maps, device=args.device, log=log)
    except CCVAEError as e:
        return fail(str(e))
    except KeyboardInterrupt:
        return fail(f"interrupted; {args.run} keeps its previous latents and maps")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
