"""Is the decoder using the latent? Reconstruction error against the mean-image baseline, and the verdict.

A decoder that ignores z can do no better than one fixed picture; the best fixed picture under squared error is
the mean image. So a run's reconstructions are worth something only if their mean squared error is clearly
below that of the mean image on the same test images. Both numbers go into ``summary.json``; the training CLI
and the explorer show ``reconstruction_warning``'s message when it has one (its text is decided here only).
"""
from __future__ import annotations

import numpy as np
import torch

from core.data import iterate_batches

# flagged when the reconstructions remove less than 10% of the mean image's error: "no better than the mean
# image" up to noise (a collapsed decoder lands at 1.0 or above; healthy runs measured 0.05-0.3)
FLAG_RATIO = 0.9


def spread_indices(n: int, limit: int) -> np.ndarray:
    """At most ``limit`` indices spread evenly over 0..n-1 (a split's order may be grouped by class)."""
    if limit <= 0 or n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).astype(np.int64))


def reconstruction_quality(model, data, indices: np.ndarray | None = None, device: torch.device | str = "cpu",
                           batch_size: int = 250, num_workers: int = 0) -> dict:
    """Mean squared pixel error of decode(encoder mean) over ``indices`` of ``data``, and of the mean image of
    those same images (its per-pixel variance, averaged); returns {"recon_mse", "mean_image_mse", "recon_ratio"}.
    """
    indices = np.arange(len(data)) if indices is None else np.asarray(indices)
    sq_err, total, total_sq, n = 0.0, None, None, 0
    model.eval()
    with torch.inference_mode():
        for x, _ in iterate_batches(data, indices, batch_size, shuffle=False, generator=None, num_workers=num_workers):
            x = x.to(device).float()
            loc, _ = model.encode(x)
            recon = model.decode(loc).float()
            sq_err += float(((recon - x) ** 2).sum(dim=0).double().sum())
            x64 = x.double().cpu()
            total = x64.sum(0) if total is None else total + x64.sum(0)
            total_sq = (x64 ** 2).sum(0) if total_sq is None else total_sq + (x64 ** 2).sum(0)
            n += len(x)
    if n == 0:
        return {"recon_mse": float("nan"), "mean_image_mse": float("nan"), "recon_ratio": float("nan")}
    pixels = total.numel()
    mean = total / n
    baseline = float((total_sq / n - mean ** 2).clamp_min(0).sum()) / pixels  # per-pixel variance, averaged
    mse = sq_err / (n * pixels)
    return {"recon_mse": round(mse, 6), "mean_image_mse": round(baseline, 6),
            "recon_ratio": round(mse / baseline, 4) if baseline > 0 else float("nan")}


def reconstruction_warning(summary: dict, likelihood: str | None) -> str | None:
    """One line telling the user the reconstructions are no better than the mean image and the likely fix, or
    None when they are (or when the summary predates these numbers)."""
    mse, baseline = summary.get("recon_mse"), summary.get("mean_image_mse")
    if mse is None or baseline is None or not baseline > 0 or not mse >= FLAG_RATIO * baseline:
        return None
    what = (f"reconstructions are no better than the mean image (test MSE {mse:.4f}, mean image {baseline:.4f}): "
            "the decoder ignores the latent")
    if likelihood is not None and likelihood.startswith("laplace"):
        return (f"{what}; likely fix: retrain with --likelihood bernoulli (the default; under a Laplace likelihood "
                "the decoder's sigmoid saturates on plain backgrounds and stops learning)")
    return f"{what}; likely fix: train for more epochs or with a smaller --beta"


def run_reconstruction_warning(run_dir, likelihood: str | None) -> str | None:
    """``reconstruction_warning`` for a run folder's summary.json (None when it has none or cannot be read)."""
    import json
    from pathlib import Path

    from core.run import SUMMARY_FILE  # here, not at the top: core.run imports this module

    try:
        summary = json.loads((Path(run_dir) / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return reconstruction_warning(summary, likelihood) if isinstance(summary, dict) else None
