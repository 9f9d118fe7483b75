"""Why label swaps through the learned prior p(z_c|y) miss where swaps between the encoder's class statistics land.

    python bench/swap_diagnosis.py                                   # the bundled default model
    python bench/swap_diagnosis.py --run runs/study/cells/beta0.05_z16_sup1 --judge-dir runs/study/judge

For one trained run, scored by the project's judge (cached in --judge-dir; trained there when missing):

- geometry: where each prior mean sits against the encoder's class cluster (offset in units of the cluster's
  spread), prior scale / cluster spread, and the scale the objective would fit for the current encoder
  (spread of the means plus the encoder's own noise);
- per-dimension overlap between classes: for every pair, how far apart the two classes sit on their best
  separating dimension and over all dimensions (diagonal Mahalanobis distance), for the prior and for the data;
- swaps per (source, target) pair through the prior and through the class statistics, and the worst pairs;
- tests of the candidate causes, each a variant of the swap or of conditional generation that changes one thing:
  prior means with data scales and the reverse (location vs scale), translation-only swaps, generation from the
  prior / from a Gaussian of the data / from the encoded points themselves (diagonal Gaussian vs real clusters),
  with N(0, I) styles or styles of real images (style prior), how far swapped points land from the target cluster
  (off the decoder's training region), and which z_c dimensions the decoder reads.

The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data import DataConfig, load_data  # noqa: E402
from core.inference import DEFAULT_RUN, Engine  # noqa: E402
from core.judge import JudgeSettings, load_or_train_judge  # noqa: E402
from core.measures import class_statistics  # noqa: E402


def _judged(judge, images) -> torch.Tensor:
    return torch.as_tensor(judge(images)).argmax(-1)


def geometry(engine, stats, enc_noise) -> dict:
    """Prior vs data per class: offset of the prior mean in data-spread units, scale ratios."""
    head = engine.model.head
    p_loc, p_scale = head.prior_loc.detach().cpu(), head.prior_scale().detach().cpu()
    s_loc, s_scale = stats
    offset = (p_loc - s_loc) / s_scale                    # [K, Dc] in units of the class's spread
    fitted = (s_scale ** 2 + enc_noise ** 2).sqrt()        # what maximising E_q[log p(z_c|y)] would give
    k = len(p_loc)
    probs_at_prior = engine.classify(p_loc.to(engine.device)).cpu()
    probs_at_data = engine.classify(s_loc.to(engine.device)).cpu()
    return {
        "offset_mean_abs": [round(float(v), 2) for v in offset.abs().mean(1)],
        "offset_norm_units": round(float(offset.norm(dim=1).mean()), 2),
        "prior_to_data_distance": round(float((p_loc - s_loc).norm(dim=1).mean()), 3),
        "data_between_class_distance": round(float(torch.cdist(s_loc, s_loc).sum() / (k * (k - 1))), 3),
        "prior_between_class_distance": round(float(torch.cdist(p_loc, p_loc).sum() / (k * (k - 1))), 3),
        "scale_ratio_prior_over_data_median": round(float((p_scale / s_scale).median()), 2),
        "scale_ratio_prior_over_data_range": [round(float((p_scale / s_scale).min()), 2),
                                              round(float((p_scale / s_scale).max()), 2)],
        "scale_ratio_prior_over_fitted_median": round(float((p_scale / fitted).median()), 2),
        "encoder_noise_over_data_spread_median": round(float((enc_noise / s_scale).median()), 2),
        "prior_scale_mean": round(float(p_scale.mean()), 3),
        "data_scale_mean": round(float(s_scale.mean()), 3),
        "classifier_own_class_at_prior_mean": round(float((probs_at_prior.argmax(-1) == torch.arange(k)).float().mean()), 2),
        "classifier_prob_at_prior_mean": round(float(probs_at_prior[torch.arange(k), torch.arange(k)].mean()), 3),
        "classifier_prob_at_data_mean": round(float(probs_at_data[torch.arange(k), torch.arange(k)].mean()), 3),
    }


def overlap(loc: torch.Tensor, scale: torch.Tensor) -> dict:
    """Per pair of classes: separation on the best dimension and over all dimensions (diagonal Mahalanobis)."""
    k = len(loc)
    best, total, bc = [], [], []
    for a, b in itertools.combinations(range(k), 2):
        pooled = ((scale[a] ** 2 + scale[b] ** 2) / 2).sqrt()
        sep = (loc[a] - loc[b]).abs() / pooled
        best.append(float(sep.max()))
        total.append(float(sep.norm()))
        # Bhattacharyya coefficient of the two diagonal Gaussians: 1 = identical, 0 = disjoint
        var = (scale[a] ** 2 + scale[b] ** 2) / 2
        db = 0.125 * ((loc[a] - loc[b]) ** 2 / var).sum() + 0.5 * (
            var.log().sum() - 0.5 * (scale[a] ** 2).log().sum() - 0.5 * (scale[b] ** 2).log().sum())
        bc.append(float(torch.exp(-db)))
    t = torch.tensor(total)
    return {"best_dim_separation_median": round(float(torch.tensor(best).median()), 2),
            "mahalanobis_median": round(float(t.median()), 2), "mahalanobis_min": round(float(t.min()), 2),
            "bhattacharyya_max": round(max(bc), 3), "dims_with_separation_over_2_mean": round(float(
                sum(int(((loc[a] - loc[b]).abs() / (((scale[a] ** 2 + scale[b] ** 2) / 2).sqrt()) > 2).sum())
                    for a, b in itertools.combinations(range(k), 2)) / (k * (k - 1) / 2)), 2)}


def swap_matrix(engine, judge, enc, y_from, move) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Success of ``move(z_c, src, dst) -> z_c'`` for every image and every other target; [K, K] success and
    the swapped points (for the landing-distance test)."""
    k = engine.label_spec.size
    hits = torch.zeros(k, k)
    counts = torch.zeros(k, k)
    landed = []
    for target in range(k):
        idx = (y_from != target).nonzero().reshape(-1)
        src = y_from[idx]
        z = move(enc.z_c[idx], src, torch.full_like(src, target))
        pred = _judged(judge, engine.decode(z, enc.z_style[idx]))
        for s in range(k):
            m = src == s
            hits[s, target] += float((pred[m] == target).sum())
            counts[s, target] += float(m.sum())
        landed.append((z, target))
    return float(hits.sum() / counts.sum()), hits / counts.clamp_min(1), landed


