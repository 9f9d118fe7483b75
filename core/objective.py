"""The CCVAE objective (Joy et al., ICLR 2021, eqs. 4 and 5), maximised; the losses here are its negative mean.

Labelled (x, y), with w = q(y|z_c) / q(y|x):
    L(x, y) = E_q(z|x)[ w * (log p(x|z) + log p(z_c|y) + log p(z_s) - log q(z|x) - log q(y|z_c)) ]
              + log q(y|x) + log p(y)
Unlabelled x:
    L(x) = E_q(z|x) q(y|z_c)[ log p(x|z) + log p(z_c|y) + log p(z_s) + log p(y) - log q(z|x) - log q(y|z_c) ]

Estimators used here, all unbiased for the expressions above:
- one reparameterised sample z ~ q(z|x);
- the z_c block of the latent terms, log p(z_c|y) - log q(z_c|x), at that sample (the importance weight and the
  label expectation both depend on z_c, so an analytic KL would not be the same expectation);
- the style block, log p(z_s) - log q(z_s|x), as minus the analytic KL: z_s is independent of z_c under q, so
  its expectation factors out of every term that multiplies it;
- q(y|x) ~ (1/K) sum_k q(y|z_c^(k)) with K samples of z_c drawn from the same encoder output (one encoder pass;
  the samples only need the classifier);
- the unlabelled expectation over y by enumeration (exact), not by sampling.
``beta`` scales the latent terms (log p(z|y) + log p(z_s) - log q(z|x)); beta = 1 is the paper's objective.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.heads import normal_log_prob
from core.model import CCVAE


@dataclass
class LossParts:
    """The loss and its parts, each a batch mean, for logging (``loss`` keeps its graph; the rest are floats)."""

    loss: torch.Tensor
    recon: float            # -log p(x|z)
    latent: float           # -(log p(z|y) + log p(z_s) - log q(z|x)), before beta
    classifier: float       # -log q(y|x) (labelled) or -E_q(y|z_c)[log p(y) - log q(y|z_c)] (unlabelled)
    weight: float = float("nan")  # mean importance weight w (labelled only)

    def as_dict(self, prefix: str) -> dict[str, float]:
        out = {f"{prefix}loss": float(self.loss.detach()), f"{prefix}recon": self.recon,
               f"{prefix}latent": self.latent, f"{prefix}classifier": self.classifier}
        if not math.isnan(self.weight):
            out[f"{prefix}weight"] = self.weight
        return out


def style_kl(loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """KL(N(loc, scale^2) || N(0, I)) summed over dimensions -> [B]."""
    return 0.5 * (loc.pow(2) + scale.pow(2) - 1.0).sum(-1) - scale.log().sum(-1)


def _encode_and_sample(model: CCVAE, x: torch.Tensor):
    x = model.prepare(x)
    loc, scale = model.encode(x)
    loc, scale = loc.float(), scale.float()
    z = loc + scale * torch.randn_like(loc)
    z_c, _ = model.split(z)
    loc_c, loc_s = model.split(loc)
    scale_c, scale_s = model.split(scale)
    log_q_zc = normal_log_prob(z_c, loc_c, scale_c).sum(-1)
    kl_s = style_kl(loc_s, scale_s)
    log_px = model.log_px(model.decode_raw(z), x)
    return z_c, loc_c, scale_c, log_q_zc, kl_s, log_px


def log_q_y_given_x(model: CCVAE, loc_c: torch.Tensor, scale_c: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """log q(y|x) ~ logsumexp_k log q(y|z_c^(k)) - log K, z_c^(k) ~ q(z_c|x) reparameterised -> [B]."""
    z_ck = loc_c + scale_c * torch.randn((k, *loc_c.shape), device=loc_c.device, dtype=loc_c.dtype)  # [K, B, Dc]
    return torch.logsumexp(model.head.log_q_y(z_ck, y), dim=0) - math.log(k)


def supervised_loss(model: CCVAE, x: torch.Tensor, y: torch.Tensor, beta: float = 1.0, k: int = 100) -> LossParts:
    """Negative labelled objective. x [B, C, H, W] in [0, 1]; y [B] class indices or [B, A] 0/1 floats."""
    z_c, loc_c, scale_c, log_q_zc, kl_s, log_px = _encode_and_sample(model, x)
    head = model.head
    log_qy_zc = head.log_q_y(z_c, y)
    log_qy_x = log_q_y_given_x(model, loc_c, scale_c, y, k)
    # the numerator of w sees a detached z_c (the authors' variance cut); w itself carries gradients
    w = torch.exp(head.log_q_y(z_c.detach(), y) - log_qy_x)
    latent = head.log_p_zc(z_c, y) - log_q_zc - kl_s
    objective = w * (log_px + beta * latent - log_qy_zc) + log_qy_x + model.log_py(y)
    return LossParts(loss=-objective.mean(), recon=float(-log_px.mean().detach()),
                     latent=float(-latent.mean().detach()), classifier=float(-log_qy_x.mean().detach()),
                     weight=float(w.mean().detach()))


def unsupervised_loss(model: CCVAE, x: torch.Tensor, beta: float = 1.0) -> LossParts:
    """Negative unlabelled objective, the expectation over y taken exactly by enumerating the labels."""
    z_c, _, _, log_q_zc, kl_s, log_px = _encode_and_sample(model, x)
    prior_term, label_term = model.head.enumerated_terms(z_c, model.log_py_table())
    latent = prior_term - log_q_zc - kl_s
    objective = log_px + beta * latent + label_term
    return LossParts(loss=-objective.mean(), recon=float(-log_px.mean().detach()),
                     latent=float(-latent.mean().detach()), classifier=float(-label_term.mean().detach()))
