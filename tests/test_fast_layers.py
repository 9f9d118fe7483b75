"""core.fast_layers and the fused Laplace compute what torch's layers and the plain formula compute: outputs and
every gradient, each path (phase forward, matrix-product forms, convolution backward), in both memory layouts;
and a whole training step with them gives the loss and gradients of the step with torch's layers. Layers built with
relu=True equal torch's layer and ReLU, and mask the gradient in place only where nothing else holds it."""
import copy

from torch.utils._python_dispatch import TorchDispatchMode

import pytest
import torch
from torch import nn

from core.config import ModelConfig
from core.fast_layers import Conv2d, ConvTranspose2d, ReLUInConv, with_torch_layers
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
    return nn.Sequential(plain, nn.ReLU()) if fast.relu else plain


def with_relu(make):
    def make_relu():
        layer = make()
        layer.relu = True
        return layer
    return make_relu


RELU_LAYERS = [(with_relu(make), shape, path + ", then ReLU") for make, shape, path in LAYERS]


def forward_and_grads(layer, x, grad_out):
    x = x.clone().requires_grad_(True)
    out = layer(x)
    out.backward(grad_out)
    grads = [out.detach(), x.grad] + [p.grad for p in layer.parameters()]
    layer.zero_grad(set_to_none=True)
    return grads


@pytest.mark.parametrize("layout", LAYOUTS, ids=["nchw", "channels_last"])
@pytest.mark.parametrize("make, shape, path", LAYERS + RELU_LAYERS, ids=[p for _, _, p in LAYERS + RELU_LAYERS])
def test_fast_layer_equals_torch_layer(make, shape, path, layout):
    torch.manual_seed(0)
    fast = make().to(memory_format=layout)
    plain = torch_twin(fast).to(memory_format=layout)
    assert all(type(m).__module__.startswith("torch.") for m in plain.modules())
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


class CountReluBackward(TorchDispatchMode):
    """Counts the ReLU backward passes that write a new tensor and those that write into the incoming gradient."""

    def __init__(self):
        super().__init__()
        self.new, self.in_place = 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.threshold_backward.default:
            self.new += 1
        elif func is torch.ops.aten.threshold_backward.grad_input:
            self.in_place += 1
        return func(*args, **(kwargs or {}))


def test_network_relus_mask_the_gradient_in_place():
    """In the CelebA-setting networks every ReLU after a conv masks its incoming gradient in place: no new
    gradient tensor per ReLU (each is 26 MB at batch 200 and 32x32x32, the step's largest allocations)."""
    spec = LabelSpec(BINARY, ("p", "q", "r"))
    torch.manual_seed(0)
    model = CCVAE(ModelConfig(image_shape=(3, 64, 64), label_spec=spec, latent_dim=8, zc_dim=3, likelihood="laplace"))
    relu_convs = [m for m in model.modules() if isinstance(m, (Conv2d, ConvTranspose2d)) and m.relu]
    assert len(relu_convs) == len([m for m in model.modules() if isinstance(m, ReLUInConv)]) == 9
    x = torch.rand(4, 3, 64, 64)
    with CountReluBackward() as count:
        unsupervised_loss(model, x).loss.backward()
    # the two conv ReLUs of matrix-product form (4x4 maps) go through torch's ReLU; the seven others in place
    assert count.in_place == 7 and count.new == 3  # the new ones: those 2 and the decoder stem's linear layer's


def test_relu_gradient_kept_by_a_hook_or_shared_is_not_overwritten():
    """A gradient something else holds is never masked in place: a hook that keeps the gradient of the layer's
    output sees torch's, and an output used twice gets torch's gradients."""
    torch.manual_seed(4)
    fast = Conv2d(3, 4, 3, padding=1, relu=True)
    plain = torch_twin(fast)
    after = nn.Conv2d(4, 2, 3, padding=1)
    x = torch.randn(2, 3, 8, 8)
    kept = {}
    for name, layer in (("fast", fast), ("plain", plain)):
        out = layer(x)
        out.register_hook(lambda g, name=name: kept.setdefault(name, g))
        after(out).sum().backward()
    torch.testing.assert_close(kept["fast"], kept["plain"], rtol=0, atol=0)
    grads = {}
    for name, layer in (("fast", fast), ("plain", plain)):
        layer.zero_grad(set_to_none=True)
        out = layer(x)
        (out + after(out).sum(1, keepdim=True)).pow(2).sum().backward()  # out's gradient arrives from two places
        grads[name] = [p.grad.clone() for p in layer.parameters()]
    for g, w in zip(grads["fast"], grads["plain"]):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def test_with_torch_layers_puts_the_relus_back():
    spec = LabelSpec(MULTICLASS, tuple("abcd"))
    torch.manual_seed(0)
    model = CCVAE(ModelConfig(image_shape=(1, 28, 28), label_spec=spec, latent_dim=8, zc_dim=4, likelihood="bernoulli"))
    names = list(model.state_dict())
    plain = with_torch_layers(copy.deepcopy(model))
    assert list(plain.state_dict()) == names  # same checkpoint names with or without the fused ReLUs
    assert not any(isinstance(m, ReLUInConv) for m in plain.modules())
    assert sum(isinstance(m, nn.ReLU) for m in plain.modules()) == sum(isinstance(m, nn.ReLU) for m in model.modules()) + 3
    z = torch.randn(5, 8)
    model.eval(), plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.decode(z), plain.decode(z))
