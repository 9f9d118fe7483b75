"""The measures on toy engines and judges whose answers are known, and once on the real Engine."""
import math

import pytest
import torch

from core.labels import LabelSpec
from core.measures import (conditional_generation_accuracy, label_swap_success, measure_all, reconstruction_error,
                           style_invariance, style_preservation)

K, S = 3, 4  # classes, style size


class Encoded:
    def __init__(self, z_c, z_style):
        self.z_c, self.z_style = z_c, z_style


def toy_reconstruct_scored(engine, images):
    """The toys' reconstruction and likelihood, a unit Gaussian on the vectors (only measure_all's reconstruction
    columns read them)."""
    enc = engine.encode(images)
    recon = engine.decode(enc.z_c, enc.z_style)
    return recon, -0.5 * ((torch.as_tensor(images) - recon) ** 2).flatten(1).sum(-1)


class ToyEngine:
    """Images are vectors [B, 1, 1, K + S]: the first K entries are z_c, the rest the style (identity encoder).
    p(z_c|y) = N(3 e_y, scale^2). The decoder is the identity unless ``decoder`` replaces it."""

    label_spec = LabelSpec("multiclass", tuple(str(i) for i in range(K)))
    style_dim = S

    def __init__(self, decoder=None, scale=0.01):
        self.scale = scale
        self.decoder = decoder or (lambda z_c, z_s: torch.cat([z_c, z_s], -1))

    def encode(self, images):
        flat = torch.as_tensor(images).reshape(len(images), -1)
        return Encoded(flat[:, :K], flat[:, K:])

    def decode(self, z_c, z_style):
        return self.decoder(z_c, z_style).reshape(len(z_c), 1, 1, -1)

    def reconstruct_scored(self, images):
        return toy_reconstruct_scored(self, images)

    def predict(self, z_c):
        return z_c.argmax(-1)

    def prior(self, y):
        y = torch.as_tensor(y).reshape(-1)
        return 3.0 * torch.eye(K)[y], torch.full((len(y), K), self.scale)

    def swap_label(self, z_c, y_from, y_to):
        y_to = torch.as_tensor(y_to).reshape(-1).expand(len(z_c))
        loc_f, s_f = self.prior(y_from)
        loc_t, s_t = self.prior(y_to)
        return loc_t + s_t * (z_c - loc_f) / s_f

    def generate(self, y, n=1, z_style=None, generator=None):
        loc, scale = self.prior(torch.full((n,), int(y)))
        z_c = loc + scale * torch.randn(loc.shape, generator=generator)
        z_s = torch.randn((n, S), generator=generator) if z_style is None else z_style.expand(n, -1)
        return z_c, z_s


class LabelPartJudge:
    """Calls an image the class of its largest label entry; its features are the raw vector."""

    def __call__(self, images):
        return torch.softmax(10 * images.reshape(len(images), -1)[:, :K], -1)

    def features(self, images):
        return images.reshape(len(images), -1)


def fixed_judge(cls):
    return lambda images: torch.eye(K)[torch.full((len(images),), cls)]


