"""Convolutional encoder and decoder, following the image size (grey or RGB at any of the sizes).

28x28 (MNIST-like): two 4x4 stride-2 convs (32, 64 channels) and a 256-unit hidden layer.
64x64 (CelebA): the CCVAE authors' network: four 4x4 stride-2 convs (32, 32, 64, 128), a 4x4 conv to 256,
then a linear layer; the decoder mirrors it.
32x32 and 128x128 follow the authors' pattern: stride-2 convs halve the side down to 4x4 (one conv fewer at 32,
one more at 128, widening to 256), then the same 4x4 conv to 256 and linear layer.
The conv layers are core.fast_layers': torch's layers, computed faster on the CPU; each applies the ReLU after
it, whose place a ReLUInConv keeps so that module indices (checkpoint names) stay as they were.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from core.fast_layers import Conv2d, ConvTranspose2d, ReLUInConv

DEFAULT_CHANNELS = {28: (32, 64), 32: (32, 64, 128), 64: (32, 32, 64, 128), 128: (32, 32, 64, 128, 256)}
IMAGE_SIZES = tuple(sorted(DEFAULT_CHANNELS))


def default_channels(image_size: int) -> tuple[int, ...]:
    if image_size not in DEFAULT_CHANNELS:
        raise ValueError(f"image size must be one of {list(IMAGE_SIZES)}, got {image_size}")
    return DEFAULT_CHANNELS[image_size]


class Encoder(nn.Module):
    """x [B, C, H, W] in [0, 1] -> (loc, scale) of the diagonal Gaussian q(z|x), each [B, latent_dim]."""

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int, channels: tuple[int, ...]):
        super().__init__()
        c_in, size, _ = image_shape
        layers: list[nn.Module] = []
        for c_out in channels:
            layers += [Conv2d(c_in, c_out, 4, stride=2, padding=1, relu=True), ReLUInConv()]
            c_in, size = c_out, size // 2
        if size == 4:  # the authors' 64x64 network ends with a 4x4 conv down to one 256-channel pixel
            layers += [Conv2d(c_in, 256, 4, relu=True), ReLUInConv(), nn.Flatten()]
        else:
            layers += [nn.Flatten(), nn.Linear(c_in * size * size, 256), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(256, 2 * latent_dim)
        self.channels_last = True

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """x in the layout the networks run in (a no-op when it already is)."""
        if self.channels_last:  # oneDNN's native layout: no reorders around each conv (bench/train_throughput.py)
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, raw_scale = self.head(self.features(self.prepare(x))).chunk(2, dim=-1)
        # softplus keeps the scale positive without exp's overflow; the floor avoids log(0) in log q(z|x)
        return loc, F.softplus(raw_scale) + 1e-4


class Decoder(nn.Module):
    """z [B, latent_dim] -> unnormalised outputs [B, C, H, W] (logits for Bernoulli, pre-sigmoid means for Laplace)."""

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int, channels: tuple[int, ...]):
        super().__init__()
        c_out_final, image_size, _ = image_shape
        size = image_size // 2 ** len(channels)
        widths = list(reversed(channels))
        if size == 4:
            self.stem = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(inplace=True),
                                      nn.Unflatten(1, (256, 1, 1)),
                                      ConvTranspose2d(256, widths[0], 4, relu=True), ReLUInConv())
        else:
            self.stem = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(inplace=True),
                                      nn.Linear(256, widths[0] * size * size), nn.ReLU(inplace=True),
                                      nn.Unflatten(1, (widths[0], size, size)))
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, relu=True), ReLUInConv()]
        # no activation after the last layer: the likelihood decides how outputs are read
        layers.append(ConvTranspose2d(widths[-1], c_out_final, 4, stride=2, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(z))