def landing_distance(landed, stats) -> float:
    """Mean diagonal Mahalanobis distance per dimension (RMS z-score) of swapped points from the target cluster."""
    s_loc, s_scale = stats
    d = [(((z - s_loc[t]) / s_scale[t]) ** 2).mean(-1).sqrt() for z, t in landed]
    return round(float(torch.cat(d).mean()), 2)


def generation(engine, judge, sampler, per_label: int, gen: torch.Generator, style_bank=None) -> dict:
    """Share judged as y of decode(sampler(y, n), style): style ~ N(0, I), or drawn from ``style_bank``."""
    k = engine.label_spec.size
    per = []
    for y in range(k):
        z_c = sampler(y, per_label)
        if style_bank is None:
            z_s = torch.randn((per_label, engine.style_dim), generator=gen)
        else:
            z_s = style_bank[torch.randint(0, len(style_bank), (per_label,), generator=gen)]
        per.append(float((_judged(judge, engine.decode(z_c, z_s)) == y).float().mean()))
    return {"accuracy": round(sum(per) / k, 3), "worst": [int(i) for i in torch.tensor(per).argsort()[:3]]}


def decoder_reads(engine, judge, enc, stats) -> dict:
    """Which z_c dimensions the decoder uses: move each dimension by 2 pooled class spreads and count how
    often the judged class changes, and the mean pixel change."""
    s_loc, s_scale = stats
    spread = s_loc.std(0) + s_scale.mean(0)  # between-class plus within-class spread per dimension
    base = engine.decode(enc.z_c, enc.z_style)
    base_pred = _judged(judge, base)
    flips, pixels = [], []
    for d in range(engine.zc_dim):
        z = enc.z_c.clone()
        z[:, d] += 2 * spread[d]
        img = engine.decode(z, enc.z_style)
        flips.append(round(float((_judged(judge, img) != base_pred).float().mean()), 2))
        pixels.append(round(float((img - base).abs().mean()), 4))
    # the same for the style, as a reference: how much one style dimension moves the picture
    style_pixels = []
    for d in range(engine.style_dim):
        z = enc.z_style.clone()
        z[:, d] += 2 * enc.z_style[:, d].std()
        style_pixels.append(float((engine.decode(enc.z_c, z) - base).abs().mean()))
    return {"judged_class_changes_per_zc_dim": flips, "pixel_change_per_zc_dim": pixels,
            "zc_dims_barely_read": int(sum(p < 0.01 for p in pixels)),
            "style_pixel_change_mean": round(sum(style_pixels) / len(style_pixels), 4)}


