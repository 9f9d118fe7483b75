"""Train a Characteristic Capturing VAE.

    python train_cli.py --dataset mnist5k --out runs/demo
    python train_cli.py --dataset fashion-mnist --data-dir /usr/share/datasets/fashion-mnist --num-labels 1000 --out runs/fm
    python train_cli.py --resume --out runs/demo
    torchrun --standalone --nproc_per_node 2 train_cli.py --dataset mnist5k --out runs/ddp   (DDP; see README)

The last line printed is a JSON summary. This module never imports Qt.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SUBCOMMANDS = {"study": ("core.study.cli", "main")}  # name -> (module, function): extra commands such as `study`, registered below


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    from core.data.config import add_source_arguments

    d = p.add_argument_group("data")
    add_source_arguments(d)
    labels = d.add_mutually_exclusive_group()
    labels.add_argument("--sup-frac", type=float, help="share of training images that keep their label (default 1.0)")
    labels.add_argument("--num-labels", type=int, help="number of training images that keep their label")
    d.add_argument("--workers", type=int, default=0, help="DataLoader workers for file-backed data sets")
    m = p.add_argument_group("model")
    m.add_argument("--latent-dim", type=int, default=None, help="size of z = [z_c, style] (default 16; 45 for celeba)")
    m.add_argument("--zc-dim", type=int, default=0, help="size of z_c for a multi-class label (default: one per class; binary: one per attribute)")
    m.add_argument("--likelihood", choices=("bernoulli", "laplace"), help="p(x|z) (default bernoulli for grey, laplace for RGB)")
    m.add_argument("--beta", type=float, default=1.0, help="weight of the latent terms (1 = the paper's objective)")
    m.add_argument("--qyx-samples", type=int, default=100, help="K samples in the estimate of q(y|x)")
    t = p.add_argument_group("training")
    t.add_argument("--out", required=True, help="run folder to write (or to continue with --resume)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=None, help="per process under torchrun (effective batch = this x processes); default 64 (200 for celeba)")
    t.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3; 1e-4 for celeba)")
    t.add_argument("--prior-lr-scale", type=float, default=10.0,
                   help="the conditional prior p(z_c|y) learns this many times faster than the networks (default 10)")
    t.add_argument("--classifier-lr-scale", type=float, default=1.0,
                   help="the classifier q(y|z_c) learns this many times faster than the networks (default 1)")
    t.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant",
                   help="learning rate over the run: constant, or cosine decay to 0 by the last epoch")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    t.add_argument("--no-amp", action="store_true", help="no bfloat16 autocast (used on CUDA and on CPUs with native bf16)")
    t.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: all cores; 1 can be faster on a busy machine)")
    t.add_argument("--limit-train", type=int, default=0, help="train on at most N labelled and N unlabelled images (quick smoke runs)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last complete epoch")
    t.add_argument("--map-points", type=int, default=10000, help="evaluation images given latents and 2-D maps")
    t.add_argument("--no-maps", action="store_true", help="skip the UMAP maps (the explorer computes them when opened)")
    t.add_argument("--no-figures", action="store_true")
    t.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args):
    from core.config import ModelConfig, ObjectiveConfig, RunConfig, TrainConfig
    from core.data import DataConfig, source_settings

    rgb = args.dataset == "celeba" or args.channels == 3
    data = DataConfig(**source_settings(args), sup_frac=args.sup_frac,
                      num_labels=args.num_labels, seed=args.seed, num_workers=args.workers)
    model = ModelConfig(label_spec=None, latent_dim=args.latent_dim or (45 if args.dataset == "celeba" else 16),
                        zc_dim=args.zc_dim, likelihood=args.likelihood or ("laplace" if rgb else "bernoulli"))
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size or (200 if args.dataset == "celeba" else 64),
                        lr=args.lr or (1e-4 if args.dataset == "celeba" else 1e-3), seed=args.seed,
                        prior_lr_scale=args.prior_lr_scale,
                        classifier_lr_scale=args.classifier_lr_scale, lr_schedule=args.lr_schedule,
                        device=args.device, amp=not args.no_amp, map_points=args.map_points,
                        make_maps=not args.no_maps, make_figures=not args.no_figures, threads=args.threads,
                        limit_train=args.limit_train)
    return RunConfig(model=model, objective=ObjectiveConfig(beta=args.beta, num_qyx_samples=args.qyx_samples),
                     train=train, data=data.to_json())


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def train_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ccvae-train", description=__doc__.split("\n\n")[0],
                                     epilog=f"other commands: {', '.join(sorted(SUBCOMMANDS))} (ccvae-train COMMAND -h)")
    _add_train_arguments(parser)
    args = parser.parse_args(argv)

    from core import distributed
    from core.checkpoint import CheckpointError
    from core.data import DataError
    from core.run import RunError, train_run
    from core.trainer import TrainingDiverged

    try:
        group = distributed.init_from_env()  # under torchrun: join the other processes; else one process
    except (RuntimeError, ValueError) as e:
        return _fail(f"cannot join the torchrun process group: {e}")
    quiet = args.quiet or not group.is_main  # under torchrun only rank 0 reports; the others print only errors
    log = (lambda msg: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    try:
        cfg = config_from_args(args)
        summary = train_run(Path(args.out), cfg, resume=args.resume, progress=not quiet, log=log,
                            on_epoch=None if quiet else _print_epoch, group=group)
    except (DataError, CheckpointError, RunError, TrainingDiverged, ValueError) as e:
        return _fail(str(e)) if distributed.reports_error(group, e) else 2
    except KeyboardInterrupt:
        if not group.is_main:
            return 2
        return _fail(f"interrupted; the last complete epoch is saved in {args.out} (continue with --resume)")
    finally:
        distributed.shutdown()
    if group.is_main:
        print(json.dumps(summary))
    return 0


def _print_epoch(record: dict) -> None:
    parts = [f"epoch {record['epoch']}"]
    for key, label in (("sup_loss", "sup"), ("unsup_loss", "unsup"), ("val_accuracy", "val acc"),
                       ("images_per_second", "img/s")):
        if key in record:
            parts.append(f"{label} {record[key]:.4g}")
    print("  ".join(parts), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        module, function = SUBCOMMANDS[argv[0]]
        return getattr(importlib.import_module(module), function)(argv[1:])
    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main())
