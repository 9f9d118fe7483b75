"""`train_cli.py latents RUN`: a run trained with its data in one place is re-encoded with the data somewhere
else, with more points, and its maps refitted; bad input changes nothing."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

import train_cli
from core.latents import load_latents
from core.projection import load_maps, maps_cache_key


def _digits(folder, classes=(0, 1, 2), per_class=30):
    folder.mkdir(parents=True)
    with np.load("assets/mnist5k.npz") as archive:
        images, labels = archive["images"], archive["labels"]
    rows = []
    for cls in classes:
        for j, i in enumerate(np.flatnonzero(labels == cls)[:per_class]):
            Image.fromarray(images[i]).save(folder / f"d{cls}_{j}.png")
            rows.append(f"d{cls}_{j}.png,{cls}")
    (folder / "labels.csv").write_text("file,digit\n" + "\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def moved_run(tmp_path_factory):
    """A run trained on a digits folder (20 mapped points, no maps) whose folder then moved elsewhere."""
    root = tmp_path_factory.mktemp("elsewhere")
    trained_on = _digits(root / "there")
    run = root / "run"
    code = train_cli.main(["--dataset", "folder", "--data-dir", str(trained_on), "--out", str(run), "--epochs", "1",
                           "--map-points", "20", "--no-maps", "--no-figures", "--threads", "1", "--quiet",
                           "--latent-dim", "6"])
    assert code == 0 and len(load_latents(run)) == 20 and not (run / "maps.npz").exists()
    here = root / "here"
    shutil.move(str(trained_on), str(here))
    return run, here


def test_latents_reencodes_more_points_and_fits_their_maps(moved_run, capsys):
    run, here = moved_run
    model_before = (run / "model.pt").read_bytes()
    assert train_cli.main(["latents", str(run), "--data-dir", str(here), "--map-points", "60", "--quiet",
                           "--threads", "1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["points"] == 60 and summary["maps"] is True
    latents = load_latents(run)
    assert len(latents) == 60 and set(np.unique(latents.labels)) == {0, 1, 2}
    maps = load_maps(run / "maps.npz", expected_key=maps_cache_key(latents.z_c, latents.z_style, 0))
    assert maps is not None and maps.zc.shape == (60, 2) and np.isfinite(maps.style).all()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["data_dir"] == str(here.resolve()) and cfg["train"]["map_points"] == 60
    assert (run / "model.pt").read_bytes() == model_before  # the model is only read

    from explorer.rundata import RunData

    opened = RunData.open(run)  # the explorer finds the new maps without refitting
    assert opened.maps is not None and len(opened.latents) == 60


@pytest.mark.parametrize("make_args, message", [
    (lambda run, tmp: ["--data-dir", str(tmp / "nowhere")], "nowhere"),
    (lambda run, tmp: ["--data-dir", str(_digits(tmp / "other", classes=(3, 4, 5)))], "do not match the run's"),
    (lambda run, tmp: ["--map-points", "0"], "argument --map-points: must be at least 1, got 0"),
    (lambda run, tmp: [], None),  # replaced below: a folder that is no run
])
def test_bad_input_is_one_line_and_keeps_the_run(moved_run, tmp_path, capsys, make_args, message):
    run, _ = moved_run
    target = run
    args = make_args(run, tmp_path)
    if message is None:
        target, message = tmp_path, "not a run folder"
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    try:
        code = train_cli.main(["latents", str(target), "--quiet", *args])
    except SystemExit as e:
        code = e.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
