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


def test_reconstruction_error_known_values():
    x = (torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(1)) > 0.5).float()

    class Identity(ToyEngine):
        def encode(self, images):
            return Encoded(images.reshape(len(images), -1), torch.zeros(len(images), 0))

        def decode(self, z_c, z_style):
            return z_c.reshape(-1, 1, 4, 4)

    exact = reconstruction_error(Identity(), x)
    assert exact["mse"] == 0.0 and exact["nll"] == pytest.approx(0.0, abs=1e-3)

    class Grey(Identity):
        def decode(self, z_c, z_style):
            return torch.full((len(z_c), 1, 4, 4), 0.5)

    grey = reconstruction_error(Grey(), x)
    assert grey["mse"] == pytest.approx(0.25) and grey["nll"] == pytest.approx(16 * math.log(2), rel=1e-5)


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


def test_binary_labels_skip_judge_measures():
    engine = ToyEngine()
    engine.label_spec = LabelSpec("binary", ("a", "b"))
    with pytest.raises(ValueError, match="multi-class"):
        label_swap_success(engine, LabelPartJudge(), toy_images())
    out = measure_all(engine, LabelPartJudge(), toy_images().clamp(0, 1))
    assert "skipped" in out and "cond_gen_acc" not in out


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
