"""The paper's interventions on ``mnist5k-morpho`` scored against ground truth: the same morphometry that made the
labels (``core.morphometry``) measures the pictures the model draws.

For each attribute i (thick, slanted, wide, tall, large; the measurement behind it: thickness, slant, width,
height, area):

- **Flips.** Each test image is encoded; its attributes as the CCVAE's classifier sees them, y, are the source
  (what the explorer flips from); the target y' is y with y_i negated. z_c is moved to y' either through the
  learned priors (``engine.swap_label``: z_c[i] from p(z_c,i|y_i) to p(z_c,i|y'_i)) or through the class
  statistics (z_c[i] between where the encoder puts training images with y_i = 0 and y_i = 1), the style kept.
  The flipped picture is compared with the *reconstruction* decode(z_c, style), not with the input: both come out
  of the same decoder, so its blur does not count as a change.
- **Conditional generation.** For each attribute i, draws of (y with the other attributes from p(y), the prior
  noise of z_c, a style ~ N(0, I)) are decoded twice, once with y_i = 0 and once with y_i = 1, everything else
  the same; the pair's difference is what setting the attribute did.

For each, per attribute:

    moved        share of images (pairs) whose measurement moved the way that was asked (up to switch the
                 attribute on, down to switch it off)
    landed       share whose measurement ends on the asked side of the data's threshold (the training median
                 that made the labels), i.e. the morphometry labels the picture with the target value
    shift        mean move in the asked direction, in the measurement's unit (px or degrees); negative = the
                 wrong way
    shift_sd     the same divided by the measurement's standard deviation over the training digits
    others_sd    mean absolute move of the other four measurements, each in its own standard deviations
                 (thickness and area move together by nature: area is about thickness x stroke length)
    class_kept   share whose digit, as the class judge sees it, is the same after as before (for generation: the
                 same for y_i = 0 and y_i = 1)
    blank        share of pictures without ink that the morphometry could not measure (counted as not moved
                 and not landed)

``effect`` holds, per attribute flipped, the mean signed move of all five measurements in standard deviations
(rows: attribute asked to switch on, i.e. moves are signed so that "as asked" is positive on the diagonal).
"""
from __future__ import annotations

import numpy as np
import torch

from core import morphometry
from core.class_stats import move_between
from core.data.morpho import ATTRIBUTES, MORPHO_SPEC, MorphoTable
from core.errors import CCVAEError

METHODS = ("prior", "stats", "gen")  # flips through the priors, through the class statistics; generation
PER_ATTRIBUTE = ("moved", "landed", "shift", "shift_sd", "others_sd", "class_kept", "blank")


class MorphoMeasureError(CCVAEError, ValueError):
    """A model whose labels are not the morphology attributes; one-line message."""


def check_attributes(engine) -> None:
    """The engine's labels must be mnist5k-morpho's attributes, in order, or nothing here means anything."""
    spec = engine.label_spec
    if spec != MORPHO_SPEC:
        raise MorphoMeasureError(f"the model's labels ({spec.kind}: {', '.join(spec.names)}) are not the morphology "
                                 f"attributes ({', '.join(MORPHO_SPEC.names)}); these measures need a model trained "
                                 f"on mnist5k-morpho")


def _measure(images: torch.Tensor) -> np.ndarray:
    """float64 [B, 5] in ATTRIBUTES' measurement order; NaN rows for blank pictures."""
    m = morphometry.measure(torch.as_tensor(images).float().cpu(), blank="nan")
    return np.stack([m[name] for _, name in ATTRIBUTES], 1)


def _judged(class_judge, images: torch.Tensor) -> np.ndarray | None:
    if class_judge is None:
        return None
    return torch.as_tensor(class_judge(torch.as_tensor(images).float().cpu())).argmax(-1).numpy()


def move_between_statistics(z_c: torch.Tensor, attribute: int, src: torch.Tensor, dst: torch.Tensor,
                            stats: tuple) -> torch.Tensor:
    """z_c with z_c[:, attribute] moved from the encoder's statistics of value src to those of value dst
    (stats = (loc [2, A], scale [2, A]) from ``core.measures.class_statistics``), keeping its place in the
    value's spread; the other dimensions stay."""
    loc, scale = (torch.as_tensor(t).float().to(z_c.device) for t in stats)
    out = z_c.clone()
    out[:, attribute] = move_between(z_c[:, attribute], loc[:, attribute], scale[:, attribute],
                                     src.long().to(z_c.device), dst.long().to(z_c.device))
    return out


