"""The Characteristic Capturing VAE: encoder q(z|x), decoder p(x|z), and the label heads on z_c.

The latent z [B, latent_dim] is laid out as [z_c | z_style]: the first ``zc_dim`` entries carry the label
characteristics, the rest (the style, z_\\c in the paper) have the prior N(0, I).
"""
from __future__ import annotations

import torch
from torch import nn

from core.config import ModelConfig
from core.heads import make_head
from core.likelihood import decoder_channels
from core.pixel_likelihood import PixelLikelihood
from core.networks import Decoder, Encoder, default_channels


class CCVAE(nn.Module):
    def __init__(self, config: ModelConfig, label_prior: torch.Tensor | None = None):
        super().__init__()
        self.config = config
        channels = config.hidden_channels or default_channels(config.image_shape[1])
        self.encoder = Encoder(config.image_shape, config.latent_dim, channels)
        c, h, w = config.image_shape
        self.decoder = Decoder((decoder_channels(config.likelihood, c), h, w), config.latent_dim, channels)
        self.likelihood = PixelLikelihood(config.likelihood, c, config.likelihood_scale)
        self.head = make_head(config.label_spec, config.zc_dim)
        self.encoder.to(memory_format=torch.channels_last)
        self.decoder.to(memory_format=torch.channels_last)
        if label_prior is None:  # uniform p(y) until the data says otherwise
            size = config.label_spec.size
            label_prior = torch.full((size,), 1.0 / size if config.label_spec.is_multiclass else 0.5)
        # p(y) is data, not a parameter: a buffer travels with the weights but is never trained
        self.register_buffer("label_prior", label_prior.detach().float().clone())

    @property
    def zc_dim(self) -> int:
        return self.config.zc_dim

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z [..., latent_dim] -> (z_c [..., zc_dim], z_style [..., style_dim])."""
        return z[..., : self.zc_dim], z[..., self.zc_dim:]

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W] in the memory layout the networks run in: convert once, then encode it and score the
        decoder's output against it without a second copy or mixed-layout arithmetic."""
        return self.encoder.prepare(x)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, C, H, W] in [0, 1] -> (loc, scale) of q(z|x), each [B, latent_dim]."""
        return self.encoder(x)

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, latent_dim] -> the decoded image [B, C, H, W] in [0, 1] (the likelihood's mean)."""
        return self.likelihood.mean(self.decoder(z))

    def log_px(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over pixels -> [B] (core.likelihood: Bernoulli with grey levels as soft targets,
        the continuous Bernoulli, or a Laplace with a fixed, per-channel or per-pixel scale)."""
        return self.likelihood.log_prob(raw, x)

    def log_py_table(self):
        """log p(y) for every label value: [K] (multi-class) or (log p(y_i=1) [A], log p(y_i=0) [A])."""
        prior = self.label_prior
        if self.config.label_spec.is_multiclass:
            return prior.log()
        return prior.log(), (1 - prior).log()

    def log_py(self, y: torch.Tensor) -> torch.Tensor:
        """log p(y) for given labels -> [B]."""
        if self.config.label_spec.is_multiclass:
            return self.label_prior.log()[y]
        p = self.label_prior
        return (y * p.log() + (1 - y) * (1 - p).log()).sum(-1)

    def classify(self, z_c: torch.Tensor) -> torch.Tensor:
        """q(y|z_c): class probabilities [B, K] or attribute probabilities [B, A]."""
        return self.head.probs(z_c)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's answer at z_c = encoder mean: class index [B] or 0/1 attributes [B, A]."""
        loc, _ = self.encode(x)
        probs = self.classify(self.split(loc)[0])
        if self.config.label_spec.is_multiclass:
            return probs.argmax(-1)
        return (probs > 0.5).float()
