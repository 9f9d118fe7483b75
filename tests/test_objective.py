"""The CCVAE objective pinned down on tiny models: each estimate against a direct computation with
torch.distributions, the exact enumeration against an explicit sum, and gradients reaching every part."""
import itertools
import math

import pytest
import torch
from torch import distributions as D

from core.config import ModelConfig
from core.labels import BINARY, MULTICLASS, LabelSpec
from core.model import CCVAE
from core.objective import log_q_y_given_x, style_kl, supervised_loss, unsupervised_loss


def tiny_model(kind: str, seed: int = 0) -> CCVAE:
    torch.manual_seed(seed)
    if kind == MULTICLASS:
        spec = LabelSpec(MULTICLASS, ("a", "b", "c"))
        prior = torch.tensor([0.2, 0.3, 0.5])
    else:
        spec = LabelSpec(BINARY, ("p", "q", "r"))
        prior = torch.tensor([0.2, 0.6, 0.9])
    cfg = ModelConfig(image_shape=(1, 28, 28), label_spec=spec, latent_dim=6, zc_dim=3, hidden_channels=(4, 8))
    model = CCVAE(cfg, prior)
    with torch.no_grad():  # move the heads off their symmetric start so every term matters
        for p in model.head.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def labels_for(kind: str, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if kind == MULTICLASS:
        return torch.randint(0, 3, (n,), generator=g)
    return torch.randint(0, 2, (n, 3), generator=g).float()


class FixedNoise:
    """Records the standard-normal draws the objective makes, so a direct computation can reuse them."""

    def __init__(self):
        self.draws = []
        self._randn, self._randn_like = torch.randn, torch.randn_like

    def __enter__(self):
        def randn(*args, **kw):
            out = self._randn(*args, **kw)
            self.draws.append(out)
            return out

        def randn_like(t, **kw):
            out = self._randn_like(t, **kw)
            self.draws.append(out)
            return out

        torch.randn, torch.randn_like = randn, randn_like
        return self

    def __exit__(self, *exc):
        torch.randn, torch.randn_like = self._randn, self._randn_like


def direct_log_qy(model, z_c, y):
    if model.config.label_spec.is_multiclass:
        return D.Categorical(logits=model.head.classifier(z_c)).log_prob(y)
    return D.Bernoulli(logits=model.head.logits(z_c)).log_prob(y.expand(z_c.shape)).sum(-1)


def direct_prior(model, y):
    loc, scale = model.head.prior(y)
    return D.Normal(loc, scale)


def direct_log_py(model, y):
    p = model.label_prior
    if model.config.label_spec.is_multiclass:
        return D.Categorical(probs=p).log_prob(y)
    return D.Bernoulli(probs=p).log_prob(y).sum(-1)


@pytest.mark.parametrize("kind", [MULTICLASS, BINARY])
def test_supervised_objective_matches_direct_computation(kind):
    model = tiny_model(kind)
    x, y = torch.rand(5, 1, 28, 28), labels_for(kind, 5)
    beta, k = 0.7, 50
    torch.manual_seed(3)
    with FixedNoise() as noise:
        parts = supervised_loss(model, x, y, beta=beta, k=k)
    eps, eps_k = noise.draws  # the one z sample, then the K samples of z_c for q(y|x)

    loc, scale = model.encode(x)
    z = loc + scale * eps
    z_c, _ = model.split(z)
    (loc_c, loc_s), (scale_c, scale_s) = model.split(loc), model.split(scale)
    log_px = D.Bernoulli(logits=model.decode_raw(z), validate_args=False).log_prob(x).flatten(1).sum(-1)
    log_pzc = direct_prior(model, y).log_prob(z_c).sum(-1)
    log_qzc = D.Normal(loc_c, scale_c).log_prob(z_c).sum(-1)
    kl_s = D.kl_divergence(D.Normal(loc_s, scale_s), D.Normal(0.0, 1.0)).sum(-1)
    log_qy_zc = direct_log_qy(model, z_c, y)
    z_ck = loc_c + scale_c * eps_k
    log_qyx = torch.logsumexp(torch.stack([direct_log_qy(model, z_ck[i], y) for i in range(k)]), 0) - math.log(k)
    w = torch.exp(direct_log_qy(model, z_c.detach(), y) - log_qyx)
    expected = w * (log_px + beta * (log_pzc - log_qzc - kl_s) - log_qy_zc) + log_qyx + direct_log_py(model, y)
    torch.testing.assert_close(parts.loss, -expected.mean(), rtol=1e-5, atol=1e-4)
    # same gradients too: this pins the detached z_c in w's numerator (w itself keeps its gradient)
    params = list(model.parameters())
    got = torch.autograd.grad(parts.loss, params)
    want = torch.autograd.grad(-expected.mean(), params)
    for g, e in zip(got, want):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", [MULTICLASS, BINARY])
def test_unsupervised_enumeration_equals_explicit_sum_over_labels(kind):
    model = tiny_model(kind)
    x = torch.rand(4, 1, 28, 28)
    beta = 0.4
    torch.manual_seed(5)
    with FixedNoise() as noise:
        parts = unsupervised_loss(model, x, beta=beta)
    (eps,) = noise.draws

    loc, scale = model.encode(x)
    z = loc + scale * eps
    z_c, _ = model.split(z)
    (loc_c, loc_s), (scale_c, scale_s) = model.split(loc), model.split(scale)
    log_px = D.Bernoulli(logits=model.decode_raw(z), validate_args=False).log_prob(x).flatten(1).sum(-1)
    log_qzc = D.Normal(loc_c, scale_c).log_prob(z_c).sum(-1)
    kl_s = D.kl_divergence(D.Normal(loc_s, scale_s), D.Normal(0.0, 1.0)).sum(-1)
    # every label value, one at a time: 3 classes, or all 2^3 attribute vectors
    if kind == MULTICLASS:
        values = [torch.full((4,), c) for c in range(3)]
    else:
        values = [torch.tensor(v, dtype=torch.float32).expand(4, 3) for v in itertools.product([0, 1], repeat=3)]
    expected = torch.zeros(4)
    for y in values:
        log_q = direct_log_qy(model, z_c, y)
        inner = log_px + beta * (direct_prior(model, y).log_prob(z_c).sum(-1) - log_qzc - kl_s) \
            + direct_log_py(model, y) - log_q
        expected = expected + log_q.exp() * inner
    torch.testing.assert_close(parts.loss, -expected.mean(), rtol=1e-5, atol=1e-4)


def test_qyx_estimate_collapses_to_classifier_when_q_is_a_point():
    model = tiny_model(MULTICLASS)
    loc_c = torch.randn(6, 3)
    y = labels_for(MULTICLASS, 6)
    got = log_q_y_given_x(model, loc_c, torch.full_like(loc_c, 1e-8), y, k=20)
    torch.testing.assert_close(got, model.head.log_q_y(loc_c, y))


def test_qyx_estimate_is_an_average_of_probabilities():
    model = tiny_model(MULTICLASS)
    loc_c, scale_c = torch.randn(3, 3), torch.full((3, 3), 0.8)
    y = labels_for(MULTICLASS, 3)
    torch.manual_seed(0)
    est = log_q_y_given_x(model, loc_c, scale_c, y, k=20000).exp()
    torch.manual_seed(1)
    z = loc_c + scale_c * torch.randn(20000, 3, 3)
    reference = model.head.log_q_y(z, y).exp().mean(0)
    torch.testing.assert_close(est, reference, atol=0.01, rtol=0)


def test_style_kl_is_the_expectation_of_the_sampled_terms():
    loc, scale = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.3, 1.5]])
    z = loc + scale * torch.randn(200000, 1, 2)
    sampled = (D.Normal(loc, scale).log_prob(z) - D.Normal(0.0, 1.0).log_prob(z)).sum(-1).mean()
    torch.testing.assert_close(style_kl(loc, scale)[0], sampled, atol=0.02, rtol=0)