def toy_images(per_class=10, seed=0):
    """per_class images of each class: z_c exactly at the class's prior mean, random styles."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(K).repeat_interleave(per_class)
    z_c = 3.0 * torch.eye(K)[y]
    return torch.cat([z_c, torch.randn((len(y), S), generator=gen)], -1).reshape(len(y), 1, 1, -1)


def test_identity_engine_scores_perfectly():
    engine, judge, x = ToyEngine(), LabelPartJudge(), toy_images()
    assert conditional_generation_accuracy(engine, judge, per_label=20)["accuracy"] == 1.0
    swap = label_swap_success(engine, judge, x)
    assert swap["success"] == 1.0 and swap["per_target"] == [1.0] * K
    style = style_preservation(engine, judge, x)
    assert style["feature_share"] == 1.0 and style["pixel_share"] == 1.0
    assert style["feature_ratio"] == pytest.approx(0.0, abs=1e-6)  # the swap lands exactly on the prior mean
    local = style_invariance(engine, judge, x)
    assert local == {"unchanged": 1.0, "agrees_with_label": 1.0}


def test_fixed_output_judge():
    engine, x = ToyEngine(), toy_images(per_class=5)
    judge = fixed_judge(0)
    gen = conditional_generation_accuracy(engine, judge, per_label=7)
    assert gen["per_label"] == [1.0, 0.0, 0.0] and gen["accuracy"] == pytest.approx(1 / K)
    # targets other than 0 never succeed; target 0 always does: 2 of the 6 moves per class
    swap = label_swap_success(engine, judge, x)
    assert swap["per_target"] == [1.0, 0.0, 0.0] and swap["success"] == pytest.approx(1 / K)
    assert style_invariance(engine, judge, x)["unchanged"] == 1.0


def test_decoder_that_ignores_style_keeps_no_style():
    engine = ToyEngine(decoder=lambda z_c, z_s: torch.cat([z_c, torch.zeros_like(z_s)], -1))
    x = toy_images()
    x[:, 0, 0, :K] += 0.05 * torch.randn(len(x), K, generator=torch.Generator().manual_seed(2))  # off the means
    style = style_preservation(engine, LabelPartJudge(), x)
    assert style["feature_share"] == 0.0 and style["pixel_share"] == 0.0  # d_same == d_other, never smaller
    assert style["feature_ratio"] == pytest.approx(1.0)


def test_label_carried_by_style_breaks_locality_and_swaps():
    """A decoder that draws the class written in the style (its first entry) and ignores z_c."""
    def decoder(z_c, z_s):
        cls = z_s[:, 0].round().long().clamp(0, K - 1)
        return torch.cat([3.0 * torch.eye(K)[cls], z_s], -1)

    x = toy_images(per_class=1)
    x[:, 0, 0, K] = torch.arange(K).float()  # image i's style says class i: every other style changes the class
    engine, judge = ToyEngine(decoder=decoder), LabelPartJudge()
    assert style_invariance(engine, judge, x)["unchanged"] == 0.0
    # swaps keep the style, so the judged class never moves to the target
    assert label_swap_success(engine, judge, x)["success"] == 0.0


def _grey_decoder_engine(likelihood: str, channels: int = 1, scale: float = 1.0):
    """A real CCVAE whose decoder outputs 0 everywhere: every decoded pixel is sigmoid(0) = 0.5."""
    from core.config import ModelConfig, RunConfig
    from core.inference import Engine
    from core.model import CCVAE

    torch.manual_seed(0)
    cfg = RunConfig(model=ModelConfig(image_shape=(channels, 28, 28), latent_dim=8, zc_dim=2, likelihood=likelihood,
                                      likelihood_scale=scale))
    model = CCVAE(cfg.model)
    last = model.decoder.body[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    return Engine(model, cfg), model


@pytest.mark.parametrize("likelihood, channels, scale", [("bernoulli", 1, None), ("laplace", 1, 0.2),
                                                        ("laplace-channel", 3, 0.1)])
def test_reconstruction_error_scores_with_the_runs_own_likelihood(likelihood, channels, scale):
    """-log p(x|z) is the model's own likelihood term: a Laplace run is scored with its scale (a unit-scale
    Laplace, as the study once did, would report |x - mean| + log 2 whatever the model learned)."""
    engine, model = _grey_decoder_engine(likelihood, channels, scale or 1.0)
    if likelihood == "laplace-channel":
        model.likelihood.running_scale.fill_(scale)  # what training would have learned
    x = torch.rand(5, channels, 28, 28, generator=torch.Generator().manual_seed(1))
    out = reconstruction_error(engine, x)
    residual = (x - 0.5).abs()
    if likelihood == "bernoulli":
        expected = channels * 28 * 28 * math.log(2)
    else:
        expected = float((residual / scale + math.log(2 * scale)).flatten(1).sum(-1).mean())
    assert out["nll"] == pytest.approx(expected, rel=1e-4)
    assert out["mse"] == pytest.approx(float(((x - 0.5) ** 2).mean()), rel=1e-5)


def test_measure_all_on_the_real_engine_with_a_fixed_judge():
    from core.config import ModelConfig, RunConfig
    from core.inference import Engine
    from core.model import CCVAE

    torch.manual_seed(0)
    cfg = RunConfig(model=ModelConfig(latent_dim=8, zc_dim=2))
    engine = Engine(CCVAE(cfg.model), cfg)
    x = torch.rand(12, 1, 28, 28)

    def judge(images):
        assert images.shape[1:] == (1, 28, 28)
        return torch.eye(10)[torch.full((len(images),), 3)]

    out = measure_all(engine, judge, x, per_label=4)
    assert out["cond_gen_acc"] == pytest.approx(0.1)  # only label 3's generations are "right"
    assert out["locality"] == 1.0
    assert math.isnan(out["style_share"])  # a judge without features: only the pixel version is computed
    assert 0.0 <= out["style_pixel_share"] <= 1.0 and 0.0 <= out["swap_success"] <= 1.0
    assert out["recon_nll"] > 0 and 0 < out["recon_mse"] < 1


A = 2  # binary attributes of the binary toy


class BinaryToyEngine:
    """Images are vectors [B, 1, 1, A + S]: the first A entries are z_c (one per attribute), the rest the style.
    p(z_c,i|y_i) = N(3 (2 y_i - 1), scale^2); the classifier says y_i = 1 when z_c,i > 0. Identity decoder unless
    ``decoder`` replaces it."""

    label_spec = LabelSpec("binary", tuple(f"a{i}" for i in range(A)))
    style_dim = S

    def __init__(self, decoder=None, scale=0.01, label_prior=None):
        self.scale = scale
        self.decoder = decoder or (lambda z_c, z_s: torch.cat([z_c, z_s], -1))
        self.label_prior = label_prior

    def encode(self, images):
        flat = torch.as_tensor(images).reshape(len(images), -1)
        return Encoded(flat[:, :A], flat[:, A:])

    def decode(self, z_c, z_style):
        return self.decoder(z_c, z_style).reshape(len(z_c), 1, 1, -1)

    def reconstruct_scored(self, images):
        return toy_reconstruct_scored(self, images)

    def predict(self, z_c):
        return (z_c > 0).float()

    def prior(self, y):
        y = torch.as_tensor(y).float().reshape(-1, A)
        return 3.0 * (2 * y - 1), torch.full(y.shape, self.scale)

    def swap_label(self, z_c, y_from, y_to):
        loc_f, s_f = self.prior(y_from)
        loc_t, s_t = self.prior(y_to)
        return loc_t + s_t * (z_c - loc_f) / s_f


class AttributeJudge:
    """Gives attribute i the value 1 when entry i of the image is positive; its features are the raw vector."""

    def __call__(self, images):
        return torch.sigmoid(10 * images.reshape(len(images), -1)[:, :A])

    def features(self, images):
        return images.reshape(len(images), -1)


def fixed_attribute_judge(values):
    return lambda images: torch.tensor(values, dtype=torch.float32).expand(len(images), -1)


def binary_images(per_combination=5, seed=0):
    """per_combination images of each of the 2^A attribute vectors, z_c at the prior mode, random styles;
    returns (images, attributes)."""
    gen = torch.Generator().manual_seed(seed)
    combos = torch.tensor([[(c >> i) & 1 for i in range(A)] for c in range(2 ** A)], dtype=torch.float32)
    y = combos.repeat_interleave(per_combination, 0)
    x = torch.cat([3.0 * (2 * y - 1), torch.randn((len(y), S), generator=gen)], -1).reshape(len(y), 1, 1, -1)
    return x, y


def test_binary_identity_engine_scores_perfectly():
    engine, judge, (x, _) = BinaryToyEngine(), AttributeJudge(), binary_images()
    gen = conditional_generation_accuracy(engine, judge, per_label=20)
    assert gen["accuracy"] == 1.0 and gen["per_value"] == [[1.0, 1.0]] * A
    flip = label_swap_success(engine, judge, x)
    assert flip["success"] == 1.0 and flip["per_target"] == [1.0] * A
    style = style_preservation(engine, judge, x)
    assert style["feature_share"] == 1.0 and style["pixel_share"] == 1.0
    assert style["feature_ratio"] == pytest.approx(0.0, abs=1e-6)  # the flip lands exactly on the prior mode
    local = style_invariance(engine, judge, x)
    assert local == {"unchanged": 1.0, "agrees_with_label": 1.0, "per_attribute": [1.0] * A}


def test_binary_fixed_output_judge():
    """A judge that always says (1, 0): attribute 0 is right exactly when v = 1, attribute 1 when v = 0; a flip
    succeeds exactly for the images whose flipped value is what the judge always says (half of them)."""
    engine, (x, _) = BinaryToyEngine(), binary_images(per_combination=3)
    judge = fixed_attribute_judge([1.0, 0.0])
    gen = conditional_generation_accuracy(engine, judge, per_label=7)
    assert gen["per_value"] == [[0.0, 1.0], [1.0, 0.0]] and gen["accuracy"] == 0.5
    flip = label_swap_success(engine, judge, x)
    assert flip["per_target"] == [0.5, 0.5] and flip["success"] == 0.5
    assert style_invariance(engine, judge, x)["unchanged"] == 1.0
    # the same judge, attribute 1 only ever seen as 0, agrees with the CCVAE's y_1 on the half where y_1 = 0
    assert style_invariance(engine, judge, x)["agrees_with_label"] == pytest.approx(0.5)


def test_binary_generation_draws_the_other_attributes_from_the_label_prior():
    """A decoder that draws attribute 0 only when attribute 1 is also on: cond-gen for (a0, 1) succeeds as often as
    p(y_1 = 1) says, so the label prior must be used."""
    def decoder(z_c, z_s):
        both = ((z_c[:, 0] > 0) & (z_c[:, 1] > 0)).float()
        return torch.cat([torch.stack([3 * (2 * both - 1), z_c[:, 1]], -1), z_s], -1)

    engine = BinaryToyEngine(decoder=decoder, label_prior=torch.tensor([0.5, 1.0]))
    gen = conditional_generation_accuracy(engine, AttributeJudge(), per_label=50)
    assert gen["per_value"][0] == [1.0, 1.0]
    engine.label_prior = torch.tensor([0.5, 0.0])
    assert conditional_generation_accuracy(engine, AttributeJudge(), per_label=50)["per_value"][0] == [1.0, 0.0]


def test_binary_decoder_that_ignores_style_keeps_no_style():
    engine = BinaryToyEngine(decoder=lambda z_c, z_s: torch.cat([z_c, torch.zeros_like(z_s)], -1))
    x, _ = binary_images()
    x[:, 0, 0, :A] += 0.05 * torch.randn(len(x), A, generator=torch.Generator().manual_seed(2))  # off the modes
    style = style_preservation(engine, AttributeJudge(), x)
    assert style["feature_share"] == 0.0 and style["pixel_share"] == 0.0
    assert style["feature_ratio"] == pytest.approx(1.0)


def test_binary_attributes_carried_by_style_break_locality_and_flips():
    """A decoder that draws the attributes written in the style's first A entries and ignores z_c. Two images
    with opposite styles: taking the other's style changes every attribute, and flips of z_c change none."""
    def decoder(z_c, z_s):
        return torch.cat([3.0 * torch.sign(z_s[:, :A]), z_s], -1)

    x = torch.zeros(2, 1, 1, A + S)
    x[0, 0, 0, :A], x[1, 0, 0, :A] = 3.0, -3.0
    x[0, 0, 0, A:A + A], x[1, 0, 0, A:A + A] = 1.0, -1.0
    engine, judge = BinaryToyEngine(decoder=decoder), AttributeJudge()
    local = style_invariance(engine, judge, x)
    assert local["unchanged"] == 0.0 and local["per_attribute"] == [0.0] * A
    assert label_swap_success(engine, judge, x)["success"] == 0.0


