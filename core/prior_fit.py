"""Exact refit of the conditional prior p(z_c|y) to the current encoder: the CCVAE objective's own maximum over
the prior's parameters, in closed form (an M-step), run after the last training epoch (``--prior-refit end``, the
default) or after every epoch (``epoch``).

Why: with the networks held fixed, the objective (core/objective.py) depends on the prior's parameters only through
    labelled x, y:   w * beta * log p(z_c|y),                 w = q(y|z_c) / q(y|x),  z_c ~ q(z_c|x)
    unlabelled x:    beta * sum_y q(y|z_c) log p(z_c|y),      z_c ~ q(z_c|x)
and none of the weights (w, q(y|z_c)) depends on the prior. For a diagonal Gaussian p(z_c|y) the maximum is the
weighted mean and variance of the samples z_c, each label y weighting a sample by its w (labelled, y its label)
or q(y|z_c) (unlabelled). Gradient steps reach the same point only slowly: Adam moves a parameter by about its
learning rate per step, while the encoder can stretch the whole latent space in a few steps, so at small beta
the prior means trail far behind the encoder's class clusters (bench/swap_diagnosis.py, mnist5k, beta 0.001:
prior means 17 apart against 61 between the clusters; swaps through the prior judged as the target 7% of the
time, between the clusters' statistics 90%). Setting the prior to its optimum removes that lag without changing
the objective. Once at the end leaves the networks exactly as the gradient training made them; after every
epoch the encoder trains against a prior that follows it, spreads z_c further and keeps less style under a
swap (mnist5k, beta 1: style kept 0.56 against 0.63 once at the end, swaps 0.97 and 0.98).

Binary attributes (one z_c dimension per attribute): the same per attribute and value, a sample's weight for
y_i = v being w [y_i = v] (labelled) or q(y_i = v | z_c,i) (unlabelled).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from core.data import iterate_batches
from core.heads import BinaryHead, MulticlassHead
from core.objective import log_q_y_given_x

SAMPLES = 4            # z_c ~ q(z_c|x) per image: the expectation over q is estimated with this many samples
MAX_IMAGES = 20000     # a random subset of larger training sets (labelled and unlabelled parts each)
_MIN_SCALE = 2e-4      # the heads add 1e-4 to softplus(raw); keep softplus(raw) positive


def _inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    return y + torch.log(-torch.expm1(-y))


def _weights(model, z_c: torch.Tensor, loc_c, scale_c, y: torch.Tensor | None, k: int) -> torch.Tensor:
    """Per sample and label value, the weight the objective gives log p(z_c|y): z_c [S, B, Dc] ->
    multi-class [S, B, K]; binary [S, B, A, 2] (last axis: value 0, value 1)."""
    head = model.head
    if isinstance(head, MulticlassHead):
        if y is None:
            return F.softmax(head.classifier(z_c), dim=-1)
        w = torch.exp(head.log_q_y(z_c, y) - log_q_y_given_x(model, loc_c, scale_c, y, k))  # [S, B]
        return w.unsqueeze(-1) * F.one_hot(y, head.prior_loc.shape[0]).to(z_c.dtype)
    p1 = torch.sigmoid(head.logits(z_c))  # [S, B, A]
    if y is None:
        return torch.stack([1 - p1, p1], dim=-1)
    w = torch.exp(head.log_q_y(z_c, y) - log_q_y_given_x(model, loc_c, scale_c, y, k))  # [S, B]
    one = torch.stack([1 - y, y], dim=-1).expand(*z_c.shape, 2)
    return w[..., None, None] * one


def _moments(model, z_c: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Weighted zeroth, first and second moments summed over samples and images: multi-class [K, Dc] each,
    binary [2, A] each (row v: value v)."""
    if isinstance(model.head, MulticlassHead):
        r = weights.reshape(-1, weights.shape[-1])  # [N, K]
        z = z_c.reshape(-1, z_c.shape[-1])          # [N, Dc]
        s0 = r.sum(0)[:, None].expand(-1, z.shape[1])
        return s0.clone(), r.T @ z, r.T @ (z * z)
    r = weights.reshape(-1, *weights.shape[-2:])   # [N, A, 2]
    z = z_c.reshape(-1, z_c.shape[-1])[..., None]  # [N, A, 1]
    return r.sum(0).T, (r * z).sum(0).T, (r * z * z).sum(0).T


