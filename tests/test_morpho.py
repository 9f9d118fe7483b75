"""mnist5k-morpho: the morphometry on shapes with known measurements, the data set it labels, and the measures of
interventions scored by it, on engines whose right answers are known."""
import json
import math

import numpy as np
import pytest
import torch

from core import morphometry
from core.data import DataConfig, DataError, load_data
from core.data import morpho as morpho_data
from core.labels import BINARY, LabelSpec
from core.morpho_measures import MorphoMeasureError, check_attributes, flat, morphology_measures

SIDE = 28


def bar(width: int, length: int = 20, shear: float = 0.0, top: int = 4, left: int = 10) -> np.ndarray:
    """A vertical bar of the given width and length; with shear s the row r rows above the bottom is shifted
    s * r pixels to the right (a right-leaning stroke for s > 0)."""
    img = np.zeros((SIDE, SIDE), np.float32)
    for r in range(length):
        shift = int(round(shear * (length - 1 - r)))
        img[top + r, left + shift:left + shift + width] = 1.0
    return img


def cross(width: int) -> np.ndarray:
    """A '+' of two 20-pixel strokes: its box is 20 x 20 whatever the stroke width."""
    img = np.zeros((SIDE, SIDE), np.float32)
    lo = 14 - width // 2
    img[4:24, lo:lo + width] = 1.0
    img[lo:lo + width, 4:24] = 1.0
    return img


# ---------------------------------------------------------------------------------------------------- morphometry

def test_bars_have_their_width_length_and_area():
    m = morphometry.measure(np.stack([bar(w) for w in (1, 2, 3, 4, 5)]))
    assert np.allclose(m["thickness"], [1, 2, 3, 4, 5], atol=0.1)  # the end correction recovers the stroke width
    assert np.allclose(m["width"], [1, 2, 3, 4, 5]) and np.allclose(m["height"], 20)
    assert np.allclose(m["area"], [20, 40, 60, 80, 100])
    assert np.allclose(m["slant"], 0, atol=1e-9)


def test_rectangles_ring_and_grey_levels():
    ring = np.zeros((SIDE, SIDE), np.float32)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    ring[(np.hypot(yy - 14, xx - 14) >= 6) & (np.hypot(yy - 14, xx - 14) < 9)] = 1
    box = np.zeros((SIDE, SIDE), np.float32)
    box[5:12, 3:20] = 1  # 7 rows, 17 columns
    faint = box.copy()
    faint[4, 3:20] = 0.3   # a faint row above: not ink, but it extends the box by its grey level
    m = morphometry.measure(np.stack([ring, box, faint]))
    assert 2.4 < m["thickness"][0] < 3.2  # a closed ring of width 3: no ends, area / skeleton length
    assert (m["width"][1], m["height"][1], m["area"][1]) == (17, 7, 7 * 17)
    assert m["height"][2] == pytest.approx(7.3) and m["area"][2] == 7 * 17  # faint pixels are not ink
    # uint8 and float input agree; [N, 1, H, W] torch tensors too
    as_uint8 = morphometry.measure((np.stack([ring, box]) * 255).astype(np.uint8))
    as_torch = morphometry.measure(torch.from_numpy(np.stack([ring, box])).unsqueeze(1))
    for k in morphometry.MEASUREMENTS:
        assert np.allclose(as_uint8[k], m[k][:2]) and np.allclose(as_torch[k], m[k][:2])


def test_slant_sign_and_size():
    shears = (-0.5, -0.25, 0.0, 0.25, 0.5)
    m = morphometry.measure(np.stack([bar(3, shear=s, left=8) for s in shears]))
    assert np.all(np.diff(m["slant"]) > 0) and m["slant"][2] == pytest.approx(0, abs=1e-9)
    for s, got in zip(shears, m["slant"]):  # a shear of s pixels per row leans atan(s) from upright
        assert got == pytest.approx(math.degrees(math.atan(s)), abs=2.5)
    assert m["slant"][4] > 20  # leaning right is positive


def test_blank_images_raise_or_give_nan():
    images = np.stack([bar(2), np.zeros((SIDE, SIDE)), np.full((SIDE, SIDE), 0.2)])
    with pytest.raises(morphometry.BlankImageError, match=r"2 blank image\(s\).*index 1, 2"):
        morphometry.measure(images)
    m = morphometry.measure(images, blank="nan")
    for k in morphometry.MEASUREMENTS:
        assert not np.isnan(m[k][0]) and np.isnan(m[k][1:]).all()


