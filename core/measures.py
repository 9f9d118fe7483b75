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

Each measure has a multi-class form (one label: MNIST, Fashion-MNIST, a folder of classes) and a binary-attribute
form (CelebA, a folder whose CSV has several 0/1 columns); the public functions pick the form from
``engine.label_spec``. For binary attributes ``predict`` returns 0/1 vectors [B, A], ``prior``/``swap_label`` take
[B, A] 0/1 vectors, the judge returns one sigmoid probability per attribute (judged 1 when > 0.5), and p(y) is
``engine.model.label_prior`` (p(y_i = 1) per attribute; 0.5 each when the engine has none).
"""
from __future__ import annotations

import torch

from core.class_stats import attribute_stats, class_stats, move_between
from core.errors import CCVAEError

# style preservation and locality pair each test image with another one
MIN_TEST_IMAGES = 2


class MeasureError(CCVAEError):
    """Measures that cannot be taken on these data; one-line message."""


def check_test_images(count: int, who: str) -> None:
    """Refuse, before any training, a data set whose test split is too small to measure."""
    if count < MIN_TEST_IMAGES:
        raise MeasureError(f"{who}: the test split has {count} image(s); the measures pair each test image with "
                           f"another, so they need at least {MIN_TEST_IMAGES} (add images to the data set)")


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


def _judge_attributes(judge, images: torch.Tensor) -> torch.Tensor:
    """Binary attributes: the judge's verdict per attribute, 0/1 floats [B, A] (probability > 0.5)."""
    return (torch.as_tensor(judge(images)).float().cpu() > 0.5).float()


def _is_binary(engine) -> bool:
    return not engine.label_spec.is_multiclass


def attribute_prior(engine) -> torch.Tensor:
    """p(y_i = 1) per attribute [A]: the model's label prior (training label frequencies), else 0.5 each."""
    prior = getattr(engine, "label_prior", None)
    if prior is None:
        prior = getattr(getattr(engine, "model", None), "label_prior", None)
    if prior is None:
        return torch.full((engine.label_spec.size,), 0.5)
    return torch.as_tensor(prior).float().cpu().reshape(engine.label_spec.size)


def _flipped(y: torch.Tensor, attribute: int) -> torch.Tensor:
    """0/1 vectors [B, A] with one attribute negated, the others kept."""
    target = y.clone()
    target[:, attribute] = 1 - y[:, attribute]
    return target


# ----------------------------------------------------------------------------------------------------------------
# Reconstruction
# ----------------------------------------------------------------------------------------------------------------

def reconstruction_error(engine, images: torch.Tensor) -> dict:
    """How well decode(encode(x)) at the encoder mean reproduces x.

    Returns ``nll``: -log p(x|z) per image, summed over pixels, under the model's own likelihood (so a Laplace run
    is scored with its learned scale, not as a unit-scale Laplace), and ``mse``: mean squared pixel error.
    """
    x = torch.as_tensor(images).float().cpu()
    recon, log_px = engine.reconstruct_scored(x)
    recon, log_px = torch.as_tensor(recon).float().cpu(), torch.as_tensor(log_px).float().cpu()
    return {"nll": float(-log_px.mean()), "mse": float(((x - recon) ** 2).mean())}


# ----------------------------------------------------------------------------------------------------------------
# What z_c carries
# ----------------------------------------------------------------------------------------------------------------

def conditional_generation_accuracy(engine, judge, per_label: int = 100, seed: int = 0) -> dict:
    """For each label y: decode z_c ~ p(z_c|y) with a random style z_style ~ N(0, I), ``per_label`` times, and
    count how often the judge calls the picture y. Measures whether the conditional prior p(z_c|y) alone makes
    pictures of y whatever the style, i.e. whether z_c carries the label and the decoder uses it.

    Returns ``accuracy`` (mean over labels) and ``per_label`` (list, label order). Binary attributes:
    ``attribute_generation_accuracy``.
    """
    if _is_binary(engine):
        return attribute_generation_accuracy(engine, judge, per_label, seed)
    gen = _generator(seed)
    per = []
    for y in range(engine.label_spec.size):
        z_c, z_style = engine.generate(y, per_label, generator=gen)
        pred = _judge_classes(judge, engine.decode(z_c, z_style))
        per.append(float((pred == y).float().mean()))
    return {"accuracy": sum(per) / len(per), "per_label": per}


