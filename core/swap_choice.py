"""Which label swap a tool should offer first on a given model: through the learned prior p(z_c|y) (the paper's
intervention) or between the class statistics of the encoded points (``core.class_stats``), whichever lands more
often on that model.

Two measurements, best first:
- ``from_measures``: the project's judge (``core.measures``: ``swap_success`` through the prior and
  ``swap_success_stats`` between the class statistics), as a measured run's summary holds them;
- ``self_read``: no judge needed. Each point gets one other label at random, z_c is moved both ways, the swapped
  latent decoded, the picture encoded again and the CCVAE's own classifier asked whether it shows the target
  (binary attributes: one attribute flipped per point). Every finished run stores it in its summary, and a tool
  can compute it on the points it has loaded (about a second for 300 points on a CPU).
Within ``TIE`` the prior is chosen: it is the paper's own intervention.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from core.class_stats import attribute_stats, class_stats, move_between

PRIOR, CLASS_STATS = "prior", "class_stats"
TIE = 0.01
SELF_READ_POINTS = 300


@dataclass
class SwapChoice:
    method: str          # PRIOR or CLASS_STATS
    prior: float         # share of swaps through p(z_c|y) read as the target
    class_stats: float   # share of swaps between the class statistics read as the target
    measured_by: str     # "judge" or "model" (the CCVAE's classifier on the re-encoded picture)
    points: int          # how many images were swapped (the judge: each to every other label; the model: once)

    def reason(self) -> str:
        """One line for a tooltip: what was measured and why this method is the default."""
        who = (f"the project's judge, {self.points} test images" if self.measured_by == "judge"
               else f"this model's classifier on the re-encoded picture, {self.points} points")
        shares = f"learned prior {self.prior:.1%}, class statistics {self.class_stats:.1%}"
        why = ("the prior lands as often (within 1 point), and it is the paper's swap" if self.method == PRIOR
               and self.class_stats > self.prior else "it lands more often" if abs(self.prior - self.class_stats) > 1e-9
               else "both land as often; the prior is the paper's swap")
        chosen = "learned prior" if self.method == PRIOR else "class statistics"
        return (f"Swaps read as the target class ({who}): {shares}. "
                f"Default: {chosen}, because {why}.")

    def to_json(self) -> dict:
        return {**asdict(self), "reason": self.reason()}

    @classmethod
    def from_json(cls, d: dict) -> "SwapChoice":
        return cls(str(d["method"]), float(d["prior"]), float(d["class_stats"]), str(d["measured_by"]), int(d["points"]))


def choose(prior: float, stats: float, measured_by: str, points: int) -> SwapChoice:
    """The prior unless the class statistics land more often by more than TIE."""
    method = CLASS_STATS if stats > prior + TIE else PRIOR
    return SwapChoice(method, float(prior), float(stats), measured_by, int(points))


def from_measures(measures: dict) -> SwapChoice | None:
    """From ``core.measures.measure_all``'s output (or a summary's "measures"); None when either share is missing."""
    prior, stats = measures.get("swap_success"), measures.get("swap_success_stats")
    if prior is None or stats is None or prior != prior or stats != stats:
        return None
    return choose(prior, stats, "judge", int(measures.get("images", 0)))


@torch.no_grad()
def self_read(engine, z_c, z_style, max_points: int = SELF_READ_POINTS, seed: int = 0) -> SwapChoice:
    """Swap (or flip) each of up to ``max_points`` latents [N, Dc] / [N, Ds] once both ways and count how often
    the model reads the decoded, re-encoded picture as the target. The class statistics are those of all the
    given points grouped by the classifier's verdict, as a tool that holds these points would compute them."""
    z_c = torch.as_tensor(np.asarray(z_c), dtype=torch.float32)
    z_style = torch.as_tensor(np.asarray(z_style), dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    spec = engine.label_spec
    probs = engine.classify(z_c).cpu()
    pick = torch.randperm(len(z_c), generator=gen)[:max_points].sort().values
    zc, zs = z_c[pick], z_style[pick]
    if spec.is_multiclass:
        loc, scale = (torch.from_numpy(t) for t in class_stats(z_c.numpy(), probs.argmax(-1).numpy(), spec.size))
        source = probs[pick].argmax(-1)
        target = (source + torch.randint(1, spec.size, source.shape, generator=gen)) % spec.size
        moved = {PRIOR: engine.swap_label(zc, source, target).cpu(),
                 CLASS_STATS: move_between(zc, loc, scale, source, target)}
    else:
        a = spec.size
        loc, scale = (torch.from_numpy(t) for t in attribute_stats(z_c[:, :a].numpy(), (probs > 0.5).numpy()))
        source = (probs[pick] > 0.5).float()
        which = torch.randint(0, a, (len(pick),), generator=gen)
        target = source.clone()
        rows = torch.arange(len(pick))
        target[rows, which] = 1 - source[rows, which]
        by_stats = zc.clone()
        src, dst = source[rows, which].long(), target[rows, which].long()
        by_stats[rows, which] = loc[dst, which] + scale[dst, which] * (zc[rows, which] - loc[src, which]) / scale[src, which]
        moved = {PRIOR: engine.swap_label(zc, source, target).cpu(), CLASS_STATS: by_stats}
    shares = {}
    for method, z in moved.items():
        read = engine.predict(engine.encode(engine.decode(z, zs)).z_c).cpu()
        if spec.is_multiclass:
            shares[method] = float((read == target).float().mean())
        else:
            shares[method] = float((read[rows, which] == target[rows, which]).float().mean())
    return choose(shares[PRIOR], shares[CLASS_STATS], "model", len(pick))


def for_run(run_dir, engine, z_c, z_style, seed: int = 0) -> SwapChoice:
    """The choice stored in the run's summary.json (the judge's when the run was measured), else ``self_read``
    on the given points (runs saved before summaries carried a choice)."""
    import json
    from pathlib import Path

    path = Path(run_dir) / "summary.json" if run_dir is not None else None
    if path is not None and path.exists():
        try:
            return SwapChoice.from_json(json.loads(path.read_text())["swap_choice"])
        except (ValueError, KeyError, TypeError):
            pass  # no choice stored, or an unreadable one: measure it here
    return self_read(engine, z_c, z_style, seed=seed)
