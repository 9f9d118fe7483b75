"""Each training step alone in a process of its own, float32, at the CelebA setting (or MNIST's).

bench/train_throughput.py times the implementations side by side in one process, where each step reuses memory
the other implementation's steps left mapped. Here every variant runs in a fresh child process, as a user runs a
training program, with rounds alternating so machine noise hits all alike:

- ``ours_default``: the project's step with glibc's default allocator;
- ``ours_kept``: the same inside ``core.device.freed_memory_kept()``, as the trainer runs its steps on the CPU;
- ``reference_default``: the authors'-style step (bench/train_throughput.py) with the default allocator.

Each child warms up, times ``--steps`` steps (median, wall clock) and counts the page faults a step takes. One
process differs from the next by about 15% here, so the figures are medians over ``--rounds`` rounds.

    python bench/train_alone.py [--rounds 3] [--steps 15] [--settings celeba] [--kinds unsup sup]

The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = (("ours_fp32", "default"), ("ours_fp32", "kept"), ("reference", "default"))


def child(setting: str, impl: str, kind: str, allocator: str, steps: int) -> dict:
    """Time one variant in this process (a fresh child): median ms per step and MB faulted in per step."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import torch
    import train_throughput as tt
    from core.device import freed_memory_kept

    device = torch.device("cpu")
    x, y = tt.make_batch(setting, torch.Generator().manual_seed(0), device)
    model = tt.make_model(setting, reference=impl == "reference")
    step = tt.step_fn(model, tt.make_optimizer(model, impl, device), tt.loss_fn(model, impl, kind, x, y), device,
                      bf16=False)
    with freed_memory_kept(allocator == "kept") as kept:  # as core.trainer runs an epoch's steps on the CPU
        for _ in range(3):
            step()
        times, faults = [], []
        for _ in range(steps):
            f, t = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
            step()
            times.append(time.perf_counter() - t)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f)
    page_mb = resource.getpagesize() / 1e6
    # the mean counts every page faulted in; the median says what a typical step does (one step's stray large
    # buffer lifts the mean, not the median)
    return {"ms": statistics.median(times) * 1000, "fault_mb": statistics.mean(faults) * page_mb,
            "fault_mb_median": statistics.median(faults) * page_mb, "allocator_kept": kept,
            "threads": torch.get_num_threads()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--settings", default="celeba", choices=("celeba", "mnist"))
    p.add_argument("--kinds", nargs="+", default=["unsup", "sup"], choices=("unsup", "sup"))
    p.add_argument("--child", nargs=3, metavar=("IMPL", "KIND", "ALLOCATOR"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.settings, *args.child, steps=args.steps)))
        return 0

    runs: dict[str, list[dict]] = {}
    load_start = os.getloadavg()[0]
    for _ in range(args.rounds):
        for kind in args.kinds:
            for impl, allocator in VARIANTS:
                command = [sys.executable, __file__, "--child", impl, kind, allocator, "--steps", str(args.steps),
                           "--settings", args.settings]
                proc = subprocess.run(command, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"error: {impl} {kind} {allocator}: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                    return 2
                runs.setdefault(f"{kind}_{impl.split('_')[0]}_{allocator}", []).append(
                    json.loads(proc.stdout.strip().splitlines()[-1]))
    out = {"setting": args.settings, "rounds": args.rounds, "steps": args.steps, "clock": "wall",
           "load_average_start": round(load_start, 2)}
    for key, results in runs.items():
        out[f"{key}_ms"] = round(statistics.median(r["ms"] for r in results), 1)
        out[f"{key}_ms_each"] = [round(r["ms"], 1) for r in results]
        out[f"{key}_fault_mb"] = round(statistics.median(r["fault_mb"] for r in results), 1)
    for kind in args.kinds:
        ours, kept, ref = (out[f"{kind}_{name}_ms"] for name in ("ours_default", "ours_kept", "reference_default"))
        out[f"{kind}_kept_vs_default"] = round(ours / kept, 2)
        out[f"{kind}_speedup_default"] = round(ref / ours, 2)
        out[f"{kind}_speedup_kept"] = round(ref / kept, 2)
        name = "unlabelled" if kind == "unsup" else "labelled"
        print(f"{args.settings} {name:10s} ms/step, each alone: reference {ref:6.1f} | ours {ours:6.1f} "
              f"({ref / ours:.2f}x) | ours, freed memory kept {kept:6.1f} ({ref / kept:.2f}x); faults a step "
              f"{out[f'{kind}_reference_default_fault_mb']:.0f} / {out[f'{kind}_ours_default_fault_mb']:.0f} / "
              f"{out[f'{kind}_ours_kept_fault_mb']:.0f} MB")
    out["load_average_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