def _score(before: np.ndarray, after: np.ndarray, attribute: int, up: np.ndarray, table: MorphoTable,
           class_before, class_after) -> dict:
    """One attribute's numbers from measurements before/after [B, 5]; ``up`` [B] bool: asked to switch on."""
    sign = np.where(up, 1.0, -1.0)
    delta = (after - before) * sign[:, None]  # moves signed so that "as asked" is positive for every column
    blank = np.isnan(after).any(1) | np.isnan(before).any(1)
    d_i = delta[:, attribute]
    with np.errstate(invalid="ignore"):
        moved = np.where(blank, False, d_i > 0)
        landed = np.where(np.isnan(after[:, attribute]), False,
                          (after[:, attribute] > table.thresholds[attribute]) == up)
    ok = ~blank
    shift = float(d_i[ok].mean()) if ok.any() else float("nan")
    others = [j for j in range(len(ATTRIBUTES)) if j != attribute]
    abs_sd = np.abs(delta[ok][:, others]) / table.spread[others]
    out = {"moved": float(moved.mean()), "landed": float(landed.mean()), "shift": shift,
           "shift_sd": shift / float(table.spread[attribute]),
           "others_sd": float(abs_sd.mean()) if ok.any() else float("nan"),
           "class_kept": float((class_before == class_after).mean()) if class_before is not None else float("nan"),
           "blank": float(blank.mean()),
           "effect": (delta[ok].mean(0) / table.spread).tolist() if ok.any() else [float("nan")] * len(ATTRIBUTES)}
    return out


def morphology_measures(engine, images: torch.Tensor, table: MorphoTable, class_judge=None,
                        class_stats: tuple | None = None, per_value: int = 100, seed: int = 0) -> dict:
    """Every number in the module docstring.

    Args:
        engine: an Engine (or alike, see ``core.measures``) of a model trained on mnist5k-morpho.
        images: test images [B, 1, 28, 28] in [0, 1].
        table: ``core.data.morpho.morpho_table()`` (thresholds and spreads).
        class_judge: a digit classifier (``core.judge.Judge`` on mnist5k); None leaves class_kept NaN.
        class_stats: (loc [2, A], scale [2, A]) from ``core.measures.class_statistics`` on training images;
            None skips the flips through the class statistics.
        per_value: generation pairs per attribute.

    Returns ``{method: {key: [A] per attribute}}`` for the methods of METHODS that ran (keys: PER_ATTRIBUTE and
    ``effect`` [A][5]), plus ``attributes`` and ``units``.
    """
    check_attributes(engine)
    enc = engine.encode(images)
    dev = enc.z_c.device
    recon = engine.decode(enc.z_c, enc.z_style)
    before = _measure(recon)
    class_before = _judged(class_judge, recon)
    y_from = torch.as_tensor(engine.predict(enc.z_c)).float().cpu().reshape(len(enc.z_c), -1)
    n_attr = len(ATTRIBUTES)
    out: dict = {"attributes": list(MORPHO_SPEC.names),
                 "units": [morphometry.UNITS[m] for _, m in ATTRIBUTES]}
    methods = [("prior", None)] + ([("stats", class_stats)] if class_stats is not None else [])
    for method, stats in methods:
        per = []
        for i in range(n_attr):
            target = y_from.clone()
            target[:, i] = 1 - y_from[:, i]
            if stats is None:
                z_c = engine.swap_label(enc.z_c, y_from.to(dev), target.to(dev))
            else:
                z_c = move_between_statistics(enc.z_c, i, y_from[:, i], target[:, i], stats)
            flipped = engine.decode(z_c, enc.z_style)
            per.append(_score(before, _measure(flipped), i, target[:, i].numpy() > 0.5, table, class_before,
                              _judged(class_judge, flipped)))
        out[method] = {k: [p[k] for p in per] for k in per[0]}

    gen = torch.Generator().manual_seed(int(seed))
    p1 = _label_prior(engine)
    per = []
    for i in range(n_attr):
        y = (torch.rand((per_value, n_attr), generator=gen) < p1).float()
        eps = torch.randn((per_value, engine.zc_dim), generator=gen)
        z_style = torch.randn((per_value, engine.style_dim), generator=gen).to(dev)
        pictures, measured = [], []
        for v in (0.0, 1.0):
            y[:, i] = v
            loc, scale = engine.prior(y.to(dev))
            pictures.append(engine.decode(loc + scale * eps.to(dev), z_style))
            measured.append(_measure(pictures[-1]))
        score = _score(measured[0], measured[1], i, np.ones(per_value, bool), table,
                       _judged(class_judge, pictures[0]), _judged(class_judge, pictures[1]))
        # landed, for generation: each picture of the pair on the side of the threshold its y_i asked for
        m0, m1 = measured[0][:, i], measured[1][:, i]
        with np.errstate(invalid="ignore"):
            score["landed"] = float((m0 <= table.thresholds[i]).mean() / 2 + (m1 > table.thresholds[i]).mean() / 2)
        per.append(score)
    out["gen"] = {k: [p[k] for p in per] for k in per[0]}
    return out


