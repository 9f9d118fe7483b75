"""The two label-side parts of the CCVAE: the classifier q(y|z_c) and the conditional prior p(z_c|y).

Both heads share one interface so the objective and the inference code need not know the label kind:

- ``log_q_y(z_c, y)``: log q(y|z_c) for given labels, summed over attributes. z_c [..., Dc] -> [...].
- ``log_p_zc(z_c, y)``: log p(z_c|y), summed over z_c dimensions. -> [...].
- ``enumerated_terms(z_c, log_py)``: the parts of the unlabelled objective that depend on y, with the
  expectation over y under q(y|z_c) taken exactly by summing over every label value:
  (E_y[log p(z_c|y)], E_y[log p(y) - log q(y|z_c)]), each [B].
- ``prior(y)``: (loc, scale) of p(z_c|y), each [B, Dc].
- ``probs(z_c)``: what the classifier says: class probabilities [B, K] or attribute probabilities [B, A].
- ``prior_parameters()``: the parameters of p(z_c|y) (the rest belong to the classifier).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from core.labels import LabelSpec

_SOFTPLUS_ONE = math.log(math.e - 1.0)  # softplus^-1(1): scales start at 1


def normal_log_prob(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(x; loc, scale^2); cheaper than building a torch.distributions object per call."""
    return -0.5 * ((x - loc) / scale) ** 2 - scale.log() - 0.5 * math.log(2 * math.pi)


class MulticlassHead(nn.Module):
    """One label with K classes: q(y|z_c) = softmax(linear(z_c)), p(z_c|y) = N(mu_y, diag sigma_y^2)."""

    def __init__(self, num_classes: int, zc_dim: int):
        super().__init__()
        self.classifier = nn.Linear(zc_dim, num_classes)
        # class means start apart so the classes do not begin on top of each other
        self.prior_loc = nn.Parameter(torch.randn(num_classes, zc_dim))
        self.prior_raw_scale = nn.Parameter(torch.full((num_classes, zc_dim), _SOFTPLUS_ONE))

    def prior_scale(self) -> torch.Tensor:
        return F.softplus(self.prior_raw_scale) + 1e-4

    def prior_parameters(self) -> list[nn.Parameter]:
        return [self.prior_loc, self.prior_raw_scale]

    def prior(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.prior_loc[y], self.prior_scale()[y]

    def log_q_y(self, z_c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_probs = F.log_softmax(self.classifier(z_c), dim=-1)
        return log_probs.gather(-1, y.expand(log_probs.shape[:-1]).unsqueeze(-1)).squeeze(-1)

    def log_p_zc(self, z_c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loc, scale = self.prior(y)
        return normal_log_prob(z_c, loc, scale).sum(-1)

    def enumerated_terms(self, z_c: torch.Tensor, log_py: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_q = F.log_softmax(self.classifier(z_c), dim=-1)  # [B, K]
        q = log_q.exp()
        log_p_zc_all = normal_log_prob(z_c.unsqueeze(1), self.prior_loc, self.prior_scale()).sum(-1)  # [B, K]
        return (q * log_p_zc_all).sum(-1), (q * (log_py - log_q)).sum(-1)

    def probs(self, z_c: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.classifier(z_c), dim=-1)


class BinaryHead(nn.Module):
    """A binary attributes, one z_c dimension each: q(y_i|z_c,i) = sigmoid(w_i z_c,i + b_i) and
    p(z_c,i|y_i) = N(loc_{y_i,i}, softplus(raw_{y_i,i})) with separate parameters for y_i = 1 and y_i = 0."""

    def __init__(self, num_attributes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_attributes))
        self.bias = nn.Parameter(torch.zeros(num_attributes))
        self.loc_true = nn.Parameter(torch.ones(num_attributes))
        self.loc_false = nn.Parameter(-torch.ones(num_attributes))
        self.raw_scale_true = nn.Parameter(torch.full((num_attributes,), _SOFTPLUS_ONE))
        self.raw_scale_false = nn.Parameter(torch.full((num_attributes,), _SOFTPLUS_ONE))

    def logits(self, z_c: torch.Tensor) -> torch.Tensor:
        return z_c * self.weight + self.bias

    def prior_parameters(self) -> list[nn.Parameter]:
        return [self.loc_true, self.loc_false, self.raw_scale_true, self.raw_scale_false]

    def prior(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc = y * self.loc_true + (1 - y) * self.loc_false
        raw = y * self.raw_scale_true + (1 - y) * self.raw_scale_false
        return loc, F.softplus(raw) + 1e-4

    def log_q_y(self, z_c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(self.logits(z_c), y.expand_as(z_c), reduction="none").sum(-1)

    def log_p_zc(self, z_c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loc, scale = self.prior(y)
        return normal_log_prob(z_c, loc, scale).sum(-1)

    def enumerated_terms(self, z_c: torch.Tensor, log_py) -> tuple[torch.Tensor, torch.Tensor]:
        # everything factorises per attribute, so the sum over 2^A label vectors is a sum of A two-term sums
        logits = self.logits(z_c)
        log_q1, log_q0 = F.logsigmoid(logits), F.logsigmoid(-logits)
        scale_true = F.softplus(self.raw_scale_true) + 1e-4
        scale_false = F.softplus(self.raw_scale_false) + 1e-4
        log_p1 = normal_log_prob(z_c, self.loc_true, scale_true)
        log_p0 = normal_log_prob(z_c, self.loc_false, scale_false)
        log_py1, log_py0 = log_py  # each [A]
        q1, q0 = log_q1.exp(), log_q0.exp()
        prior_term = (q1 * log_p1 + q0 * log_p0).sum(-1)
        label_term = (q1 * (log_py1 - log_q1) + q0 * (log_py0 - log_q0)).sum(-1)
        return prior_term, label_term

    def probs(self, z_c: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(z_c))


def make_head(spec: LabelSpec, zc_dim: int) -> nn.Module:
    if spec.is_multiclass:
        return MulticlassHead(spec.size, zc_dim)
    return BinaryHead(spec.size)