def attribute_generation_accuracy(engine, judge, per_value: int = 100, seed: int = 0) -> dict:
    """Binary attributes: for each attribute i and value v in {0, 1}, ``per_value`` times: a label vector y drawn
    from p(y) (independent attributes, p(y_j = 1) = the training frequency) with y_i set to v, z_c ~ p(z_c|y),
    style ~ N(0, I), decoded; the share of pictures whose judged attribute i is v. Measures whether the
    conditional prior alone sets each attribute, whatever the other attributes and the style are. The other
    attributes are drawn from p(y) rather than fixed so that every combination counts as often as it occurs.

    Returns ``accuracy`` (mean over the 2A (attribute, value) pairs), ``per_label`` (per attribute, mean of its two
    values) and ``per_value`` ([A] pairs [share for v = 0, share for v = 1]).
    """
    gen = _generator(seed)
    p1 = attribute_prior(engine)
    per_value_shares = []
    for i in range(engine.label_spec.size):
        pair = []
        for v in (0, 1):
            y = (torch.rand((per_value, len(p1)), generator=gen) < p1).float()
            y[:, i] = float(v)
            loc, scale = engine.prior(y)
            eps = torch.randn(loc.shape, generator=gen).to(loc.device)
            z_style = torch.randn((per_value, engine.style_dim), generator=gen).to(loc.device)
            judged = _judge_attributes(judge, engine.decode(loc + scale * eps, z_style))
            pair.append(float((judged[:, i] == v).float().mean()))
        per_value_shares.append(pair)
    per_attr = [sum(pair) / 2 for pair in per_value_shares]
    return {"accuracy": sum(per_attr) / len(per_attr), "per_label": per_attr, "per_value": per_value_shares}


