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
- A layer built with ``relu=True`` applies the ReLU that follows it in the network (a ``ReLUInConv`` keeps that
  ReLU's place, so module indices and checkpoint names stay as they were). The ReLU's backward then masks the
  incoming gradient in place instead of writing a new 26 MB tensor at 32x32x32 (batch 200), and the 32->32
  transposed conv runs with oneDNN's fused ReLU: 11.4 ms against 14.7 ms for the conv and a separate ReLU pass.
  Measured in the whole unlabelled step (two threads, glibc's default allocator, in one run with the reference):
  200 -> 170 ms, much of it from fewer fresh 26 MB buffers to fault in.
"""
from __future__ import annotations

import sys

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


_FUSED_TRANSPOSE_RELU = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn,
                                                                        "_convolution_transpose_pointwise")

# the Python references the autograd engine itself holds on a gradient handed to a backward (measured once, in
# _engine_refs): more than that means user code (a tensor hook, say) keeps the gradient and must not see it changed
_ENGINE_REFS: int | None = None


def _python_refs(grad: torch.Tensor) -> int:
    return sys.getrefcount(grad)


class _RefProbe(torch.autograd.Function):
    seen = 0

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        _RefProbe.seen = _refs_one_call_down(grad)  # counted at the depth _engine_only counts at
        return grad


def _refs_one_call_down(grad: torch.Tensor) -> int:
    return _python_refs(grad)


def _engine_refs() -> int:
    global _ENGINE_REFS
    if _ENGINE_REFS is None:
        x = torch.zeros(2, requires_grad=True)
        with torch.enable_grad():
            (_RefProbe.apply(x) * 2.0).sum().backward()
        _ENGINE_REFS = _RefProbe.seen
    return _ENGINE_REFS


def _engine_only(grad: torch.Tensor) -> bool:
    """Whether nothing but the autograd engine holds this gradient: one owner in C++ (an addition's backward hands
    one tensor to both its inputs) and no Python reference beyond the engine's own (a hook that kept it)."""
    return (getattr(grad, "_use_count", lambda: 2)() == 1 and _ENGINE_REFS is not None
            and _python_refs(grad) <= _ENGINE_REFS)


def _relu_grad(grad: torch.Tensor, out: torch.Tensor, engine_only: bool) -> torch.Tensor:
    """The gradient through a ReLU whose output was ``out``: grad where out > 0, else 0. Written into ``grad``
    itself when only the engine holds it and it is dense, which is the case inside these networks, where each
    ReLU feeds one conv or linear layer; otherwise a new tensor."""
    if (engine_only and grad.shape == out.shape and not grad.requires_grad
            and grad.is_contiguous(memory_format=memory_layout(grad))):
        return torch.ops.aten.threshold_backward.grad_input(grad, out, 0, grad_input=grad)
    return torch.ops.aten.threshold_backward(grad, out, 0)


def _wants_relu_backward(layer: nn.Module) -> bool:
    """Measure the engine's references before the first backward that may mask in place (not inside one)."""
    if layer.relu and torch.is_grad_enabled():
        _engine_refs()
    return layer.relu


class ReLUInConv(nn.Identity):
    """Stands where a network's ReLU was: the layer before it (built with ``relu=True``) applies that ReLU itself.
    Keeping the place keeps module indices, and so checkpoint names, as they were."""


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
    def forward(ctx, x, weight, bias, stride, padding, phase, relu):
        ctx.stride, ctx.padding, ctx.has_bias, ctx.relu = stride, padding, bias is not None, relu
        if phase:
            out = phase_conv_transpose2d(x, weight, bias)
        elif relu and _FUSED_TRANSPOSE_RELU:
            out = torch.ops.mkldnn._convolution_transpose_pointwise(
                x, weight, bias, padding, [0, 0], stride, [1, 1], 1, "relu", [], "")
            ctx.save_for_backward(x, weight, out)
            return out
        else:
            out = F.conv_transpose2d(x, weight, bias, stride, padding)
        if relu:
            out.relu_()
            ctx.save_for_backward(x, weight, out)
        else:
            ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight, *out = ctx.saved_tensors
        if ctx.relu:
            engine_only = _engine_only(grad)  # counted on its own line: an argument list being built holds grad too
            grad = _relu_grad(grad, out[0], engine_only)
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
        return grad_x, grad_w, grad_b, None, None, None, None


class _Conv2dReLUFunction(torch.autograd.Function):
    """relu(conv2d(x)) (groups 1, dilation 1) with the ReLU's backward masking the incoming gradient in place."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        out = F.conv2d(x, weight, bias, stride, padding).relu_()
        ctx.save_for_backward(x, weight, out)
        ctx.stride, ctx.padding, ctx.bias_sizes = stride, padding, None if bias is None else list(bias.shape)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight, out = ctx.saved_tensors
        engine_only = _engine_only(grad)  # counted on its own line: an argument list being built holds grad too
        grad = _relu_grad(grad, out, engine_only).contiguous(memory_format=memory_layout(x))
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.bias_sizes is not None and ctx.needs_input_grad[2]]
        grad_x, grad_w, grad_b = torch.ops.aten.convolution_backward(
            grad, x, weight, ctx.bias_sizes, ctx.stride, ctx.padding, [1, 1], False, [0, 0], 1, mask)
        return grad_x, grad_w, grad_b, None, None


class ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d with the CPU backward as ordinary convolutions, the phase forward for few output
    channels, and the matrix-product form from a 1x1 input; with ``relu=True`` it applies the ReLU after it."""

    def __init__(self, *args, relu: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.relu = relu

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        plain = (output_size is not None or self.groups != 1 or self.dilation != (1, 1)
                 or self.output_padding != (0, 0) or x.dim() != 4 or not _fast_path(x))
        if plain:
            out = super().forward(x, output_size)
            return F.relu(out, inplace=True) if self.relu else out
        if x.shape[-2:] == (1, 1) and self.padding == (0, 0):
            out = self._from_one_pixel(x)
            return F.relu(out) if self.relu else out
        phase = (self.kernel_size == (4, 4) and self.stride == (2, 2) and self.padding == (1, 1)
                 and self.out_channels <= PHASE_FORWARD_MAX_CHANNELS)
        return _ConvTranspose2dFunction.apply(x, self.weight, self.bias, list(self.stride), list(self.padding), phase,
                                              _wants_relu_backward(self))

    def _from_one_pixel(self, x: torch.Tensor) -> torch.Tensor:
        """From a 1x1 input every output pixel is a linear map of the input vector: one matrix product,
        [B, Ci] @ [Ci, (kh, kw, Co)] -> channels-last [B, Co, kh, kw]."""
        kh, kw = self.kernel_size
        matrix = self.weight.permute(0, 2, 3, 1).reshape(self.in_channels, kh * kw * self.out_channels)
        bias = None if self.bias is None else self.bias.repeat(kh * kw)
        out = F.linear(x.flatten(1), matrix.t(), bias)
        return out.view(x.shape[0], kh, kw, self.out_channels).permute(0, 3, 1, 2)


class Conv2d(nn.Conv2d):
    """nn.Conv2d computed as a matrix product on the CPU when its kernel covers the whole (unpadded) input; with
    ``relu=True`` it applies the ReLU after it."""

    def __init__(self, *args, relu: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fast = (x.dim() == 4 and self.groups == 1 and self.dilation == (1, 1) and self.padding_mode == "zeros"
                and isinstance(self.padding, tuple) and _fast_path(x))
        if fast and x.shape[-2:] == self.kernel_size and self.padding == (0, 0):
            out = self._whole_map(x)
            return F.relu(out) if self.relu else out
        if fast and _wants_relu_backward(self):
            return _Conv2dReLUFunction.apply(x, self.weight, self.bias, list(self.stride), list(self.padding))
        out = super().forward(x)
        return F.relu(out, inplace=True) if self.relu else out

    def _whole_map(self, x: torch.Tensor) -> torch.Tensor:
        """A kernel that covers the whole input: one matrix product, [B, (h, w, c)] @ [(h, w, c), Co]."""
        # flatten input and kernel in the same (memory) order: (h, w, c) for channels last, else (c, h, w)
        if memory_layout(x) == torch.channels_last:
            flat_x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
            matrix = self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, -1)
        else:
            flat_x, matrix = x.reshape(x.shape[0], -1), self.weight.reshape(self.out_channels, -1)
        return F.linear(flat_x, matrix, self.bias)[:, :, None, None]


def with_torch_layers(model: nn.Module) -> nn.Module:
    """Swap this module's convolutions in ``model`` for torch's own with the same weights, and each ``ReLUInConv``
    for torch's ReLU, in place (for the throughput reference, which runs torch's layers as the authors' port does,
    and for tests that compare)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ReLUInConv):  # its conv's ReLU, now a module of its own again
                setattr(parent, name, nn.ReLU(inplace=True))
            if isinstance(child, (Conv2d, ConvTranspose2d)):
                base = nn.Conv2d if isinstance(child, Conv2d) else nn.ConvTranspose2d
                plain = base(child.in_channels, child.out_channels, child.kernel_size, child.stride, child.padding,
                             bias=child.bias is not None).to(child.weight.device)
                plain.load_state_dict(child.state_dict())
                setattr(parent, name, plain)
    return model