def _label_prior(engine) -> torch.Tensor:
    prior = getattr(getattr(engine, "model", None), "label_prior", None)
    if prior is None:
        return torch.full((engine.label_spec.size,), 0.5)
    return torch.as_tensor(prior).float().cpu().reshape(engine.label_spec.size)


def _mean(values) -> float:
    """Mean over the attributes that have a value (NaN: every picture of that attribute was blank)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else float("nan")


def flat(result: dict) -> dict:
    """Headline floats (means over the attributes) under ``morpho_<key>_<method>`` and the per-attribute lists under
    ``morpho_<key>_<method>_per_attribute``, for a study row or a run summary."""
    out = {}
    for method in METHODS:
        if method not in result:
            continue
        for key in PER_ATTRIBUTE:
            values = result[method][key]
            out[f"morpho_{key}_{method}"] = _mean(values)
            out[f"morpho_{key}_{method}_per_attribute"] = [round(float(v), 4) for v in values]
        out[f"morpho_effect_{method}"] = [[round(float(v), 4) for v in row] for row in result[method]["effect"]]
    return out


DIGIT_JUDGE_SETTINGS = None  # core.judge's defaults (tests pass a quicker one)


def digit_judge(folder=None, device="cpu", log=None):
    """The class judge: ``core.judge``'s CNN trained on the digit classes of the same 5,000 images (mnist5k's
    split), cached in ``folder`` (default: <cache dir>/judges/<key>, see ``core.data.morpho.cache_dir``)."""
    from pathlib import Path

    from core.data import DataConfig, load_data
    from core.data.morpho import cache_dir
    from core.judge import judge_key, load_or_train_judge

    data = {"dataset": "mnist5k"}
    folder = Path(folder) if folder is not None else cache_dir() / "judges" / judge_key(data)
    return load_or_train_judge(folder, data, load_data(DataConfig(**data)), DIGIT_JUDGE_SETTINGS, device=device,
                               log=log)


def reference_sample(table: MorphoTable, count: int = 2000, seed: int = 0):
    """(images, attributes) of ``count`` training digits chosen at random with ``seed``: the images whose
    encodings give the class statistics (the same choice as the study's)."""
    from core.data import DataConfig, load_data

    splits = load_data(DataConfig(dataset="mnist5k-morpho"))
    order = torch.randperm(len(splits.train), generator=torch.Generator().manual_seed(seed))[:count].sort().values
    return splits.train.get_batch(order)


SUMMARY_IMAGES = 300     # test images a run's summary measures (a fixed random choice)
SUMMARY_PER_VALUE = 100  # generation pairs per attribute in a run's summary
MORPHOLOGY_FILE = "morphology.json"


def run_morphology(engine, splits, device="cpu", seed: int = 0, log=None) -> dict:
    """The measures for a finished run on mnist5k-morpho (``core.run.finish`` calls it): the full result, as
    written to the run's ``morphology.json``, with ``headline`` (means over the attributes per method) for
    ``summary.json``."""
    from core.measures import class_statistics
    from core.data.morpho import morpho_table

    table = morpho_table()
    judge = digit_judge(device=device, log=log)
    order = torch.randperm(len(splits.test), generator=torch.Generator().manual_seed(seed))[:SUMMARY_IMAGES]
    images = splits.test.get_batch(order.sort().values)[0]
    stats = class_statistics(engine, *reference_sample(table, seed=seed))
    result = morphology_measures(engine, images, table, judge, stats, SUMMARY_PER_VALUE, seed)
    result["headline"] = {m: {k: round(_mean(result[m][k]), 4) for k in PER_ATTRIBUTE}
                          for m in METHODS if m in result}
    result["images"] = len(images)
    result["judge_test_accuracy"] = judge.test_accuracy
    return result
