"""The decoder's likelihood p(x|z) on pixels in [0, 1]: the choices, and the rule that picks one for a data set.

Choices (``ModelConfig.likelihood``, ``--likelihood``):

- ``bernoulli`` (the default): the decoder gives one logit per pixel; grey levels are soft targets (binary
  cross-entropy, no binarisation). The decoded image is sigmoid(logit). Its gradient with respect to a logit
  is sigmoid(logit) - x: it shrinks only as the pixel becomes right, never because the logit is extreme.
- ``continuous-bernoulli``: the normalised form of the above (Loaiza-Ganem & Cunningham, 2019): the same
  cross-entropy plus log C(logit), so it is a proper density on [0, 1]. The decoded image is its mean, which is
  not sigmoid(logit).
- ``laplace``: the CCVAE authors' CelebA likelihood, a Laplace around sigmoid(output) with a fixed scale
  (``likelihood_scale``, 1 in their code; ``--laplace-scale``). Kept for replication.
- ``laplace-channel``: a Laplace whose scale per colour channel is its maximum-likelihood value on each
  training batch (the mean absolute residual). A running average of it is kept in the weights for evaluation.
- ``laplace-pixel``: a Laplace whose scale the decoder predicts per pixel (the decoder outputs 2C channels).

Why the Laplace forms fail on images with plain backgrounds (measured on the generated shapes, issue 13): the
gradient of |x - sigmoid(o)| is sign(x - mean) * sigmoid'(o); on a mostly black picture the sign says "darker"
for most pixels, Adam keeps its steps full-sized while sigmoid'(o) shrinks, and the decoder's outputs run to
-500 ... -15000, where sigmoid' is 0 and no pixel can learn again: every image decodes black, whatever the
scale (fixed 1, fixed 0.1, per channel or per pixel). The continuous Bernoulli also stayed at the mean image.

``default_likelihood(channels, dataset)`` is the one rule for which of these a new run gets; the measurements
behind it are in bench/likelihood.py and the README. The densities themselves are in core/pixel_likelihood.py;
this module imports no torch, so command lines can list the choices cheaply.
"""
from __future__ import annotations

from core.errors import ConfigError

LIKELIHOODS = ("bernoulli", "continuous-bernoulli", "laplace", "laplace-channel", "laplace-pixel")


def default_likelihood(channels: int, dataset: str | None = None) -> str:
    """The likelihood a new run on this data gets when none is asked for: Bernoulli, for every data kind.

    Measured in bench/likelihood.py (figures in the README): on generated colour shapes, on black and on a busy
    texture, every Laplace form (fixed scale 1 or 0.1, per channel, per pixel) and the continuous Bernoulli
    stayed at or above the mean image's error, while Bernoulli reached 0.10x of it (30 epochs) with test
    accuracy at least the old colour default's; on grey digits it is the default it always was. ``channels``
    and ``dataset`` are in the signature because the rule is per data kind should a kind ever need another
    choice; CelebA replication asks for ``--likelihood laplace`` explicitly.
    """
    del channels, dataset  # the measurements found one choice that serves every kind
    return "bernoulli"


def check_likelihood(name: str) -> None:
    if name not in LIKELIHOODS:
        raise ConfigError(f"likelihood must be one of {', '.join(LIKELIHOODS)}, not {name!r}")


def decoder_channels(name: str, image_channels: int) -> int:
    """How many output channels the decoder needs: the image's, or twice that for a per-pixel scale."""
    return 2 * image_channels if name == "laplace-pixel" else image_channels
