"""The densities of core.likelihood's choices: log p(x|z) and the decoded image (the likelihood's mean)."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from core.fast_layers import memory_layout

from core.likelihood import check_likelihood

# a density sharper than one grey level of an 8-bit image says nothing more about the picture: floor the
# learned Laplace scales there so a flat background cannot drive log p(x|z) to infinity
MIN_SCALE = 1.0 / 255.0
# running average of laplace-channel's batch scales (for evaluation): weight of the newest batch
SCALE_MOMENTUM = 0.05


def _log_cb_norm(logits: torch.Tensor) -> torch.Tensor:
    """log C of the continuous Bernoulli in terms of its logit l: C = l / tanh(l / 2) (2 at l = 0)."""
    small = logits.abs() < 1e-2
    safe = torch.where(small, torch.ones_like(logits), logits)
    exact = torch.log(safe / torch.tanh(safe / 2))
    taylor = math.log(2.0) + logits.pow(2) / 12.0
    return torch.where(small, taylor, exact)


def _cb_mean(logits: torch.Tensor) -> torch.Tensor:
    """Mean of the continuous Bernoulli: 1/2 + 1/(2 tanh(l/2)) - 1/l (1/2 + l/12 near l = 0)."""
    small = logits.abs() < 1e-2
    safe = torch.where(small, torch.ones_like(logits), logits)
    exact = 0.5 + 0.5 / torch.tanh(safe / 2) - 1.0 / safe
    return torch.where(small, 0.5 + logits / 12.0, exact)


class _FixedLaplaceLogProb(torch.autograd.Function):
    """log Laplace(x; sigmoid(raw), b) summed over pixels -> [B], for a fixed scale b, in three passes forward and
    four in-place passes backward (the same formula as plain tensor ops took twelve passes and eight temporaries:
    bench/train_throughput.py). raw and x [B, ...] in one memory layout."""

    @staticmethod
    def forward(ctx, raw, x, b: float):
        mean = torch.sigmoid(raw)
        residual = mean - x
        ctx.save_for_backward(mean, residual)
        ctx.b = b
        pixels = x[0].numel()
        l1 = torch.linalg.vector_norm(residual, ord=1, dim=tuple(range(1, x.dim())))  # flatten would copy channels-last
        return -l1 / b - pixels * math.log(2.0 * b)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        mean, residual = ctx.saved_tensors  # used once: overwritten in place
        # d/d raw of -|mean - x| / b is -sign(mean - x) * mean * (1 - mean) / b
        slope = mean.addcmul_(mean, mean, value=-1.0)
        out = residual.sign_().mul_(slope)
        out.mul_((grad / -ctx.b).view(-1, *([1] * (out.dim() - 1))))
        return out, None, None


class PixelLikelihood(nn.Module):
    """p(x|z) for a decoder output ``raw`` [B, decoder_channels, H, W] and images x [B, C, H, W] in [0, 1]."""

    def __init__(self, name: str, image_channels: int, scale: float = 1.0):
        super().__init__()
        check_likelihood(name)
        self.name = name
        self.channels = image_channels
        self.fixed_scale = float(scale)
        if name == "laplace-channel":
            # a buffer, not a parameter: its value comes from the residuals, never from a gradient step
            self.register_buffer("running_scale", torch.ones(image_channels))

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        """The decoded image [B, C, H, W] in [0, 1]: the likelihood's mean."""
        raw = raw[:, : self.channels]
        if self.name == "continuous-bernoulli":
            return _cb_mean(raw.float()).to(raw.dtype)
        return torch.sigmoid(raw)

    def scale(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The Laplace scale, broadcastable to x; laplace-channel updates its running value while training."""
        if self.name == "laplace":
            return torch.tensor(self.fixed_scale, device=x.device)
        if self.name == "laplace-pixel":
            return F.softplus(raw[:, self.channels:]) + MIN_SCALE
        # laplace-channel: the maximum-likelihood scale of a Laplace is the mean absolute residual
        if self.training:
            residual = (x - torch.sigmoid(raw)).abs().detach()
            batch = residual.mean(dim=(0, 2, 3)).clamp_min(MIN_SCALE)
            with torch.no_grad():
                self.running_scale.lerp_(batch, SCALE_MOMENTUM)
            return batch.view(1, -1, 1, 1)
        return self.running_scale.clamp_min(MIN_SCALE).view(1, -1, 1, 1)

    def log_prob(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over pixels -> [B], in float32 whatever the autocast dtype of ``raw``."""
        raw, x = raw.float(), x.float()
        if self.name in ("bernoulli", "continuous-bernoulli"):
            log_p = -F.binary_cross_entropy_with_logits(raw, x, reduction="none")
            if self.name == "continuous-bernoulli":
                log_p = log_p + _log_cb_norm(raw)
            return log_p.flatten(1).sum(-1)
        mean_raw = raw[:, : self.channels]
        if self.name == "laplace" and not x.requires_grad:
            return _FixedLaplaceLogProb.apply(mean_raw, x.contiguous(memory_format=memory_layout(mean_raw)), self.fixed_scale)
        b = self.scale(raw, x)
        log_p = -(x - torch.sigmoid(mean_raw)).abs() / b - torch.log(2.0 * b)
        return log_p.expand_as(x).flatten(1).sum(-1)
