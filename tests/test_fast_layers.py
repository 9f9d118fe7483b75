"""core.fast_layers and the fused Laplace compute what torch's layers and the plain formula compute: outputs and
every gradient, each path (phase forward, matrix-product forms, convolution backward), in both memory layouts;
and a whole training step with them gives the loss and gradients of the step with torch's layers."""
import copy

import pytest
import torch
from torch import nn

from core.config import ModelConfig
from core.fast_layers import Conv2d, ConvTranspose2d, with_torch_layers
from core.labels import BINARY, MULTICLASS, LabelSpec
from core.model import CCVAE
from core.objective import supervised_loss, unsupervised_loss
from core.pixel_likelihood import PixelLikelihood

LAYOUTS = [torch.contiguous_format, torch.channels_last]

LAYERS = [  # (layer, input shape, the path it takes)
    (lambda: Conv2d(3, 8, 4, stride=2, padding=1), (3, 3, 16, 16), "torch's conv"),
    (lambda: Conv2d(16, 24, 4), (3, 16, 4, 4), "kernel covers the input: a matrix product"),
    (lambda: ConvTranspose2d(24, 16, 4), (3, 24, 1, 1), "from one pixel: a matrix product"),
    (lambda: ConvTranspose2d(16, 8, 4, stride=2, padding=1), (3, 16, 7, 7), "convolution backward"),
    (lambda: ConvTranspose2d(16, 3, 4, stride=2, padding=1), (3, 16, 8, 8), "phase forward, convolution backward"),
    (lambda: ConvTranspose2d(16, 1, 4, stride=2, padding=1, bias=False), (3, 16, 5, 6), "phase forward, no bias"),
]


def torch_twin(fast: nn.Module) -> nn.Module:
    base = nn.Conv2d if isinstance(fast, Conv2d) else nn.ConvTranspose2d
    plain = base(fast.in_channels, fast.out_channels, fast.kernel_size, fast.stride, fast.padding,
                 bias=fast.bias is not None)
    plain.load_state_dict(fast.state_dict())
    return plain


def forward_and_grads(layer, x, grad_out):
    x = x.clone().requires_grad_(True)
    out = layer(x)
    out.backward(grad_out)
    grads = [out.detach(), x.grad] + [p.grad for p in layer.parameters()]
    layer.zero_grad(set_to_none=True)
    return grads


@pytest.mark.parametrize("layout", LAYOUTS, ids=["nchw", "channels_last"])
@pytest.mark.parametrize("make, shape, path", LAYERS, ids=[p for _, _, p in LAYERS])
def test_fast_layer_equals_torch_layer(make, shape, path, layout):
    torch.manual_seed(0)
    fast = make().to(memory_format=layout)
    plain = torch_twin(fast).to(memory_format=layout)
    assert type(plain).__module__.startswith("torch.")
    x = torch.randn(shape).contiguous(memory_format=layout)
    grad_out = torch.randn(plain(x).shape)
    got, want = forward_and_grads(fast, x, grad_out), forward_and_grads(plain, x, grad_out)
    assert got[0].shape == want[0].shape
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def test_fast_layers_keep_torch_state_dict_names():
    fast = nn.Sequential(Conv2d(3, 4, 4), ConvTranspose2d(4, 3, 4))
    plain = nn.Sequential(nn.Conv2d(3, 4, 4), nn.ConvTranspose2d(4, 3, 4))
    assert list(fast.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(fast.state_dict())  # checkpoints load either way


@pytest.mark.parametrize("scale", [1.0, 0.3])
def test_fused_laplace_equals_plain_formula(scale):
    torch.manual_seed(1)
    likelihood = PixelLikelihood("laplace", 3, scale)
    raw = torch.randn(4, 3, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    x = torch.rand(4, 3, 8, 8)
    x[0, 0, 0, 0] = torch.sigmoid(raw[0, 0, 0, 0]).detach()  # a zero residual: the gradient of |.| there is 0
    got = likelihood.log_prob(raw, x)
    want = (-(x - torch.sigmoid(raw)).abs() / scale - torch.log(torch.tensor(2.0 * scale))).flatten(1).sum(-1)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-4)
    weights = torch.randn(4)
    (g_got,) = torch.autograd.grad((got * weights).sum(), raw)
    (g_want,) = torch.autograd.grad((want * weights).sum(), raw)
    torch.testing.assert_close(g_got, g_want, rtol=1e-6, atol=1e-6)


def model_pair(image_shape, kind, likelihood):
    spec = LabelSpec(MULTICLASS, tuple("abcd")) if kind == MULTICLASS else LabelSpec(BINARY, ("p", "q", "r"))
    torch.manual_seed(0)
    fast = CCVAE(ModelConfig(image_shape=image_shape, label_spec=spec, latent_dim=8, zc_dim=4 if kind == MULTICLASS else 3,
                             likelihood=likelihood))
    plain = with_torch_layers(copy.deepcopy(fast)).to(memory_format=torch.contiguous_format)
    plain.encoder.channels_last = False
    assert not any(isinstance(m, (Conv2d, ConvTranspose2d)) for m in plain.modules())
    return fast, plain


@pytest.mark.parametrize("image_shape, kind, likelihood", [
    ((3, 64, 64), BINARY, "laplace"),        # the CelebA setting's networks and likelihood
    ((1, 28, 28), MULTICLASS, "bernoulli"),  # the MNIST setting's
])
def test_fast_step_gives_the_plain_steps_loss_and_gradients(image_shape, kind, likelihood):
    """The step as trained (fast layers, channels last, fused likelihood) against torch's layers in the default
    layout with the likelihood's plain formula (taken when x requires a gradient), on one fixed batch."""
    fast, plain = model_pair(image_shape, kind, likelihood)
    gen = torch.Generator().manual_seed(2)
    x = torch.rand((6, *image_shape), generator=gen)
    y = (torch.randint(0, 4, (6,), generator=gen) if kind == MULTICLASS
         else torch.randint(0, 2, (6, 3), generator=gen).float())
    for loss_of in (lambda m, x: supervised_loss(m, x, y).loss, lambda m, x: unsupervised_loss(m, x).loss):
        torch.manual_seed(7)
        fast_loss = loss_of(fast, x)
        torch.manual_seed(7)
        plain_loss = loss_of(plain, x.clone().requires_grad_(True))
        torch.testing.assert_close(fast_loss, plain_loss, rtol=1e-5, atol=1e-3)
        fast_grads = torch.autograd.grad(fast_loss, list(fast.parameters()))
        plain_grads = torch.autograd.grad(plain_loss, list(plain.parameters()))
        for (name, _), g, w in zip(fast.named_parameters(), fast_grads, plain_grads):
            torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4, msg=lambda m: f"{name}: {m}")


def test_phase_output_takes_an_inplace_relu():
    """The phase forward's output is a tensor of its own, not a view, so the decoder's ReLU(inplace) works."""
    torch.manual_seed(3)
    fast = nn.Sequential(ConvTranspose2d(8, 4, 4, stride=2, padding=1), nn.ReLU(inplace=True))
    plain = nn.Sequential(torch_twin(fast[0]), nn.ReLU(inplace=True))
    x = torch.randn(2, 8, 5, 5)
    grad_out = torch.randn(2, 4, 10, 10)
    for g, w in zip(forward_and_grads(fast, x, grad_out), forward_and_grads(plain, x, grad_out)):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