@pytest.mark.parametrize("kind", [MULTICLASS, BINARY])
def test_gradients_reach_every_parameter(kind):
    model = tiny_model(kind)
    x, y = torch.rand(8, 1, 28, 28), labels_for(kind, 8)
    loss = supervised_loss(model, x, y, k=10).loss + unsupervised_loss(model, x).loss
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_beta_scales_only_the_latent_terms():
    model = tiny_model(MULTICLASS)
    x = torch.rand(4, 1, 28, 28)
    out = {}
    for beta in (0.0, 1.0):
        torch.manual_seed(9)
        out[beta] = unsupervised_loss(model, x, beta=beta)
    assert out[0.0].recon == pytest.approx(out[1.0].recon)
    assert out[0.0].latent == pytest.approx(out[1.0].latent)
    assert float((out[1.0].loss - out[0.0].loss).detach()) == pytest.approx(out[1.0].latent, rel=1e-4)


def test_laplace_likelihood_on_rgb():
    spec = LabelSpec(BINARY, tuple("abcd"))
    model = CCVAE(ModelConfig(image_shape=(3, 64, 64), label_spec=spec, latent_dim=8, likelihood="laplace"))
    x = torch.rand(2, 3, 64, 64)
    raw = model.decode_raw(torch.zeros(2, 8))
    expected = D.Laplace(torch.sigmoid(raw), 1.0).log_prob(x).flatten(1).sum(-1)
    torch.testing.assert_close(model.log_px(raw, x), expected)
