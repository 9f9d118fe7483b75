"""The study's report: ``report.md`` (headline table, definitions, figures), ``report.json`` and ``report.csv``."""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from core import checkpoint as ckpt
from core.data import DataSplits
from core.judge import Judge
from core.study.grid import Cell, StudyConfig, random_subset

# the report's files in the study folder (the runner writes the others; see core.study.runner)
REPORT_MD, REPORT_JSON, REPORT_CSV = "report.md", "report.json", "report.csv"
FIGURES_DIR = "figures"
INVOCATIONS_FILE = "invocations.jsonl"  # written by the runner, one line per finished invocation; listed here

# (key, header in report.md and report.csv) for the headline table
COLUMNS = [
    ("cell", "cell"), ("beta", "beta"), ("latent_dim", "latent"), ("sup_frac", "sup frac"),
    ("test_acc", "test acc"), ("recon_nll", "recon -log p(x\\|z)"), ("recon_mse", "recon MSE"),
    ("cond_gen_acc", "cond-gen acc"), ("swap_success", "swap success"), ("swap_success_stats", "swap (class stats)"),
    ("style_share", "style kept (share)"),
    ("style_ratio", "style ratio"), ("locality", "locality"), ("train_seconds", "train s"),
]
# the measures that are shares in [0, 1], for the bar chart
CHART_COLUMNS = [("test_acc", "test acc\n(q(y|z_c))"), ("cond_gen_acc", "cond-gen\nacc"),
                 ("swap_success", "swap\nsuccess"), ("swap_success_stats", "swap\n(class stats)"),
                 ("style_share", "style kept\n(share)"),
                 ("locality", "locality")]

# mnist5k-morpho: the interventions measured by the morphometry (core.morpho_measures), means over the attributes
MORPHO_COLUMNS = [
    ("cell", "cell"), ("morpho_moved_prior", "flip moved (priors)"), ("morpho_shift_sd_prior", "shift sd (priors)"),
    ("morpho_class_kept_prior", "digit kept (priors)"), ("morpho_moved_stats", "flip moved (class stats)"),
    ("morpho_landed_stats", "landed (class stats)"), ("morpho_shift_sd_stats", "shift sd (class stats)"),
    ("morpho_others_sd_stats", "others sd (class stats)"), ("morpho_class_kept_stats", "digit kept (class stats)"),
    ("morpho_moved_gen", "gen moved"), ("morpho_landed_gen", "gen landed"), ("morpho_shift_sd_gen", "gen shift sd"),
]

MORPHO_DEFINITIONS = """\
Each attribute is flipped on 300 test images (through the learned priors, and through the class statistics:
where the encoder puts training images with and without the attribute), the style kept; the flipped picture and
the reconstruction are measured with the morphometry that made the labels. Conditional generation decodes pairs
that differ only in y_i (0 or 1), 100 pairs per attribute. Means over the five attributes:

- **flip moved**: share of images whose measurement (thickness, slant, width, height, area) moved the way that
  was asked. **landed**: share that ends on the asked side of the data's threshold (the training median).
- **shift sd**: mean move in the asked direction, in standard deviations of the measurement over the training
  digits (negative = the wrong way); per attribute in pixels or degrees in `report.json` (`details`).
- **others sd**: mean absolute move of the four other measurements, in their standard deviations (0 = they stay
  put; thickness and area move together by nature).
- **digit kept**: share of flipped pictures that a digit classifier (the judge on mnist5k's classes) gives the
  same digit as the reconstruction.
- **gen moved / landed / shift sd**: the same for conditional generation (pairs y_i = 0 vs y_i = 1).
"""

DEFINITIONS = """\
- **test acc**: accuracy of the CCVAE's own classifier q(y|z_c) at the encoder mean, on the test split.
- **recon -log p(x|z)**: mean over test images of -log p(x|z) at the encoder mean, summed over pixels, under the
  run's own likelihood (nats per image; Bernoulli: cross-entropy with grey levels as soft targets; a Laplace with
  its fixed or learned scale). Compare it between runs of the same likelihood. **recon MSE**: mean squared pixel
  error.
- **cond-gen acc**: for each label y, z_c ~ p(z_c|y) and style ~ N(0, I) decoded; share the judge calls y
  (mean over labels). Does the conditional prior alone make pictures of y?
- **swap success**: every test image's z_c moved from p(z_c|y) to p(z_c|y') for every other label y' (y = the
  CCVAE's prediction), style kept; share the judge calls y'. Does editing z_c change what the picture shows?
- **swap (class stats)**: the same swap, but z_c moved between where the encoder puts the classes (per-class
  mean and standard deviation of the encoded z_c of 2,000 training images) instead of between the learned
  priors p(z_c|y). High here and low in *swap success* means the decoder does read the label from z_c, but the
  learned priors do not sit where the encoder puts the classes (so prior-based swaps and generations miss).
- **style kept (share)**: each test image is swapped to a random other label y'; the result is compared, in the
  judge's feature layer, with the typical y' (mean of p(z_c|y')) drawn in the image's own style and in a random
  other image's style. Share of images closer to their own style's drawing (0.5 = chance, 1 = style always
  kept). **style ratio**: mean own-style distance / mean other-style distance (1 = nothing kept, lower = better).
  A model that puts everything in z_c scores about 0.5 / 1.0 here even if its swaps succeed.
- **locality**: each test image keeps its z_c and takes a random other image's style; share of images whose
  judged class does not change. 1 = the label lives in z_c only. Read it with *style kept*: a decoder that
  ignores the style is perfectly local and keeps no style.
- **train s**: seconds spent in training epochs (evaluation, figures and measures not included).
"""

