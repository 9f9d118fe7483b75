"""Numbers for what a CCVAE's latents capture, scored by an independent judge (``core.judge``).

Every function is pure: it takes an *engine* and a *judge* and returns plain floats, so tests can pass a decoder
whose answer is known (an identity, a style-only or a z_c-only decoder) and a judge with a fixed output.

Engine-like object (``core.inference.Engine`` is one):
    encode(images) -> object with ``z_c`` [B, Dc] and ``z_style`` [B, Ds] (encoder means)
    decode(z_c, z_style) -> images [B, C, H, W] in [0, 1]
    predict(z_c) -> class index [B];   prior(y) -> (loc, scale) of p(z_c|y), each [B, Dc]
    swap_label(z_c, y_from, y_to) -> z_c';   generate(y, n, z_style=None, generator=None) -> (z_c, z_style)
    label_spec (``is_multiclass``, ``size``, ``names``) and style_dim
Judge-like: ``judge(images) -> probs [B, K]``; for style preservation also ``judge.features(images) -> [B, F]``.

The measures are defined for one multi-class label (MNIST, Fashion-MNIST, a folder of classes). For binary
attributes ``measure_all`` says they were skipped rather than report numbers that mean something else.
"""
from __future__ import annotations

import math

import torch


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _judge_classes(judge, images: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(judge(images)).cpu().argmax(-1)


def _derangement(n: int, gen: torch.Generator) -> torch.Tensor:
    """A random pairing i -> partner[i] with partner[i] != i for every i (n >= 2)."""
    order = torch.randperm(n, generator=gen)
    partner = torch.empty(n, dtype=torch.long)
    partner[order] = order.roll(1)  # each element of a shuffled cycle points to the one before it
    return partner


def _random_other_labels(y: torch.Tensor, num_classes: int, gen: torch.Generator) -> torch.Tensor:
    """For each label a different one drawn uniformly from the other num_classes - 1."""
    shift = torch.randint(1, num_classes, y.shape, generator=gen)
    return (y + shift) % num_classes


def _check_multiclass(engine) -> None:
    if not engine.label_spec.is_multiclass:
        raise ValueError("this measure is defined for one multi-class label; binary attributes are not supported")


# ----------------------------------------------------------------------------------------------------------------
# Reconstruction
# ----------------------------------------------------------------------------------------------------------------

def reconstruction_error(engine, images: torch.Tensor, likelihood: str = "bernoulli") -> dict:
    """How well decode(encode(x)) at the encoder mean reproduces x.

    Returns ``nll``: -log p(x|z) per image (summed over pixels; Bernoulli = binary cross-entropy with the grey
    levels as soft targets, Laplace = |x - mean| + log 2 per pixel), and ``mse``: mean squared pixel error.
    """
    x = torch.as_tensor(images).float().cpu()
    enc = engine.encode(x)
    recon = torch.as_tensor(engine.decode(enc.z_c, enc.z_style)).float().cpu()
    if likelihood == "bernoulli":
        p = recon.clamp(1e-6, 1 - 1e-6)
        per_pixel = -(x * p.log() + (1 - x) * (1 - p).log())
    else:
        per_pixel = (x - recon).abs() + math.log(2.0)
    return {"nll": float(per_pixel.flatten(1).sum(-1).mean()), "mse": float(((x - recon) ** 2).mean())}


# ----------------------------------------------------------------------------------------------------------------
# What z_c carries
# ----------------------------------------------------------------------------------------------------------------

def conditional_generation_accuracy(engine, judge, per_label: int = 100, seed: int = 0) -> dict:
    """For each label y: decode z_c ~ p(z_c|y) with a random style z_style ~ N(0, I), ``per_label`` times, and
    count how often the judge calls the picture y. Measures whether the conditional prior p(z_c|y) alone makes
    pictures of y whatever the style, i.e. whether z_c carries the label and the decoder uses it.

    Returns ``accuracy`` (mean over labels) and ``per_label`` (list, label order).
    """
    _check_multiclass(engine)
    gen = _generator(seed)
    per = []
    for y in range(engine.label_spec.size):
        z_c, z_style = engine.generate(y, per_label, generator=gen)
        pred = _judge_classes(judge, engine.decode(z_c, z_style))
        per.append(float((pred == y).float().mean()))
    return {"accuracy": sum(per) / len(per), "per_label": per}


def class_statistics(engine, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the encoder actually puts each class: mean and standard deviation of the encoder-mean z_c of the
    given (training) images per class, each [K, Dc]. A class with fewer than two images gets scale 1."""
    _check_multiclass(engine)
    z_c = engine.encode(images).z_c.float().cpu()
    labels = torch.as_tensor(labels).reshape(-1).cpu()
    k = engine.label_spec.size
    loc, scale = torch.zeros(k, z_c.shape[1]), torch.ones(k, z_c.shape[1])
    for c in range(k):
        members = z_c[labels == c]
        if len(members) >= 1:
            loc[c] = members.mean(0)
        if len(members) >= 2:
            scale[c] = members.std(0).clamp_min(1e-4)
    return loc, scale


def label_swap_success(engine, judge, images: torch.Tensor, class_stats: tuple | None = None) -> dict:
    """Swap each image's label to every other label and count how often the judge sees the target.

    The source label is the CCVAE's own prediction from z_c (what the explorer swaps from); z_c is moved from
    p(z_c|y) to p(z_c|y') keeping its place in the class, the style is kept, and the result decoded. Measures
    whether editing z_c alone changes what the picture shows, as the model claims it should.

    With ``class_stats`` = (loc [K, Dc], scale [K, Dc]) from ``class_statistics``, z_c is moved between where the
    encoder puts the classes instead of between the learned priors: z_c' = loc_y' + scale_y' (z_c - loc_y) /
    scale_y. The two answers differ when p(z_c|y) does not sit where the encoder puts class y: then the
    decoder may well read the label from z_c, yet moves between the priors miss it.

    Returns ``success`` (share over all image x target pairs) and ``per_target`` (share per target label).
    """
    _check_multiclass(engine)
    enc = engine.encode(images)
    y_from = torch.as_tensor(engine.predict(enc.z_c)).reshape(-1)
    hits, total, per = 0, 0, []
    for target in range(engine.label_spec.size):
        move = (y_from != target).nonzero().reshape(-1)
        if len(move) == 0:
            per.append(float("nan"))
            continue
        dev = enc.z_c.device
        if class_stats is None:
            z_c = engine.swap_label(enc.z_c[move.to(dev)], y_from[move].to(dev), target)
        else:
            loc, scale = (t.to(dev) for t in class_stats)
            src = y_from[move].to(dev)
            z_c = loc[target] + scale[target] * (enc.z_c[move.to(dev)] - loc[src]) / scale[src]
        pred = _judge_classes(judge, engine.decode(z_c, enc.z_style[move.to(dev)]))
        k = int((pred == target).sum())
        hits, total = hits + k, total + len(move)
        per.append(k / len(move))
    return {"success": hits / max(total, 1), "per_target": per}


# ----------------------------------------------------------------------------------------------------------------
# What the style carries
# ----------------------------------------------------------------------------------------------------------------

def style_preservation(engine, judge, images: torch.Tensor, seed: int = 0) -> dict:
    """Does a label swap keep the rest of the image (its style)?

    For each image x (style s, predicted label y) pick a random other label y' and compare three pictures:
        swapped = decode(swap(z_c, y -> y'), s)        x with its label changed
        same    = decode(mean of p(z_c|y'), s)         the typical y' drawn in x's style
        other   = decode(mean of p(z_c|y'), s_r)       the typical y' in the style of a random other image
    d_same = |f(swapped) - f(same)| and d_other = |f(swapped) - f(other)|, where f is the judge's feature layer
    (what a classifier sees: stroke width, slant, shape) or the raw pixels. If the swap kept x's style, swapped
    looks like ``same`` more than like ``other``: d_same < d_other. If the style latent carried nothing (the
    decoder ignores it, or the label swap redraws everything), the two distances are alike.

    Returns, for features and pixels: ``share`` = fraction of images with d_same < d_other (0.5 = chance,
    1 = style always kept) and ``ratio`` = mean d_same / mean d_other (1 = no style kept, lower is better).
    """
    _check_multiclass(engine)
    gen = _generator(seed)
    enc = engine.encode(images)
    n = len(enc.z_c)
    if n < 2:
        raise ValueError("style preservation needs at least two images (it pairs each with another)")
    dev = enc.z_c.device
    y_from = torch.as_tensor(engine.predict(enc.z_c)).reshape(-1).cpu()
    y_to = _random_other_labels(y_from, engine.label_spec.size, gen)
    partner = _derangement(n, gen)
    swapped = engine.decode(engine.swap_label(enc.z_c, y_from.to(dev), y_to.to(dev)), enc.z_style)
    loc, _ = engine.prior(y_to.to(dev))
    same = engine.decode(loc, enc.z_style)
    other = engine.decode(loc, enc.z_style[partner.to(dev)])
    out = {}
    spaces = [("pixel", lambda t: torch.as_tensor(t).float().cpu().flatten(1))]
    if hasattr(judge, "features"):
        spaces.insert(0, ("feature", lambda t: torch.as_tensor(judge.features(t)).float().cpu()))
    for name, f in spaces:
        fs, fsame, fother = f(swapped), f(same), f(other)
        d_same = (fs - fsame).norm(dim=-1)
        d_other = (fs - fother).norm(dim=-1)
        out[f"{name}_share"] = float((d_same < d_other).float().mean())
        # both zero: the pictures do not differ at all, which keeps no more style than chance
        out[f"{name}_ratio"] = float(d_same.mean() / d_other.mean()) if float(d_other.mean()) > 0 else 1.0
    return out


def style_invariance(engine, judge, images: torch.Tensor, seed: int = 0) -> dict:
    """Characteristic locality: changing the style must not change the label.

    For each image x keep its z_c and give it the style of a random other image (a characteristic transfer,
    using styles real images have rather than N(0, I) draws, so a loose style prior is not mistaken for
    leakage); the share of images whose judged class stays that of decode(z_c, own style) is ``unchanged``.
    1 means the label lives in z_c only; lower means the style latent also carries the label. The other half
    of locality, that changing z_c does change the label, is ``label_swap_success``.

    Returns ``unchanged`` and ``agrees_with_label``: share where the transferred image is still judged as the
    CCVAE's predicted label of x.
    """
    _check_multiclass(engine)
    gen = _generator(seed)
    enc = engine.encode(images)
    n = len(enc.z_c)
    if n < 2:
        raise ValueError("style invariance needs at least two images (it pairs each with another)")
    dev = enc.z_c.device
    partner = _derangement(n, gen)
    own = _judge_classes(judge, engine.decode(enc.z_c, enc.z_style))
    moved = _judge_classes(judge, engine.decode(enc.z_c, enc.z_style[partner.to(dev)]))
    y = torch.as_tensor(engine.predict(enc.z_c)).reshape(-1).cpu()
    return {"unchanged": float((own == moved).float().mean()), "agrees_with_label": float((moved == y).float().mean())}


# ----------------------------------------------------------------------------------------------------------------
# All of them
# ----------------------------------------------------------------------------------------------------------------

MEASURE_COLUMNS = ("recon_nll", "recon_mse", "cond_gen_acc", "swap_success", "swap_success_stats", "style_share",
                   "style_ratio",
                   "style_pixel_share", "locality")


def measure_all(engine, judge, images: torch.Tensor, likelihood: str = "bernoulli", per_label: int = 100,
                seed: int = 0, class_stats: tuple | None = None) -> dict:
    """Every measure on the given (test) images, as one flat dict of floats (keys: MEASURE_COLUMNS) plus the
    per-label details. ``class_stats`` (from ``class_statistics`` on training images) adds the swap between
    encoder class statistics. For binary attributes only the reconstruction error is computed; ``skipped``
    says why."""
    rec = reconstruction_error(engine, images, likelihood)
    out = {"recon_nll": rec["nll"], "recon_mse": rec["mse"]}
    if not engine.label_spec.is_multiclass:
        out["skipped"] = "judge-based measures are defined for one multi-class label; binary attributes skipped"
        return out
    gen = conditional_generation_accuracy(engine, judge, per_label, seed)
    swap = label_swap_success(engine, judge, images)
    swap_stats = label_swap_success(engine, judge, images, class_stats) if class_stats is not None else None
    style = style_preservation(engine, judge, images, seed)
    local = style_invariance(engine, judge, images, seed)
    out.update(cond_gen_acc=gen["accuracy"], swap_success=swap["success"],
               style_share=style.get("feature_share", float("nan")),
               style_ratio=style.get("feature_ratio", float("nan")), style_pixel_share=style["pixel_share"],
               style_pixel_ratio=style["pixel_ratio"], locality=local["unchanged"],
               locality_agrees_with_label=local["agrees_with_label"],
               swap_success_stats=swap_stats["success"] if swap_stats else float("nan"),
               cond_gen_per_label=gen["per_label"], swap_per_target=swap["per_target"])
    return out