# ------------------------------------------------------------------------------------------------------ data set

def test_morpho_dataset_is_balanced_cached_and_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("CCVAE_CACHE_DIR", str(tmp_path))
    s = load_data(DataConfig(dataset="mnist5k-morpho", sup_frac=0.5))
    assert s.label_spec == LabelSpec(BINARY, ("thick", "slanted", "wide", "tall", "large"))
    assert (len(s.train), len(s.val), len(s.test)) == (4000, 500, 500) and s.image_shape == (1, 28, 28)
    share = s.train.labels.mean(0)
    assert torch.all((share - 0.5).abs() <= 0.01), share  # median thresholds: balanced on the training split
    assert torch.all((s.test.labels.mean(0) - 0.5).abs() < 0.1)
    cached = list(tmp_path.glob("morphometry-*.npz"))
    assert len(cached) == 1
    table = morpho_data.morpho_table()
    # the labels are the measurements cut at the training medians; the images are mnist5k's, in its split
    digits = load_data(DataConfig(dataset="mnist5k"))
    assert torch.equal(s.test.get_batch(range(500))[0], digits.test.get_batch(range(500))[0])
    assert np.array_equal(table.attributes()[table.test], s.test.labels.numpy())
    x = s.test.get_batch(range(20))[0]
    direct = morphometry.as_matrix(morphometry.measure(x))[:, [morphometry.MEASUREMENTS.index(m) for _, m in
                                                                 morpho_data.ATTRIBUTES]]
    assert np.allclose(direct, table.measurements[table.test[:20]])
    # a damaged cache is recomputed to the same values
    whole = cached[0].read_bytes()
    for damaged in (b"not an npz", whole[:200]):  # a foreign file, and a cut-off one (a broken zip)
        cached[0].write_bytes(damaged)
        again = morpho_data.morpho_table()
        assert np.array_equal(again.measurements, table.measurements)
    assert np.load(cached[0])["measurements"].shape == (5000, 5)


def test_blank_digit_in_the_data_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CCVAE_CACHE_DIR", str(tmp_path))
    with np.load(morpho_data.ASSET_PATH) as a:
        images, labels = a["images"].copy(), a["labels"].copy()
    images[7] = 0
    path = tmp_path / "digits.npz"
    np.savez(path, images=images, labels=labels)
    with pytest.raises(DataError, match="mnist5k-morpho: 1 blank image.*index 7"):
        morpho_data.load_mnist5k_morpho(path)


# ------------------------------------------------------------------------------------------------------ measures

class CrossEngine:
    """A known model: 5 attributes, one z_c dimension each, priors N(+-1, 0.5); its decoder draws a '+' whose
    stroke is 4 px wide when z_c[0] > 0 (thin = 2 px; ``reverse`` swaps them), ignores every other dimension and
    the style, and draws nothing at all when z_c[4] > ``blank_above``."""

    label_spec = morpho_data.MORPHO_SPEC
    zc_dim, style_dim = 5, 2

    def __init__(self, z_c: torch.Tensor, reverse: bool = False, blank_above: float = math.inf):
        self.z_c, self.reverse, self.blank_above = z_c.float(), reverse, blank_above
        self.model = type("M", (), {"label_prior": torch.full((5,), 0.5)})()

    def encode(self, images):
        n = len(images)
        return type("E", (), {"z_c": self.z_c[:n].clone(), "z_style": torch.zeros(n, self.style_dim)})()

    def decode(self, z_c, z_style):
        out = []
        for z in torch.as_tensor(z_c):
            thick = bool(z[0] > 0) != self.reverse
            img = np.zeros((SIDE, SIDE), np.float32) if z[4] > self.blank_above else cross(4 if thick else 2)
            out.append(img)
        return torch.from_numpy(np.stack(out)).unsqueeze(1)

    def predict(self, z_c):
        return (torch.as_tensor(z_c) > 0).float()

    def prior(self, y):
        y = torch.as_tensor(y).float()
        return 2 * y - 1, torch.full_like(y, 0.5)

    def swap_label(self, z_c, y_from, y_to):
        (lf, sf), (lt, st) = self.prior(y_from), self.prior(y_to)
        return lt + st * (z_c - lf) / sf


