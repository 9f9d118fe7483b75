"""A Qt-free API over a trained run: encode, decode, classify, intervene, generate and map.

    from core.inference import Engine
    engine = Engine.from_run("runs/demo")            # or Engine.from_run() for the embedded default model
    enc = engine.encode(images)                       # images [B, C, H, W] in [0, 1] (or uint8)
    swapped = engine.swap_label(enc.z_c, enc.labels_pred, 7)   # z_c moved from p(z_c|y) to p(z_c|7)
    pictures = engine.decode(swapped, enc.z_style)    # [B, C, H, W] in [0, 1]

Latents are torch tensors on the engine's device; every method runs without gradients.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core import checkpoint as ckpt
from core.assets import DEFAULT_RUN
from core.config import RunConfig
from core.device import pick_device
from core.model import CCVAE



@dataclass
class Encoded:
    """q(z|x) of a batch, split into its two blocks; each tensor [B, size]."""

    z_c: torch.Tensor          # mean of q(z_c|x)
    z_style: torch.Tensor      # mean of q(z_style|x)
    scale_c: torch.Tensor
    scale_style: torch.Tensor

    @property
    def z(self) -> torch.Tensor:
        return torch.cat([self.z_c, self.z_style], dim=-1)


class Engine:
    def __init__(self, model: CCVAE, config: RunConfig, run_dir: Path | None = None):
        self.model = model.eval()
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.device = next(model.parameters()).device
        self.label_spec = config.model.label_spec

    @classmethod
    def from_run(cls, run_dir: str | Path | None = None, device: str = "cpu") -> "Engine":
        """Load a run folder (default: the embedded model in ``assets/default_run``)."""
        run_dir = Path(run_dir) if run_dir is not None else DEFAULT_RUN
        model, config = ckpt.load_run(run_dir, pick_device(device))
        return cls(model, config, run_dir)

    # ------------------------------------------------------------ basic maps
    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.config.model.image_shape

    @property
    def zc_dim(self) -> int:
        return self.config.model.zc_dim

    @property
    def style_dim(self) -> int:
        return self.config.model.style_dim

    def _images(self, images) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        if x.dim() == len(self.image_shape) - 1:  # [B, H, W] grey
            x = x.unsqueeze(1)
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"images of shape {tuple(x.shape[1:])} given; this model takes {tuple(self.image_shape)}")
        return x.float().to(self.device)

    @torch.inference_mode()
    def encode(self, images, sample: bool = False, batch_size: int = 1000) -> Encoded:
        """images [B, C, H, W] -> q(z|x) means (or one sample each when ``sample``)."""
        x = self._images(images)
        locs, scales = [], []
        for chunk in x.split(batch_size):
            loc, scale = self.model.encode(chunk)
            locs.append(loc + scale * torch.randn_like(scale) if sample else loc)
            scales.append(scale)
        loc, scale = torch.cat(locs), torch.cat(scales)
        z_c, z_s = self.model.split(loc)
        s_c, s_s = self.model.split(scale)
        return Encoded(z_c, z_s, s_c, s_s)

    @torch.inference_mode()
    def decode(self, z_c: torch.Tensor, z_style: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """(z_c [B, Dc], z_style [B, Ds]) -> images [B, C, H, W] in [0, 1]."""
        z = torch.cat([torch.as_tensor(z_c, dtype=torch.float32).reshape(-1, self.zc_dim),
                       torch.as_tensor(z_style, dtype=torch.float32).reshape(-1, self.style_dim)], -1).to(self.device)
        return torch.cat([self.model.decode(chunk) for chunk in z.split(batch_size)])

    @torch.inference_mode()
    def classify(self, z_c: torch.Tensor) -> torch.Tensor:
        """q(y|z_c): class probabilities [B, K] or per-attribute probabilities [B, A]."""
        return self.model.classify(torch.as_tensor(z_c, dtype=torch.float32).reshape(-1, self.zc_dim).to(self.device))

    def predict(self, z_c: torch.Tensor) -> torch.Tensor:
        """Most likely class [B], or 0/1 attributes [B, A]."""
        probs = self.classify(z_c)
        return probs.argmax(-1) if self.label_spec.is_multiclass else (probs > 0.5).float()

    def reconstruct(self, images) -> torch.Tensor:
        enc = self.encode(images)
        return self.decode(enc.z_c, enc.z_style)

    @torch.inference_mode()
    def reconstruct_scored(self, images, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """decode(encode(x)) at the encoder mean [B, C, H, W] in [0, 1], and log p(x|z) [B] there, summed over
        pixels, under the model's own likelihood (the term the objective trains: a Laplace with its fixed,
        per-channel or per-pixel scale, a continuous Bernoulli...); one pass of the networks for both."""
        x = self._images(images)
        images_out, log_px = [], []
        for chunk in x.split(batch_size):
            loc, _ = self.model.encode(chunk)
            raw = self.model.decode_raw(loc)
            images_out.append(self.model.likelihood.mean(raw))
            log_px.append(self.model.log_px(raw, chunk))
        return torch.cat(images_out), torch.cat(log_px)

    # ------------------------------------------------------------ the conditional prior
    @torch.inference_mode()
    def prior(self, y) -> tuple[torch.Tensor, torch.Tensor]:
        """(loc, scale) of p(z_c|y), each [B, Dc]; y: class indices [B] or 0/1 attributes [B, A]."""
        y = torch.as_tensor(y, device=self.device)
        y = y.long() if self.label_spec.is_multiclass else y.float()
        return self.model.head.prior(y)

    # ------------------------------------------------------------ interventions
    def swap_label(self, z_c: torch.Tensor, y_from, y_to) -> torch.Tensor:
        """Move z_c from p(z_c|y_from) to p(z_c|y_to) keeping its place in the class:
        z_c' = mu_to + sigma_to * (z_c - mu_from) / sigma_from. For binary attributes y_* are [B, A] 0/1
        vectors and only the attributes that differ move. z_c [B, Dc] -> [B, Dc]."""
        z_c = torch.as_tensor(z_c, dtype=torch.float32, device=self.device).reshape(-1, self.zc_dim)
        n = len(z_c)
        y_from, y_to = self._labels(y_from, n), self._labels(y_to, n)
        loc_f, scale_f = self.prior(y_from)
        loc_t, scale_t = self.prior(y_to)
        return loc_t + scale_t * (z_c - loc_f) / scale_f

    def flip_attribute(self, z_c: torch.Tensor, attribute: int, value: int | None = None) -> torch.Tensor:
        """Binary labels: set attribute ``attribute`` to ``value`` (default: the opposite of the classifier's
        current verdict), moving z_c between its two prior modes; the other attributes stay."""
        if self.label_spec.is_multiclass:
            raise ValueError("flip_attribute is for binary attributes; use swap_label for a multi-class label")
        current = self.predict(z_c)
        target = current.clone()
        target[:, attribute] = (1 - current[:, attribute]) if value is None else float(value)
        return self.swap_label(z_c, current, target)

    def _labels(self, y, n: int) -> torch.Tensor:
        y = torch.as_tensor(y, device=self.device)
        if self.label_spec.is_multiclass:
            return y.long().reshape(-1).expand(n) if y.numel() == 1 else y.long().reshape(n)
        return y.float().reshape(-1, self.label_spec.size).expand(n, -1)

    @staticmethod
    def transfer(z_c_of_b: torch.Tensor, z_style_of_a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Characteristic transfer: image B's characteristics with image A's style (decode the pair)."""
        return z_c_of_b, z_style_of_a

    @staticmethod
    def interpolate(a: Encoded | tuple, b: Encoded | tuple, steps: int = 10, mode: str = "full"
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Path from A to B in ``steps`` points: ``full`` moves both blocks, ``zc`` moves z_c only (style of A),
        ``style`` moves the style only (z_c of A). a, b: Encoded of one image or (z_c [Dc], z_style [Ds]).
        Returns (z_c [steps, Dc], z_style [steps, Ds])."""
        if mode not in ("full", "zc", "style"):
            raise ValueError(f"interpolation mode must be full, zc or style, not {mode!r}")
        zc_a, zs_a = (a.z_c, a.z_style) if isinstance(a, Encoded) else a
        zc_b, zs_b = (b.z_c, b.z_style) if isinstance(b, Encoded) else b
        zc_a, zs_a, zc_b, zs_b = (torch.as_tensor(t, dtype=torch.float32).reshape(-1) for t in (zc_a, zs_a, zc_b, zs_b))
        t = torch.linspace(0, 1, steps, device=zc_a.device).unsqueeze(1)
        zc_end = zc_b if mode in ("full", "zc") else zc_a
        zs_end = zs_b if mode in ("full", "style") else zs_a
        return zc_a + t * (zc_end - zc_a), zs_a + t * (zs_end - zs_a)

    @torch.inference_mode()
    def latent_walk(self, z_c: torch.Tensor, dimension: int, steps: int = 9, margin: float = 5.0) -> torch.Tensor:
        """Walk z_c[dimension] from the low end to the high end of what the priors cover, the rest fixed.
        Binary attribute i: from the y_i = 0 mode minus margin * scale to the y_i = 1 mode plus margin * scale
        (the paper's walks). Multi-class: from the lowest to the highest class mean along that dimension, each
        widened by margin * scale. Returns z_c [steps, Dc]."""
        head = self.model.head
        z_c = torch.as_tensor(z_c, dtype=torch.float32, device=self.device).reshape(self.zc_dim)
        if self.label_spec.is_multiclass:
            locs, scales = head.prior_loc[:, dimension], head.prior_scale()[:, dimension]
            low, high = float((locs - margin * scales).min()), float((locs + margin * scales).max())
        else:
            off_on = torch.tensor([[0.0] * self.label_spec.size, [1.0] * self.label_spec.size])
            loc, scale = (t[:, dimension].tolist() for t in self.prior(off_on))
            away = 1.0 if loc[1] >= loc[0] else -1.0  # walk outward past both modes, whichever way they lie
            low, high = loc[0] - away * margin * scale[0], loc[1] + away * margin * scale[1]
        path = z_c.repeat(steps, 1)
        path[:, dimension] = torch.linspace(low, high, steps, device=self.device)
        return path

    @torch.inference_mode()
    def generate(self, y, n: int = 1, z_style: torch.Tensor | None = None, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Conditional generation: z_c ~ p(z_c|y), z_style ~ N(0, I) (or the given style, [Ds] or [n, Ds]).
        y: one label (class index, or [A] attributes). Returns (z_c [n, Dc], z_style [n, Ds])."""
        loc, scale = self.prior(self._labels(y, n))
        eps = torch.randn(loc.shape, generator=generator).to(self.device)
        z_c = loc + scale * eps
        if z_style is None:
            z_style = torch.randn((n, self.style_dim), generator=generator).to(self.device)
        else:
            z_style = torch.as_tensor(z_style, dtype=torch.float32, device=self.device).reshape(-1, self.style_dim).expand(n, -1)
        return z_c, z_style
