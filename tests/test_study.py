"""The study end to end on a tiny grid (2 cells, 1 epoch, 90 images), its resume, its progress lines and its
command line."""
import csv
import json
from pathlib import Path

import pytest
from PIL import Image

import train_cli
from core import checkpoint as ckpt
from core.study import StudyConfig, StudyError, run_study
from core.study.cli import main as study_main
from core.study.grid import Cell, study_run_config
from core.study.runner import GridProgress, _cell_state
from study_fixtures import make_digits_folder, make_shapes_folder, tiny_study


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    return make_digits_folder(tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="module")
def finished(digits_folder, tmp_path_factory):
    from core.run import train_run

    out = tmp_path_factory.mktemp("study")
    calls, lines = [], []

    def counting_train(run_dir, cfg, **kw):
        calls.append((run_dir.name, kw["resume"]))
        return train_run(run_dir, cfg, **kw)

    report = run_study(out, tiny_study(digits_folder), log=lines.append, train=counting_train)
    return out, report, calls, lines


def test_tiny_grid_writes_cells_report_and_figures(finished):
    out, report, calls, lines = finished
    assert sorted(calls) == [("beta0.5_z8_sup1", False), ("beta1_z8_sup1", False)]
    for name in ("beta0.5_z8_sup1", "beta1_z8_sup1"):  # ordinary run folders
        for f in ("config.json", "model.pt", "summary.json", "metrics.jsonl", "measures.json"):
            assert (out / "cells" / name / f).is_file(), f
    assert (out / "judge" / "judge.pt").is_file() and (out / "judge" / "judge.json").is_file()
    rows = json.loads((out / "report.json").read_text())["rows"]
    assert [r["cell"] for r in rows] == ["beta0.5_z8_sup1", "beta1_z8_sup1"]
    for r in rows:
        for key in ("test_acc", "cond_gen_acc", "swap_success", "style_share", "style_pixel_share", "locality"):
            assert 0.0 <= r[key] <= 1.0, key
        assert r["recon_nll"] > 0 and r["train_seconds"] > 0
    with open(out / "report.csv") as f:
        table = list(csv.DictReader(f))
    assert [t["cell"] for t in table] == ["beta0.5_z8_sup1", "beta1_z8_sup1"] and "swap_success" in table[0]
    md = (out / "report.md").read_text()
    assert "| beta0.5_z8_sup1 | 0.5 | 8 |" in md and "Judge" in md
    columns = md.split("## What the columns measure")[1]  # multi-class wording, not the attributes' or morphometry's
    assert "accuracy of the CCVAE's own classifier" in columns and "per-attribute" not in columns
    assert "thickness" not in columns
    for fig in ("reconstructions", "generations", "interpolations", "interpolations_zc", "label_swaps", "accuracy",
                "loss_train", "loss_val", "measures"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 1000, fig
        assert f"(figures/{fig}.png)" in md
    epoch_lines = [ln for ln in lines if ln.startswith("cell") and " epoch " in ln]
    assert epoch_lines[0].startswith("cell 1/2 (beta=0.5, latent=8)  epoch 1/1") and "ETA " in epoch_lines[0]


def test_second_invocation_does_not_retrain(finished, digits_folder):
    out, _, _, _ = finished
    models = sorted((out / "cells").glob("*/model.pt"))
    before = [p.stat().st_mtime_ns for p in models]
    measures_before = [p.stat().st_mtime_ns for p in sorted((out / "cells").glob("*/measures.json"))]
    lines = []
    report = run_study(out, tiny_study(digits_folder), log=lines.append,
                       train=lambda *a, **k: pytest.fail("a finished cell was retrained"))
    assert [p.stat().st_mtime_ns for p in models] == before
    assert [p.stat().st_mtime_ns for p in sorted((out / "cells").glob("*/measures.json"))] == measures_before
    assert sum(ln.startswith("cell") and "already trained" in ln for ln in lines) == 2 and len(report["rows"]) == 2
    assert report["cells_trained_now"] == 0
    history = [json.loads(l) for l in (out / "invocations.jsonl").read_text().splitlines()]
    assert [h["cells_trained"] for h in history] == [2, 0]
    assert "Earlier invocations that trained cells" in (out / "report.md").read_text()


def test_more_epochs_or_other_settings(finished, digits_folder):
    out, _, _, _ = finished
    cell = Cell(0.5, 8, 1.0)
    assert _cell_state(cell.run_dir(out), 1) == "done"
    assert _cell_state(cell.run_dir(out), 2) == "partial"  # asking for more epochs resumes the cell
    assert _cell_state(out / "cells" / "nothing", 1) == "new"
    with pytest.raises(StudyError, match="other settings .*lr"):
        run_study(out, tiny_study(digits_folder, lr=0.5), train=lambda *a, **k: pytest.fail("trained"))


def test_progress_line_and_eta():
    lines = []
    p = GridProgress(total_cells=3, epochs=2, print_line=lines.append)
    p.start_cell(1, Cell(0.05, 16, 1.0), False, epochs_left_after=4)
    p.on_epoch({"epoch": 1, "sup_loss": 120.5, "val_accuracy": 0.9})
    assert lines[0].startswith("cell 1/3 (beta=0.05, latent=16)  epoch 1/2  loss 120.5  val acc 0.9")
    assert lines[0].endswith("ETA 00:01")  # no epoch timed before this one; 3 cells x 10 s overhead guessed
    p.epoch_seconds = [600.0]  # ten minutes an epoch: 1 + 4 epochs left, plus 3 cells' overhead
    assert p.eta(1, 3) == pytest.approx(600 * 5 + 10 * 3)


@pytest.mark.parametrize("argv, message", [
    (["--betas", "-1"], "argument --betas: must be greater than 0, got -1"),
    (["--betas", "x"], "argument --betas: expected a number, got 'x'"),
    (["--dataset", "imagenet"], "unknown data set 'imagenet'"),
    (["--latent-dims", "1"], "argument --latent-dims: must be at least 2, got 1"),
    (["--latent-dims", "8", "--zc-dim", "8"], "latent size 8 leaves no style"),
    (["--sup-fracs", "1.5"], "argument --sup-fracs: must be in (0, 1], got 1.5"),
    (["--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["--lr", "0"], "argument --lr: must be greater than 0, got 0"),
    (["--betas", "0.1", "0.1"], "betas repeat a value"),
])
def test_bad_input_is_one_line_and_nonzero(argv, message, tmp_path, capsys):
    try:  # refused while parsing (argparse exits) or when the settings are checked (returns)
        code = train_cli.main(["study", "--out", str(tmp_path / "s"), *argv])
    except SystemExit as e:
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "s").exists()


def test_missing_data_folder_is_one_line(tmp_path, capsys):
    assert study_main(["--dataset", "folder", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "s"),
                       "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_cell_config_is_the_shared_run_config_plus_grid_values():
    study = StudyConfig(run=study_run_config(train={"epochs": 3}), betas=(0.2,), latent_dims=(128,), sup_fracs=(0.5,))
    cell = study.cells()[0]
    cfg = cell.run_config(study)
    assert (cfg.objective.beta, cfg.model.latent_dim, cfg.data["sup_frac"], cfg.train.epochs) == (0.2, 128, 0.5, 3)
    # the study's own defaults, then core.config's: nothing copied by hand
    assert (cfg.train.make_maps, cfg.train.threads, cfg.train.batch_size, cfg.train.lr) == (False, 1, 64, 1e-3)
    assert cfg.model.likelihood is None  # settled from the data's channels when the cell starts
    assert ckpt.RunConfig.from_json(cfg.to_json()).to_json() == cfg.to_json()
    assert [c.name for c in StudyConfig().cells()][:2] == ["beta0.001_z16_sup1", "beta0.05_z16_sup1"]
    assert len(StudyConfig().cells()) == 10


def test_a_celeba_study_trains_with_the_celeba_preset(tmp_path):
    from core.study.cli import build_parser, study_from_args

    args = build_parser().parse_args(["--dataset", "celeba", "--data-dir", str(tmp_path), "--out", str(tmp_path / "s")])
    cfg = study_from_args(args).cells()[0].run_config(study_from_args(args))
    assert (cfg.model.latent_dim, cfg.train.batch_size, cfg.train.lr) == (16, 200, 1e-4)  # z from the grid
    assert cfg.train.epochs == 15 and cfg.data["dataset"] == "celeba"
    args = build_parser().parse_args(["--dataset", "celeba", "--lr", "3e-4", "--out", str(tmp_path / "s")])
    assert study_from_args(args).run.train.lr == 3e-4  # a given option wins over the preset


def test_study_modules_never_import_qt():  # nor the study comparison's model (explorer.study_model)
    import subprocess
    import sys

    code = ("import sys, core.study.cli, core.study.runner, core.study.report, core.study.figures, core.judge, "
            "core.measures, core.study.folder, explorer.study_model; bad = [m for m in sys.modules if m.startswith(('PyQt', 'pyqtgraph'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parent.parent))


@pytest.fixture(scope="module")
def shapes_folder(tmp_path_factory):
    return make_shapes_folder(tmp_path_factory.mktemp("shapes"))


def test_binary_attribute_study_reports_the_judge_measures(shapes_folder, tmp_path):
    study = tiny_study(shapes_folder, betas=(1.0,), latent_dims=(8,), zc_dim=0, measure_images=8, gen_per_label=4)
    report = run_study(tmp_path / "study", study)
    assert report["label_kind"] == "binary" and not report.get("skipped")
    (row,) = json.loads((tmp_path / "study" / "report.json").read_text())["rows"]
    for key in ("cond_gen_acc", "swap_success", "swap_success_stats", "style_share", "style_pixel_share",
                "locality"):
        assert 0.0 <= row[key] <= 1.0, key
    assert "skipped" not in row
    details = row["details"]
    assert len(details["swap_per_target"]) == 3 and len(details["locality_per_attribute"]) == 3
    assert len(details["cond_gen_per_value"]) == 3 and all(len(p) == 2 for p in details["cond_gen_per_value"])
    md = (tmp_path / "study" / "report.md").read_text()
    assert "**Note:**" not in md and "Binary attributes" in md and "| beta1_z8_sup1 | 1 | 8 |" in md
    assert "n/a" not in md.split("## What the columns measure")[0]
    columns = md.split("## What the columns measure")[1]
    assert "attribute flips" in columns and "thickness" not in columns
    # the comparison figures of binary attributes: each on and off, each flipped, and the measures' chart
    figures = report["figures"]
    assert [Path(f).stem for f in figures[:3]] == ["reconstructions", "attribute_generations", "attribute_flips"]
    assert "figures/measures.png" in figures
    grids = {"attribute_generations": ("Conditional generations per attribute", 3, 2),  # 3 attributes, on / off
             "attribute_flips": ("Attribute flips", 5, 1)}  # the input, its reconstruction and its 3 flips
    for stem, (title, columns, rows) in grids.items():
        assert f"### {title}" in md
        with Image.open(tmp_path / "study" / "figures" / f"{stem}.png") as im:
            assert im.width > columns * 28 * 2 and im.height > rows * 28 * 2  # 28x28 pictures drawn twice their size
