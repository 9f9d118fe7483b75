"""Train a Characteristic Capturing VAE.

    python train_cli.py --dataset mnist5k --out runs/demo
    python train_cli.py --dataset fashion-mnist --data-dir /usr/share/datasets/fashion-mnist --num-labels 1000 --out runs/fm
    python train_cli.py --resume --out runs/demo
    python train_cli.py latents runs/demo --map-points 20000          (re-encode a run, refit its maps)
    torchrun --standalone --nproc_per_node 2 train_cli.py --dataset mnist5k --out runs/ddp   (DDP; see README)

The last line printed is a JSON summary. This module never imports Qt.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.likelihood import LIKELIHOODS

SUBCOMMANDS = {"study": ("core.study.cli", "main"), "latents": ("core.reencode", "main"),
               "measure": ("core.run_measures", "main"), "refit-prior": ("core.prior_fit", "main")}  # name -> (module, function): extra commands such as `study`, registered below


# option dest -> (part of the RunConfig, field) it sets; ``True`` flags that switch a default off map to False
MODEL_OPTIONS = {"latent_dim": "latent_dim", "zc_dim": "zc_dim", "likelihood": "likelihood",
                 "laplace_scale": "likelihood_scale"}
OBJECTIVE_OPTIONS = {"beta": "beta", "qyx_samples": "num_qyx_samples"}
TRAIN_OPTIONS = {name: name for name in ("epochs", "batch_size", "lr", "prior_lr_scale", "classifier_lr_scale",
                                         "lr_schedule", "prior_refit", "seed", "device", "threads", "limit_train",
                                         "map_points", "measure")}
TRAIN_FLAGS = {"no_amp": "amp", "no_maps": "make_maps", "no_figures": "make_figures"}
DATA_OPTIONS = {"sup_frac": "sup_frac", "num_labels": "num_labels", "workers": "num_workers"}


def _default(part: str, name: str) -> str:
    """Help text for a default that the data set's preset may change (core.presets)."""
    from core.presets import default_value

    general, celeba = default_value("mnist5k", part, name), default_value("celeba", part, name)
    return f"default {general:g}" + (f"; {celeba:g} for celeba" if celeba != general else "")


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    from core.data.config import add_source_arguments
    from core.options import at_least, fraction, non_negative, positive

    # defaults are None: the run's settings come from core.presets, and an option counts only when given
    d = p.add_argument_group("data")
    add_source_arguments(d)
    labels = d.add_mutually_exclusive_group()
    labels.add_argument("--sup-frac", type=fraction, help="share of training images that keep their label, in (0, 1] (default 1)")
    labels.add_argument("--num-labels", type=at_least(1), help="number of training images that keep their label")
    d.add_argument("--workers", type=at_least(0), help="DataLoader workers for file-backed data sets (default 0)")
    m = p.add_argument_group("model")
    m.add_argument("--latent-dim", type=at_least(2), help=f"size of z = [z_c, style] ({_default('model', 'latent_dim')})")
    m.add_argument("--zc-dim", type=at_least(0), help="size of z_c for a multi-class label (default: one per class; binary: one per attribute)")
    m.add_argument("--likelihood", choices=LIKELIHOODS,
                   help="p(x|z) of the decoder (default: bernoulli, see README); laplace is the CCVAE authors' "
                        "CelebA setting (fixed scale, --laplace-scale)")
    m.add_argument("--laplace-scale", type=positive, help="the fixed scale of --likelihood laplace (default 1, the authors' value)")
    m.add_argument("--beta", type=non_negative, help=f"weight of the latent terms ({_default('objective', 'beta')}: the paper's objective)")
    m.add_argument("--qyx-samples", type=at_least(1), help=f"K samples in the estimate of q(y|x) ({_default('objective', 'num_qyx_samples')})")
    t = p.add_argument_group("training")
    t.add_argument("--out", required=True, help="run folder to write (or to continue with --resume)")
    t.add_argument("--epochs", type=at_least(1), help=f"({_default('train', 'epochs')})")
    t.add_argument("--batch-size", type=at_least(1), help=f"per process under torchrun (effective batch = this x processes); {_default('train', 'batch_size')}")
    t.add_argument("--lr", type=positive, help=f"Adam learning rate ({_default('train', 'lr')})")
    t.add_argument("--prior-lr-scale", type=positive,
                   help=f"the conditional prior p(z_c|y) learns this many times faster than the networks ({_default('train', 'prior_lr_scale')})")
    t.add_argument("--classifier-lr-scale", type=positive,
                   help=f"the classifier q(y|z_c) learns this many times faster than the networks ({_default('train', 'classifier_lr_scale')})")
    t.add_argument("--lr-schedule", choices=("constant", "cosine"),
                   help="learning rate over the run: constant (default), or cosine decay to 0 by the last epoch")
    t.add_argument("--prior-refit", choices=("end", "epoch", "none"),
                   help="end (default): after the last epoch set p(z_c|y) to the objective's exact optimum for the "
                   "trained encoder, so label swaps land; epoch: after every epoch; none: gradient steps only")
    t.add_argument("--seed", type=at_least(0), help="fixes the labelled subset, the splits of a folder and the initial weights (default 0)")
    t.add_argument("--device", help="auto (CUDA when present; the default), cpu, cuda, cuda:N")
    t.add_argument("--no-amp", action="store_true", help="no bfloat16 autocast (used on CUDA and on CPUs with native bf16)")
    t.add_argument("--threads", type=at_least(0), help="CPU threads for torch (default 0: all cores; 1 can be faster on a busy machine)")
    t.add_argument("--limit-train", type=at_least(0), help="train on at most N labelled and N unlabelled images (quick smoke runs; default 0: all)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last complete epoch "
                   f"(may change only: {_option_list(resumable_options())})")
    t.add_argument("--map-points", type=at_least(1), help=f"evaluation images given latents and 2-D maps ({_default('train', 'map_points')})")
    t.add_argument("--no-maps", action="store_true", help="skip the UMAP maps (the explorer computes them when opened)")
    t.add_argument("--no-figures", action="store_true")
    t.add_argument("--measure", action="store_true", default=None, help="after training, measure label swaps, "
                   "conditional generations and style with the judge (trained once per data set and cached) into "
                   "summary.json")
    t.add_argument("--quiet", action="store_true", help="no progress bar")


