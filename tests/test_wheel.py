"""The project as users install it: build a wheel, install it outside the checkout, and run both commands from
another folder with nothing of the checkout on the path. The wheel must carry assets/ (the embedded digits and
the default run), or the explorer cannot open its default run and training cannot find mnist5k."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("core", "explorer", "assets", "train_cli.py", "pyproject.toml", "README.md")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site folder the wheel was installed into with pip --target, the wheel's file names)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"  # a copy, so the build leaves no build/ or egg-info in the checkout
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(base / "dist"), str(src)],
                   check=True, capture_output=True, text=True, timeout=300)
    (wheel,) = (base / "dist").glob("ccvae_explorer-*.whl")
    site = base / "site"
    subprocess.run([*pip, "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, text=True, timeout=300)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    return site, names


def _run(site, args, cwd, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), QT_QPA_PLATFORM="offscreen", CCVAE_CACHE_DIR=str(cwd / "cache"))
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_carries_the_top_level_layout_and_the_assets(installed):
    _, names = installed
    for name in ("train_cli.py", "core/__init__.py", "core/assets.py", "explorer/app.py", "assets/mnist5k.npz",
                 "assets/default_run/config.json", "assets/default_run/model.pt", "assets/default_run/latents.npz",
                 "assets/default_run/maps.npz", "assets/default_run/figures/loss.png", "assets/morpho_run/model.pt",
                 "assets/morpho_run/morphology.json", "assets/morpho_run/maps.npz"):
        assert name in names, name
    shipped = {str(p.relative_to(ROOT)) for p in (ROOT / "assets").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped <= names, sorted(shipped - names)  # every bundled file, whatever runs are added later
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_runs_from_another_folder(installed, tmp_path):
    site, _ = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # the code and its data come from the installed copy, not from the checkout
    where = _run(site, [sys.executable, "-c", "import core, explorer, train_cli; from core.assets import ASSETS; "
                        "print(core.__file__); print(explorer.__file__); print(ASSETS)"], elsewhere)
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert Path(line).resolve().is_relative_to(site.resolve()), line

    shot = elsewhere / "shot.png"
    proc = _run(site, [str(site / "bin" / "ccvae-explorer"), "--screenshot", str(shot), "--size", "1200x800"],
                elsewhere)
    assert proc.returncode == 0, proc.stderr
    image = np.asarray(Image.open(shot).convert("L"))
    assert image.shape == (800, 1200) and image.std() > 10  # a populated window, not a blank one

    proc = _run(site, [str(site / "bin" / "ccvae-train"), "--out", "run", "--epochs", "1", "--limit-train", "64",
                       "--map-points", "100", "--no-maps", "--no-figures", "--threads", "1", "--quiet"], elsewhere)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["dataset"] == "mnist5k" and summary["epochs"] == 1 and summary["test_images"] == 500
    assert (elsewhere / "run" / "model.pt").is_file() and (elsewhere / "run" / "latents.npz").is_file()
