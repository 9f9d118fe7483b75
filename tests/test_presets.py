"""One definition of each default (core.presets) and one base for every user-facing error (core.errors)."""
import argparse

import numpy as np
import pytest
from PIL import Image

import train_cli
from core.config import ModelConfig
from core.data import DATASET_NAMES
from core.errors import CCVAEError, ConfigError
from core.presets import PRESETS, default_value, run_config
from core.run import prepare
from core.likelihood import default_likelihood


def _train_args(*argv):
    parser = argparse.ArgumentParser()
    train_cli._add_train_arguments(parser)
    return parser.parse_args(["--out", "unused", *argv])


def test_the_training_command_line_starts_from_the_data_sets_preset():
    celeba = train_cli.config_from_args(_train_args("--dataset", "celeba", "--data-dir", "x"))
    assert (celeba.model.latent_dim, celeba.train.batch_size, celeba.train.lr) == (45, 200, 1e-4)
    digits = train_cli.config_from_args(_train_args())
    assert (digits.model.latent_dim, digits.train.batch_size, digits.train.lr) == (16, 64, 1e-3)
    mine = train_cli.config_from_args(_train_args("--dataset", "celeba", "--lr", "3e-4", "--latent-dim", "50"))
    assert (mine.model.latent_dim, mine.train.batch_size, mine.train.lr) == (50, 200, 3e-4)  # given options win
    assert default_value("celeba", "train", "lr") == 1e-4 and default_value("mnist", "train", "lr") == 1e-3
    assert set(PRESETS) == set(DATASET_NAMES)


def test_the_data_settles_label_kind_zc_and_likelihood_without_mutation(tmp_path):
    folder = tmp_path / "rgb"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(24):
        Image.fromarray(rng.integers(0, 255, (28, 28, 3), dtype=np.uint8)).save(folder / f"{i}.png")
        rows.append(f"{i}.png,{'abc'[i % 3]}")
    (folder / "labels.csv").write_text("file,kind\n" + "\n".join(rows) + "\n")
    wanted = run_config({"dataset": "folder", "data_dir": str(folder)}, train={"epochs": 1})
    cfg, splits, _ = prepare(tmp_path / "run", wanted, resume=False)
    assert cfg.model.image_shape == tuple(splits.image_shape) and cfg.model.image_shape[0] == 3
    assert cfg.model.likelihood == default_likelihood(3) == "bernoulli"  # core.likelihood's rule (issue 13)
    assert cfg.model.label_spec.names == ("a", "b", "c") and cfg.model.zc_dim == 3
    assert wanted.model.label_spec is None and wanted.model.likelihood is None  # the caller's config is untouched
    given = run_config({"dataset": "folder", "data_dir": str(folder)}, model={"likelihood": "laplace"})
    assert prepare(tmp_path / "run2", given, resume=False)[0].model.likelihood == "laplace"


def test_every_error_shares_one_base_and_has_a_one_line_message():
    from core.checkpoint import CheckpointError
    from core.data import DataError
    from core.judge import JudgeError
    from core.run import RunError
    from core.study import StudyError
    from core.trainer import TrainingDiverged
    from explorer.rundata import RunOpenError

    for cls in (CheckpointError, DataError, JudgeError, RunError, StudyError, TrainingDiverged, RunOpenError,
                ConfigError):
        error = cls("first line\n  second\tline ")
        assert isinstance(error, CCVAEError) and str(error) == "first line second line", cls
        assert error.on_every_rank is False
    with pytest.raises(ConfigError, match="latent has 4"):
        ModelConfig(latent_dim=4, zc_dim=4)
    with pytest.raises(ConfigError, match="unknown data set 'nosuch'"):
        run_config({"dataset": "nosuch"})


def test_the_command_line_modules_never_import_qt():
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, train_cli, core.presets, core.errors, core.options, core.reencode, core.assets; "
            "train_cli._add_train_arguments(__import__('argparse').ArgumentParser()); "
            "bad = [m for m in sys.modules if m.startswith(('PyQt', 'pyqtgraph'))]; sys.exit(bool(bad))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