def test_binary_flip_between_attribute_statistics_when_the_priors_are_misplaced():
    """The encoder puts y_i at +-10 but the learned prior modes are at +-3 (scale 1): a flip between the priors
    moves 10 to 4, still on the old side; a flip between where the encoder puts the values reaches the target."""
    from core.measures import class_statistics

    engine, judge = BinaryToyEngine(scale=1.0), AttributeJudge()
    x, y = binary_images(per_combination=6)
    x[:, 0, 0, :A] *= 10 / 3
    x[:, 0, 0, :A] += 0.1 * torch.randn(len(x), A, generator=torch.Generator().manual_seed(3))
    loc, scale = class_statistics(engine, x, y)
    assert loc.shape == (2, A) and torch.allclose(loc, torch.tensor([[-10.0] * A, [10.0] * A]), atol=0.15)
    assert (scale < 0.3).all()
    assert label_swap_success(engine, judge, x)["success"] == 0.0
    assert label_swap_success(engine, judge, x, class_stats=(loc, scale))["success"] == 1.0
    out = measure_all(engine, judge, x, class_stats=(loc, scale), per_label=5)
    assert out["swap_success"] == 0.0 and out["swap_success_stats"] == 1.0 and "skipped" not in out


def test_measure_all_binary_on_the_real_engine_with_a_fixed_judge():
    from core.config import ModelConfig, RunConfig
    from core.inference import Engine
    from core.model import CCVAE

    torch.manual_seed(0)
    spec = LabelSpec("binary", ("round", "red", "big"))
    cfg = RunConfig(model=ModelConfig(latent_dim=8, label_spec=spec, image_shape=(3, 28, 28)))
    engine = Engine(CCVAE(cfg.model), cfg)
    x = torch.rand(10, 3, 28, 28)

    def judge(images):
        assert images.shape[1:] == (3, 28, 28)
        return torch.tensor([0.9, 0.1, 0.9]).expand(len(images), -1)

    out = measure_all(engine, judge, x, per_label=4)
    assert "skipped" not in out
    assert out["cond_gen_acc"] == pytest.approx(0.5)  # each attribute is right for exactly one of its two values
    assert out["cond_gen_per_value"] == [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    assert out["locality"] == 1.0 and out["locality_per_attribute"] == [1.0] * 3
    assert math.isnan(out["style_share"]) and 0.0 <= out["style_pixel_share"] <= 1.0
    assert 0.0 <= out["swap_success"] <= 1.0 and len(out["swap_per_target"]) == 3


def test_swap_between_class_statistics_when_the_priors_are_misplaced():
    """The encoder puts class y at 10 e_y but the learned prior at 3 e_y: moves between the priors keep the old
    class; moves between where the encoder puts the classes reach the target."""
    from core.measures import class_statistics

    engine, judge = ToyEngine(scale=1.0), LabelPartJudge()
    x = toy_images(per_class=8)
    x[:, 0, 0, :K] *= 10 / 3
    x[:, 0, 0, :K] += 0.1 * torch.randn(len(x), K, generator=torch.Generator().manual_seed(3))
    labels = torch.arange(K).repeat_interleave(8)
    loc, scale = class_statistics(engine, x, labels)
    assert torch.allclose(loc, 10 * torch.eye(K), atol=0.15) and (scale < 0.3).all()
    assert label_swap_success(engine, judge, x)["success"] == 0.0
    assert label_swap_success(engine, judge, x, class_stats=(loc, scale))["success"] == 1.0
    out = measure_all(engine, judge, x, class_stats=(loc, scale), per_label=5)
    assert out["swap_success"] == 0.0 and out["swap_success_stats"] == 1.0