class ConstantJudge:
    def __call__(self, images):
        probs = torch.zeros(len(images), 10)
        probs[:, 3] = 1
        return probs


def _table():
    return morpho_data.morpho_table()


def test_flips_scored_against_known_answers():
    table = _table()
    signs = torch.tensor([[-1, 1, -1, 1, -1], [1, -1, 1, -1, -1], [-1, -1, 1, 1, -1], [1, 1, -1, -1, -1]])
    engine = CrossEngine(signs.float())
    images = torch.zeros(4, 1, SIDE, SIDE)
    stats = (torch.full((2, 5), -1.0).index_fill(0, torch.tensor([1]), 1.0), torch.full((2, 5), 0.5))
    result = morphology_measures(engine, images, table, ConstantJudge(), stats, per_value=8)
    thin, thick = (morphometry.measure(cross(w)[None]) for w in (2, 4))
    gap = float(thick["thickness"][0] - thin["thickness"][0])
    for method in ("prior", "stats", "gen"):
        r = result[method]
        # thick: every flip moves the stroke width the way asked, by the gap between the two crosses
        assert r["moved"][0] == 1.0 and r["shift"][0] == pytest.approx(gap)
        assert r["shift_sd"][0] == pytest.approx(gap / table.spread[0])
        # the decoder ignores the other attributes: nothing moves, in either direction
        assert r["moved"][1:] == [0.0] * 4 and np.allclose(r["shift"][1:], 0)
        # the box of a '+' stays 20 x 20 and upright; only area follows the stroke width
        area_gap = float(thick["area"][0] - thin["area"][0])
        assert r["others_sd"][0] == pytest.approx(area_gap / table.spread[4] / 4)
        assert r["class_kept"] == [1.0] * 5 and r["blank"] == [0.0] * 5
    assert result["prior"]["landed"][0] == 1.0  # 2 px and 4 px crosses lie either side of the 2.2 px median
    # a '+' is 20 px wide (above the 15.3 px median): "wide" lands exactly when it was asked to switch on
    asked_wide = 1 - signs[:, 2].gt(0).float()
    assert result["prior"]["landed"][2] == pytest.approx(float(asked_wide.mean()))
    f = flat(result)
    assert f["morpho_moved_stats"] == pytest.approx(0.2) and len(f["morpho_moved_gen_per_attribute"]) == 5
    assert json.loads(json.dumps(f)) == f


def test_flips_the_wrong_way_and_blank_pictures_count_as_failures():
    table = _table()
    z = torch.tensor([[-1.0, 0, 0, 0, -1], [1.0, 0, 0, 0, -1]])
    reverse = morphology_measures(CrossEngine(z, reverse=True), torch.zeros(2, 1, SIDE, SIDE), table, None, None,
                                  per_value=4)
    assert reverse["prior"]["moved"][0] == 0.0 and reverse["prior"]["shift"][0] < 0
    assert reverse["gen"]["moved"][0] == 0.0 and math.isnan(reverse["prior"]["class_kept"][0])
    assert "stats" not in reverse
    # flipping "large" on for the first image moves z_c[4] to +1: the decoder draws nothing
    blank = morphology_measures(CrossEngine(z, blank_above=0.0), torch.zeros(2, 1, SIDE, SIDE), table, None,
                                None, per_value=4)
    assert blank["prior"]["blank"][4] == 1.0 and blank["prior"]["moved"][4] == 0.0
    assert blank["prior"]["landed"][4] == 0.0 and blank["prior"]["blank"][0] == 0.0


def test_a_model_with_other_labels_is_refused():
    engine = CrossEngine(torch.zeros(1, 5))
    engine.label_spec = LabelSpec(BINARY, ("thick", "slanted", "wide", "large", "tall"))  # columns reordered
    with pytest.raises(MorphoMeasureError, match="not the morphology attributes"):
        check_attributes(engine)


# ------------------------------------------------------------------------------------ a run, a study, bad input