def resumable_options() -> tuple[str, ...]:
    """What --resume may change: the options of core.run.RESUMABLE_TRAIN_FIELDS, and the loader workers."""
    from core.run import RESUMABLE_TRAIN_FIELDS

    option_of = {**{f: o for o, f in TRAIN_OPTIONS.items()}, **{f: o for o, f in TRAIN_FLAGS.items()}}
    return tuple(option_of[f] for f in RESUMABLE_TRAIN_FIELDS if f in option_of) + ("workers",)


def _option_list(options) -> str:
    return ", ".join("--" + o.replace("_", "-") for o in options)


def _given_settings(args, given: set[str]) -> dict[str, dict]:
    """The RunConfig fields the given options set, per part ("model", "objective", "train", "data")."""
    from core.data import source_settings

    parts: dict[str, dict] = {"model": {}, "objective": {}, "train": {}, "data": {}}
    for table, part in ((MODEL_OPTIONS, "model"), (OBJECTIVE_OPTIONS, "objective"), (TRAIN_OPTIONS, "train"),
                        (DATA_OPTIONS, "data")):
        for dest, name in table.items():
            if dest in given and getattr(args, dest) is not None:
                parts[part][name] = getattr(args, dest)
    for dest, name in TRAIN_FLAGS.items():
        if getattr(args, dest):
            parts["train"][name] = False
    for name, value in source_settings(args).items():
        if name in given or name == "dataset":
            parts["data"][name] = value
    if "seed" in parts["train"]:
        parts["data"]["seed"] = parts["train"]["seed"]  # one seed: the labelled subset and the folder's split too
    return parts


