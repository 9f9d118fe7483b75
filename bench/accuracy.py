"""Test accuracy of q(y|z_c) at z_c = encoder mean, for the label budgets the project promises.

    python bench/accuracy.py                       # mnist5k at 50% and 10% labels, Fashion-MNIST if installed
    python bench/accuracy.py --only mnist5k-50 --epochs 30

Each case is an ordinary training run (kept under --out, default runs/bench_accuracy); a finished case is read
back rather than retrained. Fashion-MNIST is read from /usr/share/datasets/fashion-mnist (Debian's
dataset-fashion-mnist) or --fashion-dir, and skipped when absent. The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import ModelConfig, RunConfig, TrainConfig  # noqa: E402
from core.data import DataConfig  # noqa: E402
from core.run import SUMMARY_FILE, train_run  # noqa: E402

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
# name -> (data settings, goal)
CASES = {
    "mnist5k-50": (dict(dataset="mnist5k", sup_frac=0.5), 0.95),
    "mnist5k-10": (dict(dataset="mnist5k", sup_frac=0.1), 0.88),
    "fashion-50": (dict(dataset="fashion-mnist", sup_frac=0.5), 0.88),
    "fashion-1000": (dict(dataset="fashion-mnist", num_labels=1000), None),
}


def run_case(name: str, out: Path, epochs: int, fashion_epochs: int, fashion_dir: str, threads: int) -> dict:
    data, goal = CASES[name]
    is_fashion = data["dataset"] == "fashion-mnist"
    if is_fashion:
        data = {**data, "data_dir": fashion_dir}
    run_dir = out / name
    if (run_dir / SUMMARY_FILE).exists():
        summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    else:
        cfg = RunConfig(model=ModelConfig(), data=DataConfig(**data).to_json(),
                        train=TrainConfig(epochs=fashion_epochs if is_fashion else epochs, threads=threads,
                                          make_maps=False))
        start = time.perf_counter()
        summary = train_run(run_dir, cfg, resume=(run_dir / "config.json").exists(), progress=False,
                            on_epoch=lambda r: print(f"  {name} epoch {r['epoch']}: val acc {r['val_accuracy']:.3f}",
                                                     file=sys.stderr, flush=True))
        summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    result = {"test_accuracy": summary["test_accuracy"], "epochs": summary["epochs"],
              "labelled": summary["labelled"], "train_seconds": summary["train_seconds"], "goal": goal}
    if goal is not None:
        result["meets_goal"] = summary["test_accuracy"] >= goal
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/bench_accuracy")
    parser.add_argument("--epochs", type=int, default=30, help="epochs for mnist5k")
    parser.add_argument("--fashion-epochs", type=int, default=10, help="epochs for Fashion-MNIST (55,000 images each)")
    parser.add_argument("--fashion-dir", default=FASHION_DIR)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--only", nargs="+", choices=list(CASES))
    args = parser.parse_args(argv)
    results = {}
    for name in args.only or list(CASES):
        if CASES[name][0]["dataset"] == "fashion-mnist" and not Path(args.fashion_dir).is_dir():
            print(f"{name:14s} skipped: {args.fashion_dir} not found (apt-get install dataset-fashion-mnist)")
            results[name] = {"skipped": f"{args.fashion_dir} not found"}
            continue
        results[name] = run_case(name, Path(args.out), args.epochs, args.fashion_epochs, args.fashion_dir, args.threads)
        r = results[name]
        goal = f"(goal {r['goal']:.0%})" if r["goal"] else ""
        print(f"{name:14s} test accuracy {r['test_accuracy']:.4f} {goal} after {r['epochs']} epochs, "
              f"{r['labelled']} labels, {r['train_seconds']:.0f} s training", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
