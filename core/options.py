"""Command-line pieces shared by ``train_cli.py`` and its subcommands: a parser whose errors are one line, and
argument types that refuse nonsense numbers when they are parsed (before any folder is written).

    p = OneLineParser(prog="ccvae-train")
    p.add_argument("--epochs", type=at_least(1))        # --epochs -1 -> "error: argument --epochs: must be ..."
"""
from __future__ import annotations

import argparse
import math
import os
import sys


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments give one line (``error: ...``) and exit status 2, not the usage block."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # given_options reads the option names as typed
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} -h)\n")


def given_options(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The ``dest`` of every option that ``argv`` names (``--opt VALUE`` or ``--opt=VALUE``): what the user
    asked for, as opposed to a default."""
    typed = {arg.split("=", 1)[0] for arg in argv if arg.startswith("-")}
    return {a.dest for a in parser._actions if typed.intersection(a.option_strings)}


def _number(text: str, kind):
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def at_least(low: int):
    """An integer >= low."""
    def parse(text: str) -> int:
        value = _number(text, int)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def positive(text: str) -> float:
    """A number > 0 (learning rates, their scales)."""
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def non_negative(text: str) -> float:
    """A number >= 0 (beta)."""
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def fraction(text: str) -> float:
    """A share in (0, 1]."""
    value = _number(text, float)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def fail(message: str) -> int:
    """Print one ``error:`` line; the exit status for bad input."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def finished_run_or_error(run: str, needs: tuple[str, ...]) -> str | None:
    """For subcommands that work on a finished run folder: None when ``run`` holds every file of ``needs``, else
    the one-line reason (which files are missing) for ``fail``."""
    missing = [name for name in needs if not os.path.isfile(os.path.join(run, name))]
    if not missing:
        return None
    if not os.path.isdir(run):
        return f"{run}: no such folder"
    return f"{run}: not a finished run folder (no {' or '.join(missing)})"


def set_threads(threads: int) -> None:
    """``--threads N``: torch's CPU threads; 0 keeps torch's default (all cores)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