BINARY_DEFINITIONS = """\
- **test acc**: mean per-attribute accuracy of the CCVAE's own classifier q(y|z_c) at the encoder mean, on the
  test split.
- **recon -log p(x|z)**: mean over test images of -log p(x|z) at the encoder mean, summed over pixels, under the
  run's own likelihood (nats per image; Bernoulli: cross-entropy with grey levels as soft targets; a Laplace with
  its fixed or learned scale). Compare it between runs of the same likelihood. **recon MSE**: mean squared pixel
  error.
- **cond-gen acc**: for each attribute i and value v in {0, 1}: label vectors y drawn from p(y) (the training
  frequencies) with y_i = v, z_c ~ p(z_c|y) and style ~ N(0, I) decoded; share the judge gives attribute i the
  value v (mean over the 2A attribute-value pairs). Does the conditional prior alone set each attribute?
- **swap success** (attribute flips): every test image's attributes as the CCVAE predicts them, y; for each
  attribute i, z_c moved from p(z_c|y) to p(z_c|y') with only y_i negated (only that attribute's z_c dimension
  moves), style kept; share of (image, attribute) pairs the judge gives the flipped value. Does editing z_c
  change that attribute of the picture?
- **swap (class stats)**: the same flips, but z_c[i] moved between where the encoder puts y_i = 0 and y_i = 1
  (mean and standard deviation of the encoded z_c[i] of up to 2,000 training images per value) instead of
  between the learned prior modes. High here and low in *swap success* means the decoder does read the
  attribute from z_c, but the learned priors do not sit where the encoder puts the attribute values.
- **style kept (share)**: each test image has one random attribute flipped; the result is compared, in the
  judge's feature layer, with the typical picture of the target attributes (mean of p(z_c|y')) drawn in the
  image's own style and in a random other image's style. Share of images closer to their own style's drawing
  (0.5 = chance, 1 = style always kept). **style ratio**: mean own-style distance / mean other-style distance
  (1 = nothing kept, lower = better).
- **locality**: each test image keeps its z_c and takes a random other image's style; share of (image,
  attribute) pairs whose judged attribute does not change. 1 = the attributes live in z_c only. Read it with
  *style kept*: a decoder that ignores the style is perfectly local and keeps no style.
- **train s**: seconds spent in training epochs (evaluation, figures and measures not included).
"""


def _fmt(value, key: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if key in ("cell",):
        return str(value)
    if key in ("beta", "sup_frac"):
        return f"{value:g}"
    if key in ("latent_dim",):
        return str(int(value))
    if key == "train_seconds":
        return f"{value:.0f}"
    if key == "recon_nll":
        return f"{value:.1f}"
    if key == "recon_mse":
        return f"{value:.4f}"
    return f"{value:.3f}"


def markdown_table(rows: list[dict], columns=COLUMNS) -> str:
    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(k), k) for k, _ in columns) + " |")
    return "\n".join(lines)


def _per_attribute_table(rows: list[dict]) -> str:
    """Flips through the class statistics, per attribute: share moved as asked and the mean move in its unit."""
    from core.data.morpho import ATTRIBUTES
    from core.morphometry import UNITS

    head = ["cell"] + [f"{a}: moved, {m} ({UNITS[m]})" for a, m in ATTRIBUTES]
    lines = ["Per attribute, flips through the class statistics (share moved as asked, mean move):", "",
             "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        moved = row.get("details", {}).get("morpho_moved_stats_per_attribute")
        shift = row.get("details", {}).get("morpho_shift_stats_per_attribute")
        if not moved or not shift:
            continue
        lines.append("| " + " | ".join([row["cell"]] + [f"{a:.2f}, {b:+.2f}" for a, b in zip(moved, shift)]) + " |")
    return "\n".join(lines)


def _csv_text(rows: list[dict]) -> str:
    keys = [k for k, _ in COLUMNS] + sorted({k for r in rows for k in r if k not in dict(COLUMNS) and k != "details"})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in keys})
    return buf.getvalue()


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def write_report(out: Path, study: StudyConfig, cells: list[Cell], rows: list[dict], judge: Judge,
                 splits: DataSplits, device, wall_seconds: float, trained: int) -> dict:
    from core.inference import Engine
    from core.run import load_history
    from core.study.figures import make_study_figures

    out = Path(out)
    with_sup = len(study.sup_fracs) > 1
    names = [c.label(with_sup) for c in cells]
    engines = [Engine.from_run(c.run_dir(out), device=str(device)) for c in cells]
    histories = [load_history(c.run_dir(out)) for c in cells]

    x, y = splits.test.get_batch(random_subset(len(splits.test), 500, study.seed))
    figures = make_study_figures(out / FIGURES_DIR, engines, names, histories, x, y, rows, CHART_COLUMNS,
                                 judge.test_accuracy, seed=study.seed)
    skipped = next((r["skipped"] for r in rows if r.get("skipped")), None)
    history = []
    if (out / INVOCATIONS_FILE).exists():
        history = [json.loads(line) for line in (out / INVOCATIONS_FILE).read_text().splitlines() if line.strip()]
    report = {
        "format": "ccvae-explorer-study", "dataset": study.data.get("dataset"), "study": study.to_json(),
        "label_kind": "multiclass" if judge.label_spec.is_multiclass else "binary",
        "judge": {k: judge.info.get(k) for k in ("test_accuracy", "val_accuracy", "epochs_run", "key")},
        "measure_images": min(study.measure_images, len(splits.test)), "cells_trained_now": trained,
        "wall_seconds": round(wall_seconds, 1), "earlier_invocations": history, "rows": rows, "skipped": skipped,
        "figures": [str(p.relative_to(out)) for p in figures],
    }
    ckpt.atomic_write_json(out / REPORT_JSON, report)
    ckpt.atomic_write_bytes(out / REPORT_CSV, _csv_text(rows).encode())
    ckpt.atomic_write_bytes(out / REPORT_MD, _markdown(report, rows).encode())
    return report


