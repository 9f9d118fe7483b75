"""Warnings raised by libraries (umap-learn, numba, scipy, torch) while a run is finished: recorded in the run
folder instead of reaching the terminal, each with what it means for the run.

    with recorded_warnings() as caught:
        ...                                   # fit maps, draw figures
    lines = save_warnings(run_dir, caught)    # appends to RUN/warnings.log; returns one line per kind
"""
from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path

WARNINGS_FILE = "warnings.log"

# (text the warning contains, what it means for this run); the first match wins
MEANINGS = (
    ("random initiali",
     "UMAP's spectral start failed (the latents form tight, well separated groups), so the map was laid out "
     "from a random start: the groups are still drawn apart, but the distances between them mean less"),
    ("not fully connected",
     "some latents have no near neighbours in common with the rest, so UMAP draws them as separate islands"),
    ("disconnected",
     "some latents are far from every other, so UMAP placed them without neighbours; they may sit apart"),
    ("overridden to 1 by setting random_state",
     "UMAP ran on one thread because the map is seeded, which makes it reproducible"),
)


def meaning(message: str, category: str = "", source: str = "") -> str:
    """What a library warning means for the run, in one sentence."""
    for needle, text in MEANINGS:
        if needle in message:
            return text
    origin = source.split(".")[0] or "a library"
    return f"{category or 'a warning'} from {origin}; the run's outputs were still written"


@contextlib.contextmanager
def recorded_warnings():
    """Record the warnings raised inside the block instead of printing them; yields the list of records. The
    filters in force stay, so what Python hides anyway (ImportWarning, most DeprecationWarnings) stays hidden."""
    with warnings.catch_warnings(record=True) as caught:
        yield caught


def save_warnings(run_dir: str | Path, caught, phase: str = "finish") -> list[str]:
    """Append the caught warnings to RUN/warnings.log, each with its meaning; return one short line per distinct
    meaning (with how often it occurred) for the terminal. No file is written when nothing was caught."""
    if not caught:
        return []
    entries, counts = [], {}
    for w in caught:
        text = " ".join(str(w.message).split())  # umap's messages span several lines
        category = w.category.__name__
        source = _module_of(w.filename)
        why = meaning(text, category, source)
        counts[why] = counts.get(why, 0) + 1
        entries.append(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {phase}: {category} from {source} "
                       f"({Path(w.filename).name}:{w.lineno}): {text}\n    meaning: {why}\n")
    path = Path(run_dir) / WARNINGS_FILE
    with open(path, "a", encoding="utf-8") as f:  # a log: appended, as resumed runs finish again
        f.writelines(entries)
    return [f"{why}{f' ({n}x)' if n > 1 else ''}" for why, n in counts.items()]


def _module_of(filename: str) -> str:
    """The top package a warning came from, e.g. umap for .../site-packages/umap/spectral.py."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1:]
        return rest[0].removesuffix(".py") if rest else filename
    return Path(filename).stem