@pytest.fixture
def quick_measures(tmp_path, monkeypatch):
    """A fresh cache folder, a one-epoch digit judge on 500 images and fewer measured images, so a run's end
    stays quick; everything else is the real thing."""
    from core import morpho_measures
    from core.judge import JudgeSettings

    monkeypatch.setenv("CCVAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(morpho_measures, "DIGIT_JUDGE_SETTINGS", JudgeSettings(epochs=1, max_train_images=500))
    monkeypatch.setattr(morpho_measures, "SUMMARY_IMAGES", 24)
    monkeypatch.setattr(morpho_measures, "SUMMARY_PER_VALUE", 6)


def test_a_morpho_run_and_study_report_the_measures(tmp_path, quick_measures):
    from core.study import StudyConfig, run_study
    from core.study.grid import study_run_config

    run = study_run_config({"dataset": "mnist5k-morpho"}, objective={"num_qyx_samples": 10},
                           train=dict(epochs=1, batch_size=32, device="cpu", make_figures=False, limit_train=96))
    study = StudyConfig(run=run, betas=(1.0,), latent_dims=(8,), measure_images=8, gen_per_label=4, judge_epochs=1,
                        judge_images=500)
    report = run_study(tmp_path / "study", study)
    cell = tmp_path / "study" / "cells" / "beta1_z8_sup1"
    summary = json.loads((cell / "summary.json").read_text())
    morph = json.loads((cell / "morphology.json").read_text())
    assert morph["images"] == 24 and morph["attributes"] == ["thick", "slanted", "wide", "tall", "large"]
    for method in ("prior", "stats", "gen"):
        head = summary["morphology"][method]
        assert set(head) == {"moved", "landed", "shift", "shift_sd", "others_sd", "class_kept", "blank"}
        assert 0 <= head["moved"] <= 1 and 0 <= head["class_kept"] <= 1
        assert len(morph[method]["effect"]) == 5 and len(morph[method]["effect"][0]) == 5
    assert list((tmp_path / "cache" / "judges").iterdir())  # the digit judge is cached for the next run
    (row,) = report["rows"]
    assert row["morpho_moved_stats"] == pytest.approx(np.mean(morph["stats"]["moved"]))
    assert len(row["details"]["morpho_shift_stats_per_attribute"]) == 5
    md = (tmp_path / "study" / "report.md").read_text()
    assert "## Interventions measured by the morphometry" in md and "| beta1_z8_sup1 | " in md
    assert "thick: moved, thickness (px)" in md


def test_resume_with_an_attribute_csv_whose_columns_changed_fails_and_keeps_the_run(tmp_path, capsys):
    import train_cli
    from PIL import Image

    with np.load(morpho_data.ASSET_PATH) as a:
        images = a["images"][:40]
    rows = []
    for i, img in enumerate(images):
        Image.fromarray(img).save(tmp_path / f"d{i}.png")
        rows.append(f"d{i}.png,{i % 2},{(i // 2) % 2}")
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("file,thick,wide\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    argv = ["--dataset", "folder", "--data-dir", str(tmp_path), "--epochs", "1", "--latent-dim", "6",
            "--threads", "1", "--no-maps", "--no-figures", "--quiet", "--out", str(out)]
    assert train_cli.main(argv) == 0
    saved = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    csv_path.write_text("file,thick,slanted\n" + "\n".join(rows) + "\n")  # a column renamed
    capsys.readouterr()
    assert train_cli.main(argv[:-2] + ["--resume", "--epochs", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the data's labels (binary: thick, slanted) do not match "
                                               "the run's (binary: thick, wide)")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == saved  # nothing lost or rewritten


def test_the_bundled_morpho_model_flips_what_it_is_asked_to():
    from core.assets import MORPHO_RUN
    from core.inference import Engine

    engine = Engine.from_run(MORPHO_RUN)
    check_attributes(engine)  # its labels are the morphology attributes, in order
    table = _table()
    x = load_data(DataConfig(dataset="mnist5k-morpho")).test.get_batch(range(0, 500, 12))[0]
    result = morphology_measures(engine, x, table, None, None, per_value=12)
    for method in ("prior", "gen"):
        assert min(result[method]["moved"]) >= 0.8, result[method]["moved"]  # every attribute, the way asked
        assert min(result[method]["shift"]) > 0
    shipped = json.loads((MORPHO_RUN / "morphology.json").read_text())
    assert shipped["headline"]["stats"]["moved"] > 0.9