def _markdown(report: dict, rows: list[dict]) -> str:
    study = report["study"]
    run = study["run"]  # the RunConfig every cell shares
    data = ", ".join(f"{k}={v}" for k, v in run["data"].items() if v not in (None, 0) or k == "seed")
    lines = [
        f"# CCVAE study on {report['dataset']}", "",
        f"Grid: beta in {{{', '.join(f'{b:g}' for b in study['betas'])}}} x latent size in "
        f"{{{', '.join(str(d) for d in study['latent_dims'])}}} x labelled fraction in "
        f"{{{', '.join(f'{f:g}' for f in study['sup_fracs'])}}}; z_c size {run['model']['zc_dim'] or 'one per class'}, "
        f"{run['train']['epochs']} "
        f"epochs, batch {run['train']['batch_size']}, lr {run['train']['lr']:g}, seed {run['train']['seed']}. "
        f"Data: {data}.", "",
        f"Judge (independent CNN trained on every training label): test accuracy "
        f"**{report['judge']['test_accuracy']:.4f}**. Measures use {report['measure_images']} test images "
        f"(a fixed random choice).", "",
        f"This invocation trained {report['cells_trained_now']} cell(s) in {_hms(report['wall_seconds'])} "
        f"(h:mm:ss, before drawing this report).", "",
        markdown_table(rows), "",
    ]
    trained_before = [h for h in report.get("earlier_invocations", []) if h.get("cells_trained")]
    if trained_before:
        lines += ["Earlier invocations that trained cells (wall time including judge, training, measures and "
                  "report): " + "; ".join(f"{h['finished']}: {h['cells_trained']} of {h['cells']} cells, "
                                          f"{h['epochs']} epochs, {_hms(h['wall_seconds'])}" for h in trained_before)
                  + ".", ""]
    if report.get("skipped"):
        lines += [f"**Note:** {report['skipped']}.", ""]
    if any("morpho_moved_prior" in r for r in rows):
        lines += ["## Interventions measured by the morphometry", "", markdown_table(rows, MORPHO_COLUMNS), "",
                  MORPHO_DEFINITIONS, _per_attribute_table(rows), ""]
    binary = report.get("label_kind") == "binary"
    lines += ["## What the columns measure", ""]
    if binary:
        lines += ["Binary attributes: each measure is taken per attribute (0/1, judged by the judge's sigmoid "
                  "output > 0.5) and averaged over the attributes; per-attribute values are in `report.json` "
                  "(`details`).", ""]
    lines += [BINARY_DEFINITIONS if binary else DEFINITIONS, "## Figures", ""]
    titles = {"reconstructions": "Reconstructions", "generations": "Conditional generations per label",
              "label_swaps": "Label swaps", "interpolations": "Interpolations (whole latent)",
              "interpolations_zc": "Interpolations (z_c only)", "accuracy": "Validation accuracy",
              "loss_train": "Training loss", "loss_val": "Validation loss", "measures": "Measures",
              "attribute_generations": "Conditional generations per attribute",
              "attribute_flips": "Attribute flips"}
    for rel in report["figures"]:
        stem = Path(rel).stem
        lines += [f"### {titles.get(stem, stem)}", "", f"![{stem}]({rel})", ""]
        if stem.startswith("loss"):
            lines += ["beta weighs the latent terms of the objective, so loss levels of different betas are not "
                      "comparable; compare the shapes of the curves (and train against validation).", ""]
    lines += ["Data: `report.json` (all values and per-label details), `report.csv` (one row per cell). Each cell "
              "is an ordinary run folder under `cells/` (open it in the explorer).", ""]
    return "\n".join(lines)
