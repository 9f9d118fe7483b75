"""``python train_cli.py study``: train the poster's grid of CCVAEs and report what their latents capture.

    python train_cli.py study --dataset mnist5k --out runs/study
    python train_cli.py study --betas 0.05 0.4 --latent-dims 16 --epochs 3 --out runs/small
    python train_cli.py study --dataset fashion-mnist --data-dir /usr/share/datasets/fashion-mnist --sup-fracs 0.1 --out runs/fm

Rerunning the same command resumes: finished cells are not retrained. Progress goes to stderr; the headline
table and then a one-line JSON summary go to stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.data.config import add_source_arguments, source_settings
from core.options import OneLineParser, at_least, fraction, positive
from core.study.grid import POSTER_BETAS, POSTER_LATENT_DIMS, STUDY_TRAIN_DEFAULTS, StudyConfig, study_run_config


def build_parser() -> argparse.ArgumentParser:
    # training defaults are None: they come from the data set's preset and the study's own defaults
    # (core.presets, core.study.grid.STUDY_TRAIN_DEFAULTS); an option counts only when given
    p = OneLineParser(prog="ccvae-train study", description=__doc__.split("\n\n")[0])
    d = p.add_argument_group("data")
    add_source_arguments(d)
    g = p.add_argument_group("grid")
    g.add_argument("--betas", type=positive, nargs="+", default=list(POSTER_BETAS),
                   help=f"KL weights (default {' '.join(f'{b:g}' for b in POSTER_BETAS)})")
    g.add_argument("--latent-dims", type=at_least(2), nargs="+", default=list(POSTER_LATENT_DIMS),
                   help=f"sizes of z (default {' '.join(map(str, POSTER_LATENT_DIMS))})")
    g.add_argument("--sup-fracs", type=fraction, nargs="+", default=[1.0],
                   help="shares of labelled training images, each in (0, 1] (default 1)")
    t = p.add_argument_group("training (shared by every cell)")
    t.add_argument("--out", required=True, help="study folder (cells, judge, report)")
    t.add_argument("--epochs", type=at_least(1), help=f"(default {STUDY_TRAIN_DEFAULTS['epochs']})")
    t.add_argument("--zc-dim", type=at_least(0), help="size of z_c for a multi-class label (default 0: one per class)")
    t.add_argument("--batch-size", type=at_least(1), help="(default: the data set's, as for a single run)")
    t.add_argument("--lr", type=positive, help="Adam learning rate (default: the data set's, as for a single run)")
    t.add_argument("--seed", type=at_least(0), help="(default 0)")
    t.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    t.add_argument("--threads", type=at_least(0), help=f"CPU threads for torch (default {STUDY_TRAIN_DEFAULTS['threads']}; "
                   "0: torch's default; 1 is much faster on a busy 2-core machine)")
    t.add_argument("--qyx-samples", type=at_least(1), help="K samples in the estimate of q(y|x) (default: as for a single run)")
    t.add_argument("--limit-train", type=at_least(0), help="train each cell on at most N labelled and N "
                   "unlabelled images (quick looks at big data sets; default 0: all)")
    t.add_argument("--maps", action="store_true", help="fit each cell's UMAP maps (slow; off by default)")
    t.add_argument("--no-cell-figures", action="store_true", help="skip each cell's own figures")
    m = p.add_argument_group("measures")
    m.add_argument("--measure-images", type=at_least(2), default=StudyConfig.measure_images,
                   help=f"test images the measures use (default {StudyConfig.measure_images})")
    m.add_argument("--gen-per-label", type=at_least(1), default=StudyConfig.gen_per_label,
                   help=f"generations per label for cond-gen accuracy (default {StudyConfig.gen_per_label})")
    m.add_argument("--judge-epochs", type=at_least(1), default=StudyConfig.judge_epochs,
                   help=f"most epochs of the judge CNN (early stop on val; default {StudyConfig.judge_epochs})")
    m.add_argument("--judge-images", type=at_least(1), default=StudyConfig.judge_images,
                   help=f"most training images for the judge (default {StudyConfig.judge_images})")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def study_from_args(args) -> StudyConfig:
    def given(names: dict) -> dict:
        return {field: getattr(args, dest) for dest, field in names.items() if getattr(args, dest) is not None}

    train = given({"epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "seed": "seed", "device": "device",
                   "threads": "threads", "limit_train": "limit_train"})
    if args.maps:
        train["make_maps"] = True
    if args.no_cell_figures:
        train["make_figures"] = False
    data = {**source_settings(args), **({"seed": args.seed} if args.seed is not None else {})}
    run = study_run_config(data, model=given({"zc_dim": "zc_dim"}), objective=given({"qyx_samples": "num_qyx_samples"}),
                           train=train)
    return StudyConfig(run=run, betas=tuple(args.betas), latent_dims=tuple(args.latent_dims),
                       sup_fracs=tuple(args.sup_fracs), measure_images=args.measure_images,
                       gen_per_label=args.gen_per_label, judge_epochs=args.judge_epochs,
                       judge_images=args.judge_images)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.errors import CCVAEError
    from core.study.report import REPORT_MD, markdown_table
    from core.study.runner import run_study

    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        study = study_from_args(args)
        study.validate()
        report = run_study(Path(args.out), study, log=log)
    except CCVAEError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"error: interrupted; rerun the same command to continue the study in {args.out}", file=sys.stderr)
        return 2
    print(markdown_table(report["rows"]))
    print(json.dumps({"report": str(Path(args.out) / REPORT_MD), "cells": len(report["rows"]),
                      "judge_test_accuracy": report["judge"]["test_accuracy"],
                      "wall_seconds": report["wall_seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
