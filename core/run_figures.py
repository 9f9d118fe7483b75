"""The figures a finished run writes to ``figures/``: reconstructions, conditional generations per label,
interpolations, label swaps (multi-class) or latent walks (binary attributes), and loss and accuracy curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.figures import save_curves, save_image_grid
from core.inference import Engine
from core.labels import first_per_class


def reconstructions(engine: Engine, images: torch.Tensor, path: Path, n: int = 16) -> None:
    x = images[:n]
    recon = engine.reconstruct(x).cpu()
    save_image_grid(path, torch.cat([x.float(), recon]), nrow=len(x), row_labels=["input", "reconstruction"],
                    title="Reconstructions (test images)")


def generations(engine: Engine, path: Path, per_label: int = 10, seed: int = 0) -> None:
    """One row per label: z_c ~ p(z_c|y), style ~ N(0, I); the same styles down each column."""
    spec = engine.label_spec
    gen = torch.Generator().manual_seed(seed)
    styles = torch.randn((per_label, engine.style_dim), generator=gen)
    rows, names = [], []
    for i, name in enumerate(spec.names):
        if spec.is_multiclass:
            y = i
        else:  # attribute i on, the others drawn from p(y)
            y = (torch.rand(spec.size, generator=gen) < engine.model.label_prior.cpu()).float()
            y[i] = 1.0
        z_c, z_s = engine.generate(y, per_label, z_style=styles, generator=gen)
        rows.append(engine.decode(z_c, z_s).cpu())
        names.append(name)
    save_image_grid(path, torch.cat(rows), nrow=per_label, row_labels=names,
                    title="Conditional generation: z_c ~ p(z_c|y), style ~ N(0, I), one style per column")


def interpolations(engine: Engine, images: torch.Tensor, labels: np.ndarray, path: Path, steps: int = 10) -> None:
    """Between images of consecutive classes (0 -> 1, 1 -> 2, ...), or between consecutive test images (binary
    attributes, or fewer than two classes among the images); no figure from fewer than two images."""
    spec = engine.label_spec
    by_class = spec.is_multiclass
    pairs = []
    if by_class:
        firsts = first_per_class(labels, spec.size)
        pairs = list(zip(firsts, firsts[1:]))[:8]
    if not pairs:
        by_class = False
        pairs = [(2 * i, 2 * i + 1) for i in range(min(6, len(images) // 2))]
    if not pairs:
        return
    enc = engine.encode(images)
    rows, names = [], []
    for a, b in pairs:
        for mode in ("full", "zc", "style"):
            z_c, z_s = engine.interpolate((enc.z_c[a], enc.z_style[a]), (enc.z_c[b], enc.z_style[b]), steps, mode)
            rows.append(engine.decode(z_c, z_s).cpu())
            head = f"{spec.names[int(labels[a])]}->{spec.names[int(labels[b])]}" if by_class else f"{a}->{b}"
            names.append(f"{head} {mode}")
        if len(rows) >= 12:
            break
    save_image_grid(path, torch.cat(rows), nrow=steps, row_labels=names,
                    title="Interpolations: full latent, z_c only, style only")


def label_swaps(engine: Engine, images: torch.Tensor, labels: np.ndarray, path: Path, n: int = 8) -> None:
    """Multi-class: each row one test image, then that image swapped to every class."""
    spec = engine.label_spec
    x = images[:n]
    enc = engine.encode(x)
    y_from = engine.predict(enc.z_c)
    rows = []
    for i in range(len(x)):
        targets = torch.arange(spec.size)
        z_c = engine.swap_label(enc.z_c[i].expand(spec.size, -1), y_from[i].expand(spec.size), targets)
        rows.append(torch.cat([x[i:i + 1].float(), engine.decode(z_c, enc.z_style[i].expand(spec.size, -1)).cpu()]))
    save_image_grid(path, torch.cat(rows), nrow=spec.size + 1, col_labels=["input", *spec.names],
                    title="Label swaps: z_c moved from p(z_c|y) to p(z_c|y'), style kept")


def latent_walks(engine: Engine, image: torch.Tensor, path: Path, steps: int = 9) -> None:
    """Binary attributes: one row per attribute, z_c,i walked between its two prior modes and beyond."""
    spec = engine.label_spec
    enc = engine.encode(image[None])
    rows = []
    for i in range(engine.zc_dim):
        walk = engine.latent_walk(enc.z_c[0], i, steps)
        rows.append(engine.decode(walk, enc.z_style.expand(steps, -1)).cpu())
    names = list(spec.names) if not spec.is_multiclass else [f"z_c[{i}]" for i in range(engine.zc_dim)]
    save_image_grid(path, torch.cat(rows), nrow=steps, row_labels=names, title="Latent walks along each z_c dimension")


def curves(history: list[dict], fig_dir: Path) -> None:
    def series(key):
        return [(r["epoch"], r[key]) for r in history if key in r]

    save_curves(fig_dir / "loss.png", {name: series(key) for name, key in [
        ("train, labelled", "sup_loss"), ("train, unlabelled", "unsup_loss"),
        ("validation, labelled", "val_sup_loss"), ("validation, unlabelled", "val_unsup_loss")] if series(key)},
        title="Loss (negative objective per image)", xlabel="epoch", ylabel="loss")
    save_curves(fig_dir / "accuracy.png", {"validation accuracy": series("val_accuracy")},
                title="Validation accuracy of q(y|z_c)", xlabel="epoch", ylabel="accuracy")


def make_run_figures(engine: Engine, test_images: torch.Tensor, test_labels: np.ndarray, history: list[dict],
                     fig_dir: Path, seed: int = 0) -> list[Path]:
    """test_images: [N, C, H, W] in [0, 1] (a few dozen are enough); test_labels: [N] or [N, A]."""
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    reconstructions(engine, test_images, fig_dir / "reconstructions.png")
    generations(engine, fig_dir / "generations.png", seed=seed)
    interpolations(engine, test_images, test_labels, fig_dir / "interpolations.png")
    if engine.label_spec.is_multiclass:
        label_swaps(engine, test_images, test_labels, fig_dir / "label_swaps.png")
    latent_walks(engine, test_images[0], fig_dir / "latent_walks.png")
    if history:
        curves(history, fig_dir)
    return sorted(fig_dir.glob("*.png"))