def config_from_args(args, given: set[str] | None = None):
    """The RunConfig of a new run: the data set's preset (core.presets) with the given options on top."""
    from core.errors import ConfigError
    from core.presets import run_config

    given = given if given is not None else {k for k, v in vars(args).items() if v is not None}
    parts = _given_settings(args, given)
    cfg = run_config(parts["data"], model=parts["model"], objective=parts["objective"], train=parts["train"])
    zc = cfg.model.zc_dim
    if zc and cfg.model.latent_dim <= zc:
        raise ConfigError(f"--latent-dim {cfg.model.latent_dim} leaves no style: it must be at least --zc-dim + 1 = {zc + 1}")
    return cfg


def resume_config_from_args(run_dir: Path, args, given: set[str]):
    """The stored RunConfig of ``run_dir`` with the options --resume may change applied; ConfigError naming the
    first given option that contradicts config.json."""
    import dataclasses

    from core import checkpoint as ckpt
    from core.errors import ConfigError
    from core.run import RunError

    if not (run_dir / ckpt.CONFIG_FILE).exists():
        raise RunError(f"{run_dir}: nothing to resume (no {ckpt.CONFIG_FILE}); start it without --resume")
    stored = ckpt.load_config(run_dir)
    parts = _given_settings(args, given)
    if "dataset" not in given:
        parts["data"].pop("dataset")
    option_of = {**{v: k for k, v in {**MODEL_OPTIONS, **OBJECTIVE_OPTIONS, **TRAIN_OPTIONS, **DATA_OPTIONS}.items()},
                 **{v: k for k, v in TRAIN_FLAGS.items()}}
    changes: dict[str, dict] = {"train": {}, "data": {}}
    resumable = resumable_options()
    for part, fields in parts.items():
        for name, value in fields.items():
            option = option_of.get(name, name)
            if option in resumable:
                changes[part][name] = value
                continue
            have = stored.data.get(name) if part == "data" else getattr(getattr(stored, part), name)
            if name == "zc_dim" and value == 0:
                continue  # "the default": whatever z_c's size the run settled on
            if name in ("data_dir", "labels_csv") and value is not None and have is not None:
                value, have = str(Path(value).resolve()), str(Path(have).resolve())
            if value != have:
                raise ConfigError(f"--resume: --{option.replace('_', '-')} {value} contradicts the run's "
                                  f"{ckpt.CONFIG_FILE} ({have}); --resume may change only "
                                  + _option_list(resumable))
    return dataclasses.replace(stored, train=dataclasses.replace(stored.train, **changes["train"]),
                               data={**stored.data, **changes["data"]})


def _fail(message: str) -> int:
    from core.options import fail

    return fail(message)


def train_main(argv: list[str]) -> int:
    from core.options import OneLineParser, given_options

    parser = OneLineParser(prog="ccvae-train", description=__doc__.split("\n\n")[0],
                           epilog=f"other commands: {', '.join(sorted(SUBCOMMANDS))} (ccvae-train COMMAND -h)")
    _add_train_arguments(parser)
    args = parser.parse_args(argv)
    given = given_options(parser, argv)

    from core import distributed
    from core.errors import CCVAEError
    from core.run import train_run

    try:
        cfg = resume_config_from_args(Path(args.out), args, given) if args.resume else config_from_args(args, given)
    except CCVAEError as e:  # settings that contradict each other: before any process group or folder
        return _fail(str(e))
    try:
        group = distributed.init_from_env()  # under torchrun: join the other processes; else one process
    except (RuntimeError, ValueError) as e:
        return _fail(f"cannot join the torchrun process group: {e}")
    quiet = args.quiet or not group.is_main  # under torchrun only rank 0 reports; the others print only errors
    log = (lambda msg: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    try:
        summary = train_run(Path(args.out), cfg, resume=args.resume, progress=not quiet, log=log,
                            on_epoch=None if quiet else _print_epoch, group=group)
    except CCVAEError as e:
        return _fail(str(e)) if distributed.reports_error(group, e) else 2
    except KeyboardInterrupt:
        if not group.is_main:
            return 2
        return _fail(f"interrupted; the last complete epoch is saved in {args.out} (continue with --resume)")
    finally:
        distributed.shutdown()
    if group.is_main:
        from core.reconstruction import reconstruction_warning

        warning = reconstruction_warning(summary, summary.get("likelihood"))  # the run's own (--resume keeps it)
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
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