def cluster_shape(z_c: torch.Tensor, labels: torch.Tensor, k: int) -> dict:
    """How far the encoded clusters are from diagonal Gaussians: excess kurtosis, skew, within-class correlation."""
    kurt, skew, corr = [], [], []
    for c in range(k):
        z = z_c[labels == c]
        zs = (z - z.mean(0)) / z.std(0).clamp_min(1e-6)
        kurt.append(float(((zs ** 4).mean(0) - 3).mean()))
        skew.append(float((zs ** 3).mean(0).abs().mean()))
        r = torch.corrcoef(z.T)
        off = r[~torch.eye(len(r), dtype=torch.bool)]
        corr.append(float(off.abs().mean()))
    return {"excess_kurtosis_mean": round(sum(kurt) / k, 2), "abs_skew_mean": round(sum(skew) / k, 2),
            "within_class_abs_correlation_mean": round(sum(corr) / k, 2)}


def diagnose(run_dir: Path, judge_dir: Path, stats_images: int, per_label: int, seed: int) -> dict:
    engine = Engine.from_run(run_dir)
    splits = load_data(DataConfig(**{**engine.config.data, "sup_frac": 1.0, "num_labels": None}))
    judge = load_or_train_judge(judge_dir, dict(engine.config.data), splits, JudgeSettings(seed=0), "cpu",
                                lambda m: print(m, file=sys.stderr))
    k = engine.label_spec.size
    gen = torch.Generator().manual_seed(seed)
    train_idx = torch.randperm(len(splits.train), generator=gen)[:stats_images].sort().values
    train_x, train_y = splits.train.get_batch(train_idx)
    test_x, _ = splits.test.get_batch(torch.arange(len(splits.test)))
    train_enc = engine.encode(train_x)
    stats = class_statistics(engine, train_x, train_y)
    enc_noise = torch.stack([train_enc.scale_c[train_y == c].pow(2).mean(0).sqrt() for c in range(k)])
    head = engine.model.head
    p_loc, p_scale = head.prior_loc.detach().cpu(), head.prior_scale().detach().cpu()
    s_loc, s_scale = stats

    enc = engine.encode(test_x)
    y_from = engine.predict(enc.z_c).cpu()

    def between(loc, scale):
        return lambda z, s, t: loc[t] + scale[t] * (z - loc[s]) / scale[s]

    def shift(loc):
        return lambda z, s, t: z + loc[t] - loc[s]

    variants = {"prior": between(p_loc, p_scale), "class_stats": between(s_loc, s_scale),
                "prior_loc_data_scale": between(p_loc, s_scale), "data_loc_prior_scale": between(s_loc, p_scale),
                "prior_shift_only": shift(p_loc), "data_shift_only": shift(s_loc),
                "to_prior_mean": lambda z, s, t: p_loc[t], "to_data_mean": lambda z, s, t: s_loc[t]}
    swaps, landing, pairs = {}, {}, {}
    for name, move in variants.items():
        rate, matrix, landed = swap_matrix(engine, judge, enc, y_from, move)
        swaps[name] = round(rate, 3)
        landing[name] = landing_distance(landed, stats)
        if name in ("prior", "class_stats"):
            off = ~torch.eye(k, dtype=torch.bool)
            order = matrix[off].argsort()[:5]
            src, dst = off.nonzero()[order].T
            pairs[name] = [f"{int(a)}->{int(b)}: {float(matrix[a, b]):.2f}" for a, b in zip(src, dst)]
    real_landing = round(float(torch.cat([(((train_enc.z_c[train_y == c] - s_loc[c]) / s_scale[c]) ** 2).mean(-1)
                                          .sqrt() for c in range(k)]).mean()), 2)
    style_bank = engine.encode(train_x).z_style

    def gauss(loc, scale):
        return lambda y, n: loc[y] + scale[y] * torch.randn((n, loc.shape[1]), generator=gen)

    def full_cov(y, n):  # a Gaussian with the class's full covariance (not diagonal)
        z = train_enc.z_c[train_y == y]
        mvn = torch.distributions.MultivariateNormal(z.mean(0), torch.cov(z.T) + 1e-5 * torch.eye(z.shape[1]))
        torch.manual_seed(int(torch.randint(0, 2 ** 31, (1,), generator=gen)))
        return mvn.sample((n,))

    def empirical(y, n):  # encoded points of real training images of class y
        z = train_enc.z_c[train_y == y]
        return z[torch.randint(0, len(z), (n,), generator=gen)]

    samplers = {"prior": gauss(p_loc, p_scale), "prior_mean": lambda y, n: p_loc[y].expand(n, -1),
                "data_diag_gauss": gauss(s_loc, s_scale), "data_full_cov": full_cov, "data_points": empirical,
                "prior_loc_data_scale": gauss(p_loc, s_scale), "data_loc_prior_scale": gauss(s_loc, p_scale)}
    generations = {}
    for name, sampler in samplers.items():
        generations[name] = generation(engine, judge, sampler, per_label, gen)
        if name in ("prior", "data_diag_gauss", "data_points"):
            generations[name + "+real_styles"] = generation(engine, judge, sampler, per_label, gen, style_bank)
    style_spread = train_enc.z_style.std(0)
    return {
        "run": str(run_dir), "beta": engine.config.objective.beta, "latent_dim": engine.config.model.latent_dim,
        "zc_dim": engine.zc_dim, "judge_test_accuracy": judge.test_accuracy,
        "classifier_agrees_with_judge_on_test": round(float((y_from == _judged(judge, test_x)).float().mean()), 3),
        "geometry": geometry(engine, stats, enc_noise),
        "overlap_prior": overlap(p_loc, p_scale), "overlap_data": overlap(s_loc, s_scale),
        "cluster_shape": cluster_shape(train_enc.z_c, train_y, k),
        "swap_success": swaps, "landing_rms_z_from_target_cluster": landing,
        "landing_rms_z_of_real_points": real_landing, "worst_pairs": pairs,
        "generation": generations,
        "style_encodings_std_range": [round(float(style_spread.min()), 2), round(float(style_spread.max()), 2)],
        "decoder": decoder_reads(engine, judge, enc, stats),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", action="append", help="run folder (repeatable; default: the bundled default model)")
    p.add_argument("--judge-dir", default="runs/judge_mnist5k", help="where the judge is cached")
    p.add_argument("--stats-images", type=int, default=2000, help="training images for the class statistics")
    p.add_argument("--per-label", type=int, default=100, help="generations per label and variant")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = []
    for run in args.run or [str(DEFAULT_RUN)]:
        start = time.perf_counter()
        r = diagnose(Path(run), Path(args.judge_dir), args.stats_images, args.per_label, args.seed)
        r["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(r, indent=1), file=sys.stderr)
        print(f"{run}: swaps prior {r['swap_success']['prior']:.3f} / class stats "
              f"{r['swap_success']['class_stats']:.3f}; generation prior {r['generation']['prior']['accuracy']:.3f}"
              f" / data {r['generation']['data_diag_gauss']['accuracy']:.3f}")
        results.append(r)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
