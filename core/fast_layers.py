"""Convolution layers that compute exactly what torch's do, faster on the CPU (float32, bench/train_throughput.py).

They are subclasses of ``nn.Conv2d`` and ``nn.ConvTranspose2d`` with the same parameters and state-dict names, so
checkpoints do not notice; only how the forward and backward passes are computed differs, and only on the CPU
without autocast (CUDA and bfloat16 autocast take torch's own path, which they were measured with).

Measured at the CelebA setting (batch 200, 64x64x3, one thread, CPU time per call, torch 2.14.1, oneDNN):
- A transposed convolution's backward in oneDNN costs 1.3-1.6x more than the same products computed as ordinary
  convolutions: the 32->32 layer (16x16 -> 32x32) took 58 ms for input, weight and bias gradients together, against
  18 ms (input gradient: a conv2d) + 18 ms (weight gradient: an ordinary conv's weight gradient with input and
  output swapped) + 0.4 ms (bias gradient: a sum).
- oneDNN's forward transposed convolution to few channels is slow: 32->3 channels (32x32 -> 64x64) took 37 ms; the
  same result as one 2x2 convolution to the four output phases (12 channels), then interleaved, takes 16 ms.
- A convolution whose kernel covers its whole input (the 4x4 conv to 256 channels on a 4x4 map), and a transposed
  one from a 1x1 input, are matrix products: 21 and 25 ms forward and backward as convolutions, about 9 ms as one.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

# the phase form of the forward pass pays where oneDNN's own is slow: few output channels (measured: 3 channels
# 16 ms against 37 ms; 32 channels 33 ms against 21 ms)
PHASE_FORWARD_MAX_CHANNELS = 8


def _fast_path(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")


def memory_layout(x: torch.Tensor) -> torch.memory_format:
    """channels_last for a 4-D tensor stored that way, else the default layout."""
    return torch.channels_last if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
        and not x.is_contiguous() else torch.contiguous_format


def phase_conv_transpose2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """conv_transpose2d(x, weight, bias, stride=2, padding=1) for 4x4 kernels, computed as one 2x2 convolution.

    Output pixel (2m + r, 2n + s) sees input rows m - 1 + r and m + r (and columns likewise) through kernel taps
    3 - r - 2d (d = 0, 1 the row inside the 2x2 window): a 2x2 convolution with padding 1 gives, at window
    (m + r, n + s), every phase (r, s) at once as 4 x out_channels channels. x [B, Ci, H, W] -> [B, Co, 2H, 2W]
    (channels last). Called without autograd (inside a custom Function).
    """
    c_in, c_out = weight.shape[:2]
    batch, _, height, width = x.shape
    # phase_weight[(co, r, s), ci, d, e] = weight[ci, co, 3 - r - 2d, 3 - s - 2e]
    phase_weight = (weight.flip(2, 3).reshape(c_in, c_out, 2, 2, 2, 2).permute(1, 3, 5, 0, 2, 4)
                    .reshape(4 * c_out, c_in, 2, 2).contiguous(memory_format=torch.channels_last))
    phases = F.conv2d(x, phase_weight, None if bias is None else bias.repeat_interleave(4), padding=1)
    phases = phases.unflatten(1, (c_out, 2, 2))  # [B, Co, r, s, H + 1, W + 1]
    out = torch.empty((batch, c_out, 2 * height, 2 * width), dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last)
    by_phase = out.permute(0, 2, 3, 1).view(batch, height, 2, width, 2, c_out)  # out's memory, phase by phase
    for r in (0, 1):
        for s in (0, 1):
            by_phase[:, :, r, :, s, :] = phases[:, :, r, s, r:r + height, s:s + width].permute(0, 2, 3, 1)
    return out  # not a view: the ReLU after it works in place


class _ConvTranspose2dFunction(torch.autograd.Function):
    """A transposed convolution (groups 1, dilation 1, no output padding) whose backward pass is ordinary
    convolutions: input gradient conv2d(grad, weight), weight gradient that of a conv2d from grad to x."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, phase):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        if phase:
            return phase_conv_transpose2d(x, weight, bias)
        return F.conv_transpose2d(x, weight, bias, stride, padding)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous(memory_format=memory_layout(x))  # one layout for oneDNN: no reorders inside
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = F.conv2d(grad, weight, None, ctx.stride, ctx.padding) if need_x else None
        grad_w = None
        if need_w:
            # y = conv_transpose(x, W) is the input gradient of a conv from y's shape to x's shape; W's gradient is
            # that conv's weight gradient with the conv's input = grad and its output gradient = x
            grad_w = torch.ops.aten.convolution_backward(
                x, grad, weight, None, ctx.stride, ctx.padding, [1, 1], False, [0, 0], 1, [False, True, False])[1]
        grad_b = grad.sum((0, 2, 3)) if need_b and ctx.has_bias else None
        return grad_x, grad_w, grad_b, None, None, None


class ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d with the CPU backward as ordinary convolutions, the phase forward for few output
    channels, and the matrix-product form from a 1x1 input."""

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        plain = (output_size is not None or self.groups != 1 or self.dilation != (1, 1)
                 or self.output_padding != (0, 0) or x.dim() != 4 or not _fast_path(x))
        if plain:
            return super().forward(x, output_size)
        if x.shape[-2:] == (1, 1) and self.padding == (0, 0):
            return self._from_one_pixel(x)
        phase = (self.kernel_size == (4, 4) and self.stride == (2, 2) and self.padding == (1, 1)
                 and self.out_channels <= PHASE_FORWARD_MAX_CHANNELS)
        return _ConvTranspose2dFunction.apply(x, self.weight, self.bias, list(self.stride), list(self.padding), phase)

    def _from_one_pixel(self, x: torch.Tensor) -> torch.Tensor:
        """From a 1x1 input every output pixel is a linear map of the input vector: one matrix product,
        [B, Ci] @ [Ci, (kh, kw, Co)] -> channels-last [B, Co, kh, kw]."""
        kh, kw = self.kernel_size
        matrix = self.weight.permute(0, 2, 3, 1).reshape(self.in_channels, kh * kw * self.out_channels)
        bias = None if self.bias is None else self.bias.repeat(kh * kw)
        out = F.linear(x.flatten(1), matrix.t(), bias)
        return out.view(x.shape[0], kh, kw, self.out_channels).permute(0, 3, 1, 2)


class Conv2d(nn.Conv2d):
    """nn.Conv2d computed as a matrix product on the CPU when its kernel covers the whole (unpadded) input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        whole = (x.dim() == 4 and x.shape[-2:] == self.kernel_size and self.padding == (0, 0)
                 and self.groups == 1 and self.dilation == (1, 1) and _fast_path(x))
        if not whole:
            return super().forward(x)
        # flatten input and kernel in the same (memory) order: (h, w, c) for channels last, else (c, h, w)
        if memory_layout(x) == torch.channels_last:
            flat_x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
            matrix = self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, -1)
        else:
            flat_x, matrix = x.reshape(x.shape[0], -1), self.weight.reshape(self.out_channels, -1)
        return F.linear(flat_x, matrix, self.bias)[:, :, None, None]


def with_torch_layers(model: nn.Module) -> nn.Module:
    """Swap this module's convolutions in ``model`` for torch's own with the same weights, in place (for the
    throughput reference, which runs torch's layers as the authors' port does, and for tests that compare)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (Conv2d, ConvTranspose2d)):
                base = nn.Conv2d if isinstance(child, Conv2d) else nn.ConvTranspose2d
                plain = base(child.in_channels, child.out_channels, child.kernel_size, child.stride, child.padding,
                             bias=child.bias is not None).to(child.weight.device)
                plain.load_state_dict(child.state_dict())
                setattr(parent, name, plain)
    return model
