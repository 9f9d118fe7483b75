"""The likelihood choices p(x|z), the rule that picks one for a data set, old runs' configurations, the
reconstruction-versus-mean-image verdict, and library warnings recorded in the run folder."""
import json
import warnings

import pytest
import torch
from torch import distributions as D

from core.config import ModelConfig, RunConfig
from core.labels import LabelSpec
from core.likelihood import LIKELIHOODS, default_likelihood
from core.model import CCVAE
from core.pixel_likelihood import MIN_SCALE
from core.reconstruction import FLAG_RATIO, reconstruction_quality, reconstruction_warning, run_reconstruction_warning

SPEC = LabelSpec("binary", ("red", "circle", "large"))


def rgb_model(likelihood, **kw):
    torch.manual_seed(0)
    return CCVAE(ModelConfig(image_shape=(3, 64, 64), label_spec=SPEC, latent_dim=8, likelihood=likelihood, **kw))


def test_laplace_is_the_authors_fixed_scale_laplace():
    model = rgb_model("laplace")
    raw, x = torch.randn(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    expected = D.Laplace(torch.sigmoid(raw), torch.ones_like(raw)).log_prob(x).flatten(1).sum(-1)
    assert torch.allclose(model.log_px(raw, x), expected, rtol=1e-5)
    small = rgb_model("laplace", likelihood_scale=0.1)
    expected = D.Laplace(torch.sigmoid(raw), torch.full_like(raw, 0.1)).log_prob(x).flatten(1).sum(-1)
    assert torch.allclose(small.log_px(raw, x), expected, rtol=1e-5)


def test_old_config_json_loads_with_the_same_likelihood():
    """A config.json written before likelihood_scale existed: "laplace" still means scale 1, bernoulli stays."""
    for name in ("laplace", "bernoulli"):
        cfg = RunConfig(model=ModelConfig(image_shape=(3, 64, 64), label_spec=SPEC, latent_dim=8, likelihood=name))
        stored = cfg.to_json()
        del stored["model"]["likelihood_scale"]
        loaded = RunConfig.from_json(json.loads(json.dumps(stored)))
        assert loaded.model.likelihood == name and loaded.model.likelihood_scale == 1.0
        old, new = CCVAE(cfg.model), CCVAE(loaded.model)
        assert set(old.state_dict()) == set(new.state_dict())  # the same weights file fits
        assert not any(k.startswith("likelihood.") for k in new.state_dict())


def test_continuous_bernoulli_density_and_mean_match_torch():
    model = rgb_model("continuous-bernoulli")
    raw = torch.tensor([-9.0, -3.0, -0.4, -0.004, 0.0, 0.002, 0.3, 2.5, 8.0]).view(1, 1, 3, 3).expand(1, 3, 3, 3)
    x = torch.rand(1, 3, 3, 3)
    ref = D.ContinuousBernoulli(logits=raw.double())
    expected = ref.log_prob(x.double()).flatten(1).sum(-1)
    assert torch.allclose(model.log_px(raw, x).double(), expected, atol=1e-3)
    assert torch.allclose(model.likelihood.mean(raw).double(), ref.mean, atol=1e-3)  # not sigmoid(logit)
    assert not torch.allclose(model.likelihood.mean(raw), torch.sigmoid(raw), atol=1e-2)


def test_laplace_channel_uses_the_batch_scale_when_training_and_its_running_value_after():
    model = rgb_model("laplace-channel")
    raw, x = torch.randn(4, 3, 64, 64), torch.rand(4, 3, 64, 64)
    residual = (x - torch.sigmoid(raw)).abs()
    b = residual.mean(dim=(0, 2, 3)).view(1, 3, 1, 1)
    model.train()
    expected = (-residual / b - torch.log(2 * b)).flatten(1).sum(-1)
    assert torch.allclose(model.log_px(raw, x), expected, rtol=1e-5)
    assert "likelihood.running_scale" in model.state_dict()  # travels with the weights for evaluation
    running = model.likelihood.running_scale.clone()
    assert torch.all(running < 1.0)  # moved from 1 towards the batch's scale
    model.eval()
    model.log_px(raw, x)
    assert torch.equal(model.likelihood.running_scale, running)  # evaluation does not update it


def test_laplace_pixel_decoder_predicts_a_scale_per_pixel():
    model = rgb_model("laplace-pixel")
    raw = model.decode_raw(torch.randn(2, 8))
    assert raw.shape == (2, 6, 64, 64)  # mean and scale for each of the 3 channels
    image = model.decode(torch.randn(2, 8))
    image = image.detach()
    assert image.shape == (2, 3, 64, 64) and 0 <= float(image.min()) and float(image.max()) <= 1
    x = torch.rand(2, 3, 64, 64)
    b = torch.nn.functional.softplus(raw[:, 3:]) + MIN_SCALE
    expected = D.Laplace(torch.sigmoid(raw[:, :3]), b).log_prob(x).flatten(1).sum(-1)
    assert torch.allclose(model.log_px(raw, x), expected, rtol=1e-4)


def test_every_likelihood_trains_a_step_without_nans():
    from core.objective import supervised_loss, unsupervised_loss

    x, y = torch.rand(4, 3, 64, 64), torch.randint(0, 2, (4, 3)).float()
    for name in LIKELIHOODS:
        model = rgb_model(name)
        loss = supervised_loss(model, x, y, k=4).loss + unsupervised_loss(model, x).loss
        loss.backward()
        assert torch.isfinite(loss), name
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None), name


