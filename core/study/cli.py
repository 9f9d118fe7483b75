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
from core.study.grid import DEFAULT_EPOCHS, POSTER_BETAS, POSTER_LATENT_DIMS, StudyConfig


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments give one line (``error: ...``) and exit status 2, not the usage block."""

    def error(self, message):
        self.exit(2, f"error: {message} (see study -h)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog="ccvae-train study", description=__doc__.split("\n\n")[0],
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = p.add_argument_group("data")
    add_source_arguments(d)
    g = p.add_argument_group("grid")
    g.add_argument("--betas", type=float, nargs="+", default=list(POSTER_BETAS), help="KL weights")
    g.add_argument("--latent-dims", type=int, nargs="+", default=list(POSTER_LATENT_DIMS), help="sizes of z")
    g.add_argument("--sup-fracs", type=float, nargs="+", default=[1.0], help="shares of labelled training images")
    t = p.add_argument_group("training (shared by every cell)")
    t.add_argument("--out", required=True, help="study folder (cells, judge, report)")
    t.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    t.add_argument("--zc-dim", type=int, default=0, help="size of z_c for a multi-class label (0: one per class)")
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    t.add_argument("--threads", type=int, default=1, help="CPU threads for torch (0: torch's default; 1 is "
                   "much faster on a busy 2-core machine)")
    t.add_argument("--qyx-samples", type=int, default=100, help="K samples in the estimate of q(y|x)")
    t.add_argument("--limit-train", type=int, default=0, help="train each cell on at most N labelled and N "
                   "unlabelled images (quick looks at big data sets; 0: all)")
    t.add_argument("--maps", action="store_true", help="fit each cell's UMAP maps (slow; off by default)")
    t.add_argument("--no-cell-figures", action="store_true", help="skip each cell's own figures")
    m = p.add_argument_group("measures")
    m.add_argument("--measure-images", type=int, default=300, help="test images the measures use")
    m.add_argument("--gen-per-label", type=int, default=50, help="generations per label for cond-gen accuracy")
    m.add_argument("--judge-epochs", type=int, default=6, help="most epochs of the judge CNN (early stop on val)")
    m.add_argument("--judge-images", type=int, default=60000, help="most training images for the judge")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def study_from_args(args) -> StudyConfig:
    data = {**source_settings(args), "seed": args.seed}
    return StudyConfig(data=data, betas=tuple(args.betas), latent_dims=tuple(args.latent_dims),
                       sup_fracs=tuple(args.sup_fracs), zc_dim=args.zc_dim, epochs=args.epochs,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device, threads=args.threads,
                       num_qyx_samples=args.qyx_samples, make_maps=args.maps, make_figures=not args.no_cell_figures,
                       measure_images=args.measure_images, gen_per_label=args.gen_per_label,
                       judge_epochs=args.judge_epochs, judge_images=args.judge_images,
                       limit_train=args.limit_train)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.checkpoint import CheckpointError
    from core.data import DataError
    from core.judge import JudgeError
    from core.run import RunError
    from core.study.grid import StudyError
    from core.study.report import markdown_table
    from core.study.runner import run_study
    from core.trainer import TrainingDiverged

    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        study = study_from_args(args)
        study.validate()
        report = run_study(Path(args.out), study, log=log)
    except (StudyError, DataError, CheckpointError, RunError, JudgeError, TrainingDiverged, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"error: interrupted; rerun the same command to continue the study in {args.out}", file=sys.stderr)
        return 2
    print(markdown_table(report["rows"]))
    print(json.dumps({"report": str(Path(args.out) / "report.md"), "cells": len(report["rows"]),
                      "judge_test_accuracy": report["judge"]["test_accuracy"],
                      "wall_seconds": report["wall_seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