def class_statistics(engine, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the encoder actually puts each class: mean and standard deviation of the encoder-mean z_c of the
    given (training) images per class, each [K, Dc] (``core.class_stats.class_stats``: a class with no image gets
    the overall mean, with fewer than two the overall spread; the explorer's class-statistics swap uses the same).

    Binary attributes (labels [N, A] of 0/1; one z_c dimension per attribute, as in the model): where the encoder
    puts z_c[i] for y_i = 0 and for y_i = 1, each [2, A] (row v: value v; ``core.class_stats.attribute_stats``)."""
    z_c = engine.encode(images).z_c.float().cpu().numpy()
    if _is_binary(engine):
        if z_c.shape[1] != engine.label_spec.size:
            raise ValueError(f"attribute statistics need one z_c dimension per attribute ({engine.label_spec.size}), "
                             f"z_c has {z_c.shape[1]}")
        loc, scale = attribute_stats(z_c, torch.as_tensor(labels).float().cpu().reshape(len(z_c), -1).numpy())
    else:
        loc, scale = class_stats(z_c, torch.as_tensor(labels).reshape(-1).cpu().numpy(), engine.label_spec.size)
    return torch.from_numpy(loc), torch.from_numpy(scale)


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
    Binary attributes: ``attribute_flip_success``.
    """
    if _is_binary(engine):
        return attribute_flip_success(engine, judge, images, class_stats)
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
            z_c = move_between(enc.z_c[move.to(dev)], loc, scale, src, target)
        pred = _judge_classes(judge, engine.decode(z_c, enc.z_style[move.to(dev)]))
        k = int((pred == target).sum())
        hits, total = hits + k, total + len(move)
        per.append(k / len(move))
    return {"success": hits / max(total, 1), "per_target": per}


def attribute_flip_success(engine, judge, images: torch.Tensor, class_stats: tuple | None = None) -> dict:
    """Binary attributes: flip each attribute of each image in turn and count how often the judge sees the flip.

    The source attributes are the CCVAE's own verdict y = predict(z_c) (what the explorer flips from); for
    attribute i the target is y with y_i negated, z_c is moved from p(z_c|y) to p(z_c|y') (``swap_label``: only
    the flipped attribute's part of z_c moves, keeping its place in the mode), the style is kept, and the result
    decoded. A success is a judged attribute i equal to the target value. Measures whether editing z_c alone
    changes that attribute of the picture, as the model claims it should.

    With ``class_stats`` = (loc [2, A], scale [2, A]) from ``class_statistics`` (one z_c dimension per attribute),
    z_c[i] is instead moved between where the encoder puts y_i = 0 and y_i = 1: z_c[i]' = loc[t, i] +
    scale[t, i] (z_c[i] - loc[s, i]) / scale[s, i], s the source value, t = 1 - s; the other dimensions stay.

    Every image is flipped once per attribute, so ``success`` (share over all image x attribute pairs) is also
    the mean over attributes of ``per_target`` (share per attribute).
    """
    enc = engine.encode(images)
    dev = enc.z_c.device
    y_from = torch.as_tensor(engine.predict(enc.z_c)).float().cpu().reshape(len(enc.z_c), -1)
    per = []
    for i in range(engine.label_spec.size):
        target = _flipped(y_from, i)
        if class_stats is None:
            z_c = engine.swap_label(enc.z_c, y_from.to(dev), target.to(dev))
        else:
            loc, scale = (torch.as_tensor(t).float().cpu() for t in class_stats)
            src, dst = y_from[:, i].long(), target[:, i].long()
            z_c = enc.z_c.clone()
            moved = move_between(enc.z_c[:, i].float().cpu(), loc[:, i], scale[:, i], src, dst)
            z_c[:, i] = moved.to(dev)
        judged = _judge_attributes(judge, engine.decode(z_c, enc.z_style))
        per.append(float((judged[:, i] == target[:, i]).float().mean()))
    return {"success": sum(per) / len(per), "per_target": per}


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

    Binary attributes: the intervention is an attribute flip instead of a label swap. Each image x (style s,
    predicted attributes y) gets one attribute i drawn at random and negated, y' = y with y_i flipped; swapped =
    decode(swap(z_c, y -> y'), s), same/other = the mean of p(z_c|y') (the typical picture of the target
    attributes) in x's style / in a random other image's style; the rest as above.
    """
    gen = _generator(seed)
    enc = engine.encode(images)
    n = len(enc.z_c)
    if n < MIN_TEST_IMAGES:
        raise MeasureError(f"style preservation needs at least {MIN_TEST_IMAGES} images (it pairs each with another)")
    dev = enc.z_c.device
    if _is_binary(engine):
        y_from = torch.as_tensor(engine.predict(enc.z_c)).float().cpu().reshape(n, -1)
        which = torch.randint(0, engine.label_spec.size, (n,), generator=gen)
        y_to = y_from.clone()
        y_to[torch.arange(n), which] = 1 - y_from[torch.arange(n), which]
    else:
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

    Binary attributes: the same transfer, counted per attribute: ``unchanged`` is the share of (image, attribute)
    pairs whose judged attribute is the same with the other image's style as with the own style,
    ``agrees_with_label`` the share of pairs judged as the CCVAE predicts attribute i of x, and ``per_attribute``
    the ``unchanged`` share of each attribute.
    """
    gen = _generator(seed)
    enc = engine.encode(images)
    n = len(enc.z_c)
    if n < 2:
        raise ValueError("style invariance needs at least two images (it pairs each with another)")
    dev = enc.z_c.device
    partner = _derangement(n, gen)
    if _is_binary(engine):
        own = _judge_attributes(judge, engine.decode(enc.z_c, enc.z_style))
        moved = _judge_attributes(judge, engine.decode(enc.z_c, enc.z_style[partner.to(dev)]))
        y = torch.as_tensor(engine.predict(enc.z_c)).float().cpu().reshape(n, -1)
        same = (own == moved).float()
        return {"unchanged": float(same.mean()), "agrees_with_label": float((moved == y).float().mean()),
                "per_attribute": same.mean(0).tolist()}
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


def measure_all(engine, judge, images: torch.Tensor, per_label: int = 100, seed: int = 0,
                class_stats: tuple | None = None) -> dict:
    """Every measure on the given (test) images, as one flat dict of floats (keys: MEASURE_COLUMNS) plus the
    per-label details. ``class_stats`` (from ``class_statistics`` on training images) adds the swap between
    encoder class statistics. Binary attributes get the binary forms under the same keys (labels become
    attributes, swaps become attribute flips; ``per_label`` counts (attribute, value) draws) plus
    ``cond_gen_per_value`` and ``locality_per_attribute``."""
    rec = reconstruction_error(engine, images)
    out = {"recon_nll": rec["nll"], "recon_mse": rec["mse"]}
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
    if _is_binary(engine):
        out.update(cond_gen_per_value=gen["per_value"], locality_per_attribute=local["per_attribute"])
    return out