def test_unknown_likelihood_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="continuous-bernoulli"):  # a ConfigError, one line
        ModelConfig(likelihood="gaussian")
    with pytest.raises(ValueError, match="positive"):
        ModelConfig(likelihood="laplace", likelihood_scale=0)


def test_one_default_rule_settles_every_new_run_and_the_authors_laplace_stays_one_flag():
    from core.options import given_options
    from core.presets import run_config, settle_model
    from core.study.grid import study_run_config
    from train_cli import _add_train_arguments, config_from_args
    from core.options import OneLineParser

    for dataset, channels in (("mnist5k", 1), ("fashion-mnist", 1), ("folder", 3), ("celeba", 3)):
        wanted = run_config({"dataset": dataset})
        assert wanted.model.likelihood is None  # open until the data's channels are known
        assert settle_model(wanted.model, SPEC, (channels, 64, 64)).likelihood == default_likelihood(channels)
    assert default_likelihood(3) == "bernoulli"  # the authors' Laplace decodes plain-background colour to black
    assert study_run_config().model.likelihood is None  # the study's cells settle through the same rule

    parser = OneLineParser()
    _add_train_arguments(parser)
    argv = ["--dataset", "celeba", "--likelihood", "laplace", "--out", "x"]
    cfg = config_from_args(parser.parse_args(argv), given_options(parser, argv))
    assert cfg.model.likelihood == "laplace" and cfg.model.likelihood_scale == 1.0  # replication: one flag
    argv = ["--dataset", "folder", "--likelihood", "laplace", "--laplace-scale", "0.1", "--out", "x"]
    assert config_from_args(parser.parse_args(argv), given_options(parser, argv)).model.likelihood_scale == 0.1


class _ImageCopy:
    """A stand-in model whose decoder returns a known picture: the input itself, or a fixed image."""

    def __init__(self, fixed=None):
        self.fixed = fixed

    def eval(self):
        return self

    def encode(self, x):
        return x, None

    def decode(self, z):
        return z if self.fixed is None else self.fixed.expand_as(z)


def test_reconstruction_quality_against_the_mean_image():
    from core.data import TensorImageSet

    images = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8)
    data = TensorImageSet(images, torch.zeros(40, dtype=torch.int64))
    x = images.float() / 255
    perfect = reconstruction_quality(_ImageCopy(), data, batch_size=7)
    assert perfect["recon_mse"] == 0 and perfect["recon_ratio"] == 0
    assert perfect["mean_image_mse"] == pytest.approx(float(x.var(0, unbiased=False).mean()), rel=1e-4)
    mean_only = reconstruction_quality(_ImageCopy(fixed=x.mean(0, keepdim=True)), data, batch_size=7)
    assert mean_only["recon_ratio"] == pytest.approx(1.0, rel=1e-3)


def test_a_run_no_better_than_the_mean_image_is_flagged_with_the_likely_fix(tmp_path):
    bad = {"recon_mse": 0.0755, "mean_image_mse": 0.0519}
    message = reconstruction_warning(bad, "laplace")
    assert "no better than the mean image" in message and "--likelihood bernoulli" in message
    assert "0.0755" in message and "0.0519" in message
    assert "--likelihood" not in reconstruction_warning(bad, "bernoulli")  # another cause, another fix
    assert reconstruction_warning({"recon_mse": 0.01, "mean_image_mse": 0.05}, "laplace") is None
    edge = {"recon_mse": FLAG_RATIO * 0.05, "mean_image_mse": 0.05}
    assert reconstruction_warning(edge, "bernoulli") is not None
    assert reconstruction_warning({"test_accuracy": 0.9}, "laplace") is None  # summaries from before
    (tmp_path / "summary.json").write_text(json.dumps(bad))
    assert run_reconstruction_warning(tmp_path, "laplace") == message
    assert run_reconstruction_warning(tmp_path / "missing", "laplace") is None


def test_library_warnings_are_recorded_with_their_meaning_not_printed(tmp_path, capsys):
    from core.library_warnings import WARNINGS_FILE, recorded_warnings, save_warnings

    with recorded_warnings() as caught:
        warnings.warn("Spectral initialisation failed! The eigenvector solver\nfailed.\n\n"
                      "Falling back to random initialisation!")
        warnings.warn("something else entirely", RuntimeWarning)
    assert capsys.readouterr().err == ""
    notes = save_warnings(tmp_path, caught)
    assert len(notes) == 2 and "random start" in notes[0]
    log = (tmp_path / WARNINGS_FILE).read_text()
    assert "Falling back to random initialisation!" in log and "meaning: UMAP's spectral start failed" in log
    assert "RuntimeWarning" in log
    assert save_warnings(tmp_path / "other", []) == [] and not (tmp_path / "other").exists()


def test_the_bundled_summaries_are_portable():
    from pathlib import Path

    from core.assets import ASSETS

    summaries = sorted(ASSETS.glob("*/summary.json"))
    assert len(summaries) >= 2  # default_run and morpho_run at least
    for path in summaries:
        summary = json.loads(path.read_text())
        assert summary["run"] == path.parent.name and not Path(summary["run"]).is_absolute(), path
        assert summary["recon_mse"] < 0.3 * summary["mean_image_mse"], path  # measured on the bundled weights
        assert reconstruction_warning(summary, "bernoulli") is None
