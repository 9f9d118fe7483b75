"""Where the files shipped in ``assets/`` are (the embedded digits, the default run).

``assets`` is a package of its own beside ``core`` and ``explorer``, so a wheel carries it as package data
(pyproject.toml). In a source checkout and in an installed wheel alike it sits next to ``core/``; the package is
also looked up through ``importlib.resources`` for installs that place packages elsewhere. A candidate counts
only if it holds the embedded digits, so an unrelated folder or package named ``assets`` is never taken.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

_MARKER = "mnist5k.npz"  # present in every copy of our assets


def _find_assets() -> Path:
    beside_core = Path(__file__).resolve().parent.parent / "assets"
    candidates = [beside_core]
    try:
        candidates.append(Path(str(resources.files("assets"))))
    except (ModuleNotFoundError, TypeError):  # not importable: e.g. a checkout run through an older editable install
        pass
    for folder in candidates:
        if (folder / _MARKER).is_file():
            return folder
    return beside_core  # missing: the loaders name this path in their one-line error


ASSETS = _find_assets()
DEFAULT_RUN = ASSETS / "default_run"   # the model the explorer opens when given no run folder
MNIST5K = ASSETS / "mnist5k.npz"       # the embedded data set
MORPHO_RUN = ASSETS / "morpho_run"     # a model of the same digits' binary shape attributes (mnist5k-morpho)
