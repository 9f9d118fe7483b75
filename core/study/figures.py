"""Figures that put the cells of a study side by side, one PNG per kind (the poster's figures, one page each):
reconstructions, conditional generations, interpolations 0 -> 1, label swaps, accuracy and loss curves, and a
chart of the measures. Binary attributes get their own forms of the generations and swaps: each attribute on and
off, and each attribute of one image flipped."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.checkpoint import atomic_write_bytes
from core.figures import save_curves, save_image_grid
from core.labels import first_per_class
from core.measures import attribute_prior

MAX_COLUMNS = 10  # labels or attributes shown per figure: a 28x28 grid of more would not fit a page


def reconstructions(path: Path, engines: list, names: list[str], images: torch.Tensor) -> None:
    """First row: the test images; then one row of reconstructions per cell."""
    rows = [images.float()] + [engine.reconstruct(images).cpu() for engine in engines]
    save_image_grid(path, torch.cat(rows), nrow=len(images), row_labels=["input", *names],
                    title="Reconstructions of test images (one row per cell)")


def generations(path: Path, engines: list, names: list[str], styles: int = 2, seed: int = 0) -> None:
    """Per cell ``styles`` rows; columns are labels; z_c ~ p(z_c|y), one style ~ N(0, I) per row."""
    spec = engines[0].label_spec
    labels = list(range(min(spec.size, MAX_COLUMNS)))
    rows, row_names = [], []
    for engine, name in zip(engines, names):
        gen = torch.Generator().manual_seed(seed)
        for s in range(styles):
            style = torch.randn((1, engine.style_dim), generator=gen)
            z_c = torch.cat([engine.generate(y, 1, z_style=style, generator=gen)[0] for y in labels])
            rows.append(engine.decode(z_c, style.expand(len(labels), -1)).cpu())
            row_names.append(name if s == 0 else "")
    save_image_grid(path, torch.cat(rows), nrow=len(labels), row_labels=row_names,
                    col_labels=[spec.names[y] for y in labels],
                    title=f"Conditional generation: z_c ~ p(z_c|y), {styles} random styles per cell")


def interpolations(path: Path, engines: list, names: list[str], a: torch.Tensor, b: torch.Tensor,
                   title_ab: str, mode: str = "full", steps: int = 10) -> None:
    """One row per cell: encode a and b, walk between them (``full``, ``zc`` or ``style``), decode."""
    rows = []
    for engine in engines:
        enc = engine.encode(torch.stack([a, b]))
        z_c, z_s = engine.interpolate((enc.z_c[0], enc.z_style[0]), (enc.z_c[1], enc.z_style[1]), steps, mode)
        rows.append(torch.cat([a[None].float(), engine.decode(z_c, z_s).cpu(), b[None].float()]))
    what = {"full": "whole latent", "zc": "z_c only, style of the first image", "style": "style only"}[mode]
    save_image_grid(path, torch.cat(rows), nrow=steps + 2, row_labels=names,
                    col_labels=["A"] + [""] * steps + ["B"],
                    title=f"Interpolation {title_ab} ({what}); first and last columns are the inputs")


def label_swaps(path: Path, engines: list, names: list[str], image: torch.Tensor) -> None:
    """One row per cell: the test image, then it swapped to every label (style kept)."""
    spec = engines[0].label_spec
    k = min(spec.size, MAX_COLUMNS)
    rows = []
    for engine in engines:
        enc = engine.encode(image[None])
        y_from = engine.predict(enc.z_c)
        z_c = engine.swap_label(enc.z_c.expand(k, -1), y_from.expand(k), torch.arange(k))
        rows.append(torch.cat([image[None].float(), engine.decode(z_c, enc.z_style.expand(k, -1)).cpu()]))
    save_image_grid(path, torch.cat(rows), nrow=k + 1, row_labels=names,
                    col_labels=["input", *spec.names[:k]], title="Label swaps of one test image, style kept")


def attribute_generations(path: Path, engines: list, names: list[str], seed: int = 0) -> None:
    """Binary attributes: per cell two rows, attribute i on (first row) and off (second) in column i. The other
    attributes are one draw from p(y), and the z_c noise and the style are one draw per cell, so within a column
    only that attribute's part of z_c differs between the rows, and across a row only the attribute set."""
    spec = engines[0].label_spec
    k = min(spec.size, MAX_COLUMNS)
    rows, row_names = [], []
    for engine, name in zip(engines, names):
        gen = torch.Generator().manual_seed(seed)
        base = (torch.rand(spec.size, generator=gen) < attribute_prior(engine)).float()
        eps = torch.randn((1, engine.zc_dim), generator=gen)
        style = torch.randn((1, engine.style_dim), generator=gen)
        for value in (1.0, 0.0):
            y = base.repeat(k, 1)
            y[torch.arange(k), torch.arange(k)] = value
            loc, scale = engine.prior(y)
            rows.append(engine.decode(loc + scale * eps.to(loc.device), style.expand(k, -1)).cpu())
        row_names += [f"{name}: on", "off"]
    save_image_grid(path, torch.cat(rows), nrow=k, row_labels=row_names, col_labels=list(spec.names[:k]),
                    title="Conditional generation per attribute: z_c ~ p(z_c|y) with the column's attribute on, "
                          "then off; one style per cell")