@torch.no_grad()
def prior_moments(model, data, labelled: np.ndarray, unlabelled: np.ndarray, k: int, batch_size: int = 500,
                  device="cpu", seed: int = 0, num_workers: int = 0) -> torch.Tensor:
    """The sums the refit needs, over the given training images: [3, ...] (weight, weighted z, weighted z^2).
    The labelled and unlabelled parts are each scaled to their full size when a subset is used."""
    gen = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    total = None
    torch_gen = torch.Generator().manual_seed(seed)
    for indices, is_labelled in ((labelled, True), (unlabelled, False)):
        indices = np.asarray(indices)
        if len(indices) == 0:
            continue
        used = np.sort(gen.permutation(indices)[:MAX_IMAGES]) if len(indices) > MAX_IMAGES else indices
        part = None
        for x, y in iterate_batches(data, used, batch_size, shuffle=False, generator=None, num_workers=num_workers):
            loc, scale = model.encode(x.to(device))
            loc_c, _ = model.split(loc.float())
            scale_c, _ = model.split(scale.float())
            eps = torch.randn((SAMPLES, *loc_c.shape), generator=torch_gen).to(device)
            z_c = loc_c + scale_c * eps  # [S, B, Dc]
            labels = y.to(device) if is_labelled else None
            # sums in float64: the variance is E[z^2] - E[z]^2, which float32 sums would round visibly
            weights = _weights(model, z_c, loc_c, scale_c, labels, k).double()
            m = torch.stack(_moments(model, z_c.double(), weights))
            part = m if part is None else part + m
        part = part * (len(indices) / len(used))
        total = part if total is None else total + part
    model.train(was_training)
    return total


@torch.no_grad()
def apply_moments(model, moments: torch.Tensor) -> dict:
    """Set p(z_c|y) to the weighted mean and standard deviation; label values with (almost) no weight keep their
    parameters. Returns how far the prior moved: ``prior_shift`` (mean distance of a class mean, in units of
    its new scale) and ``prior_scale_change`` (mean ratio new / old scale)."""
    head = model.head
    s0, s1, s2 = moments.double()
    present = s0 > 1e-6
    mean = torch.where(present, s1 / s0.clamp_min(1e-12), 0.0)
    var = torch.where(present, s2 / s0.clamp_min(1e-12) - mean ** 2, 1.0)
    std = var.clamp_min(_MIN_SCALE ** 2).sqrt()
    if isinstance(head, MulticlassHead):
        params = [(head.prior_loc, head.prior_raw_scale, slice(None))]
    elif isinstance(head, BinaryHead):
        params = [(head.loc_false, head.raw_scale_false, 0), (head.loc_true, head.raw_scale_true, 1)]
    else:
        raise TypeError(f"no prior refit for {type(head).__name__}")
    shifts, ratios = [], []
    for loc_param, raw_param, row in params:
        keep = present[row]
        new_loc = torch.where(keep, mean[row].to(loc_param.dtype), loc_param)
        old_scale = F.softplus(raw_param) + 1e-4
        new_scale = torch.where(keep, std[row].to(raw_param.dtype), old_scale)
        shifts.append(((new_loc - loc_param) / new_scale).abs()[keep])
        ratios.append((new_scale / old_scale)[keep])
        loc_param.copy_(new_loc)
        raw_param.copy_(_inverse_softplus((new_scale - 1e-4).clamp_min(_MIN_SCALE / 2)))
    shifts, ratios = torch.cat([s.reshape(-1) for s in shifts]), torch.cat([r.reshape(-1) for r in ratios])
    return {"prior_shift": float(shifts.mean()) if len(shifts) else 0.0,
            "prior_scale_change": float(ratios.mean()) if len(ratios) else 1.0}


def refit_prior(model, data, labelled, unlabelled, k: int, device="cpu", seed: int = 0, num_workers: int = 0,
                reduce=None) -> dict:
    """Refit p(z_c|y) in place (see the module docstring). ``reduce`` sums the moments over processes under
    torchrun (each process passes its own share of the images); every process then sets the same prior."""
    moments = prior_moments(model, data, labelled, unlabelled, k, device=device, seed=seed, num_workers=num_workers)
    if moments is None:
        return {}
    if reduce is not None:
        moments = reduce(moments)
    if not torch.isfinite(moments).all():
        return {"prior_refit_skipped": 1.0}
    return apply_moments(model, moments)



def main(argv: list[str] | None = None) -> int:
    """``train_cli.py refit-prior RUN [--measure]``: the refit on a finished run (``core.run.refit_run``)."""
    import json
    import sys
    from pathlib import Path

    from core.checkpoint import CONFIG_FILE, MODEL_FILE
    from core.errors import CCVAEError
    from core.judge import JudgeError
    from core.options import OneLineParser, at_least, fail, finished_run_or_error, set_threads
    from core.run import refit_run

    p = OneLineParser(prog="ccvae-train refit-prior", description="Set the conditional prior p(z_c|y) of a "
                      "finished run to its optimum for the trained encoder (what --prior-refit end does after the "
                      "last epoch) and redraw its figures and summary.")
    p.add_argument("run", help="a finished run folder")
    p.add_argument("--measure", action="store_true", help="then measure it with the judge (as train_cli.py measure)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=at_least(0), default=0, help="CPU threads for torch (0: torch's default)")
    args = p.parse_args(argv)
    problem = finished_run_or_error(args.run, (CONFIG_FILE, MODEL_FILE))
    if problem:
        return fail(problem)
    set_threads(args.threads)
    try:
        summary = refit_run(Path(args.run), measure=args.measure, device=args.device,
                            log=lambda m: print(m, file=sys.stderr))
    except (CCVAEError, JudgeError, ValueError) as e:
        return fail(str(e))
    print(json.dumps(summary))
    return 0