def attribute_flips(path: Path, engines: list, names: list[str], image: torch.Tensor) -> None:
    """One row per cell: the test image, its reconstruction (what each flip is to be compared with), then it with
    each attribute flipped (the classifier's verdict reversed, the other attributes and the style kept)."""
    spec = engines[0].label_spec
    k = min(spec.size, MAX_COLUMNS)
    rows = []
    for engine in engines:
        enc = engine.encode(image[None])
        z_c = torch.cat([enc.z_c] + [engine.flip_attribute(enc.z_c, i) for i in range(k)])
        rows.append(torch.cat([image[None].float(), engine.decode(z_c, enc.z_style.expand(k + 1, -1)).cpu()]))
    save_image_grid(path, torch.cat(rows), nrow=k + 2, row_labels=names,
                    col_labels=["input", "recon.", *spec.names[:k]],
                    title="Each attribute of one test image flipped (the classifier's verdict reversed), style kept")


def _save_figure(fig, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())


def _new_figure(width: float = 8.4, height: float = 4.4):
    """An Agg figure (no GUI backend, no pyplot state) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


# one colour per cell, its unlabelled loss dashed; the legend beside the plot, so it never hides a line
_MANY_LINES = dict(dashed_suffix=" (unlabelled)", legend_outside=True, dpi=110)


def curves(fig_dir: Path, histories: list[list[dict]], names: list[str]) -> list[Path]:
    def series(history, key):
        return [(r["epoch"], r[key]) for r in history if key in r]

    written = []
    save_curves(fig_dir / "accuracy.png", {n: series(h, "val_accuracy") for n, h in zip(names, histories)},
                title="Validation accuracy of q(y|z_c)", xlabel="epoch", ylabel="accuracy", **_MANY_LINES)
    written.append(fig_dir / "accuracy.png")
    any_unsup = any(series(h, "unsup_loss") for h in histories)
    for split, prefix in (("train", ""), ("validation", "val_")):
        data = {n: series(h, f"{prefix}sup_loss") for n, h in zip(names, histories)}
        if any_unsup:
            data.update({f"{n} (unlabelled)": series(h, f"{prefix}unsup_loss") for n, h in zip(names, histories)})
        path = fig_dir / f"loss_{'train' if split == 'train' else 'val'}.png"
        save_curves(path, {k: v for k, v in data.items() if v}, title=f"{split.capitalize()} loss (labelled "
                    f"objective per image{', and unlabelled' if any_unsup else ''})", xlabel="epoch",
                    ylabel="loss (nats per image)", **_MANY_LINES)
        written.append(path)
    return written


def measures_chart(path: Path, rows: list[dict], names: list[str], columns: list[tuple[str, str]],
                   judge_accuracy: float) -> None:
    """Grouped bars: one group per measure (shares in [0, 1]), one bar per cell."""
    fig, ax = _new_figure(9.0, 4.6)
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(columns))
    for i, (row, name) in enumerate(zip(rows, names)):
        values = [row.get(key, float("nan")) for key, _ in columns]
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, values, width, label=name)
    ax.axhline(judge_accuracy, color="black", linestyle="--", linewidth=1, label=f"judge test acc {judge_accuracy:.3f}")
    ax.set_xticks(x, [label for _, label in columns])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share")
    ax.set_title("What the latents capture (judged by an independent CNN)")
    ax.grid(True, axis="y", alpha=0.35)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    _save_figure(fig, path)


def make_study_figures(fig_dir: Path, engines: list, names: list[str], histories: list[list[dict]],
                       test_images: torch.Tensor, test_labels: torch.Tensor, rows: list[dict],
                       measure_columns: list[tuple[str, str]], judge_accuracy: float, seed: int = 0) -> list[Path]:
    """Write every comparison figure into ``fig_dir``; returns their paths (in reading order)."""
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    spec = engines[0].label_spec
    written = []
    if spec.is_multiclass:
        picks = first_per_class(test_labels, spec.size)[:MAX_COLUMNS]
    else:
        picks = list(range(min(MAX_COLUMNS, len(test_images))))
    reconstructions(fig_dir / "reconstructions.png", engines, names, test_images[picks])
    written.append(fig_dir / "reconstructions.png")
    if spec.is_multiclass:
        generations(fig_dir / "generations.png", engines, names, seed=seed)
        label_swaps(fig_dir / "label_swaps.png", engines, names, test_images[picks[0]])
        written += [fig_dir / "generations.png", fig_dir / "label_swaps.png"]
        a, b = test_images[picks[0]], test_images[picks[1]]
        ab = f"{spec.names[0]} -> {spec.names[1]}"
    else:
        attribute_generations(fig_dir / "attribute_generations.png", engines, names, seed=seed)
        attribute_flips(fig_dir / "attribute_flips.png", engines, names, test_images[0])
        written += [fig_dir / "attribute_generations.png", fig_dir / "attribute_flips.png"]
        a, b = test_images[0], test_images[1]
        ab = "between two test images"
    interpolations(fig_dir / "interpolations.png", engines, names, a, b, ab, "full")
    interpolations(fig_dir / "interpolations_zc.png", engines, names, a, b, ab, "zc")
    written += [fig_dir / "interpolations.png", fig_dir / "interpolations_zc.png"]
    written += curves(fig_dir, histories, names)
    if rows:  # binary rows hold each measure averaged over the attributes: shares in [0, 1] all the same
        measures_chart(fig_dir / "measures.png", rows, names, measure_columns, judge_accuracy)
        written.append(fig_dir / "measures.png")
    return written
