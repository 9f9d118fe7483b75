"""Distributed training for real: two CPU processes with gloo, launched by torchrun.

The harness test runs this file itself as the torchrun worker (``--worker OUT``): each process builds the real
``Trainer`` on a small subset of mnist5k, wraps the losses in DistributedDataParallel through the same hook
``train_run`` uses, and records a digest of the weights after every step.

How the comparison with one process is made fair: the objective draws random samples (z ~ q(z|x) and the K
samples of z_c), and two processes cannot draw the same numbers one process would for the same global batch.
So the exact check runs with the sampling noise switched off (torch.randn and torch.randn_like return zeros in
the test processes only): z is then the encoder mean and the loss is a deterministic function of the weights and
the batch. With shards of a length divisible by the batch, rank r's step s sees positions 2*s*B + r, +2, ... of
the epoch's permutation, so the two ranks together see exactly the global batch a one-process run with batch 2B
sees at step s. DDP averages the two gradients, which is the gradient of the global mean: losses and weights must
match the one-process run up to float rounding. That phase steps with plain SGD: Adam divides each gradient by
its running size, so on weights whose gradient is ~0 it turns rounding noise into full-size steps, which would
hide what is compared here (the averaged gradient); the other phase keeps the real optimizer. A second phase with the noise on (and shards that need padding)
checks that both ranks hold bit-identical weights after every step.

The command-line test launches ``train_cli.py`` under torchrun on a tiny folder data set: rank 0 alone writes
the run folder and prints, config.json records the effective batch, --resume continues, and an error is
printed once.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core import distributed  # noqa: E402
from core.config import ModelConfig, ObjectiveConfig, RunConfig, TrainConfig  # noqa: E402
from core.data import DataConfig, DataError, load_data  # noqa: E402
from core.distributed import ProcessGroup  # noqa: E402
from core.errors import CCVAEError  # noqa: E402
from core.model import CCVAE  # noqa: E402
from core.trainer import LossModule, Trainer  # noqa: E402

BATCH = 8  # per process
LAUNCH_TIMEOUT = 240


# ------------------------------------------------------------------------------------------------ the harness
class RecordingTrainer(Trainer):
    """The real Trainer, noting after every step which kind of batch it was, the loss and a weight digest."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps: list[dict] = []

    def _step(self, x, y):
        parts = super()._step(x, y)
        digest = hashlib.sha256()
        for p in self.model.parameters():
            digest.update(p.detach().cpu().numpy().tobytes())
        self.steps.append({"labelled": y is not None, "size": len(x), "loss": float(parts.loss.detach()),
                           "digest": digest.hexdigest()})
        return parts


@contextlib.contextmanager
def no_sampling_noise():
    """Every Gaussian sample the objective draws becomes 0 (z = the encoder mean); test processes only.
    Enter it after the model is built: the prior means are initialised with torch.randn."""
    randn, randn_like = torch.randn, torch.randn_like
    # (a generator, as the prior refit passes one, has nothing to draw)
    torch.randn = lambda *size, generator=None, **kw: torch.zeros(*size, **kw)
    torch.randn_like = lambda t, **kw: torch.zeros_like(t, **kw)
    try:
        yield
    finally:
        torch.randn, torch.randn_like = randn, randn_like


def train_small(group: ProcessGroup, run_dir: Path, n_sup: int, n_unsup: int, batch: int, epochs: int,
                noise: bool = True, sgd: bool = False) -> tuple[RecordingTrainer, list[dict]]:
    splits = load_data(DataConfig(dataset="mnist5k", num_labels=200, seed=0))
    splits.labelled, splits.unlabelled = splits.labelled[:n_sup], splits.unlabelled[:n_unsup]
    cfg = RunConfig(model=ModelConfig(latent_dim=8, zc_dim=2, hidden_channels=(8, 16)),
                    objective=ObjectiveConfig(num_qyx_samples=20),
                    # float32 throughout (no bf16 autocast, even on CPUs that have it): exact comparisons
                    train=TrainConfig(epochs=epochs, batch_size=batch, lr=2e-3, seed=0, device="cpu", amp=False,
                                      eval_limit=40, make_maps=False, make_figures=False))
    torch.manual_seed(cfg.train.seed)
    model = CCVAE(cfg.model, splits.label_prior)
    if group.is_main:
        run_dir.mkdir(parents=True)
    wrap = distributed.ddp_wrapper(torch.device("cpu")) if group.world_size > 1 else None
    trainer = RecordingTrainer(run_dir, cfg, splits, model, torch.device("cpu"), group=group, progress=False,
                               wrap_model=wrap)
    if sgd:
        trainer.optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    if group.world_size > 1:
        distributed.seed_process(cfg.train.seed, group.rank, 0)
    with contextlib.nullcontext() if noise else no_sampling_noise():
        history = trainer.fit()
    return trainer, history


def worker(out: Path) -> None:
    group = distributed.init_from_env()
    assert group.world_size == 2, "run this worker under torchrun --nproc_per_node 2"
    torch.set_num_threads(1)
    try:
        own = lambda name: out / (name if group.is_main else f"{name}-rank{group.rank}")  # noqa: E731
        # noise on; 33 and 71 images need padding to split in two; two epochs (reshuffled, rank 0 evaluates between)
        noisy, noisy_history = train_small(group, own("run"), 33, 71, BATCH, epochs=2)
        # noise off; shards divisible by the batch: the global batches are a one-process run's with batch 2B
        exact, _ = train_small(group, own("exact"), 32, 96, BATCH, epochs=1, noise=False, sgd=True)
        torch.save({k: v.detach().clone() for k, v in exact.model.state_dict().items()},
                   out / f"exact-weights-rank{group.rank}.pt")
        (out / f"rank{group.rank}.json").write_text(json.dumps(
            {"noisy": noisy.steps, "noisy_history": noisy_history, "exact": exact.steps}))
    finally:
        distributed.shutdown()


def torchrun(args: list[str], cwd: Path, timeout: int = LAUNCH_TIMEOUT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------------------------------------ the tests
def test_two_processes_stay_in_lockstep_and_match_one_process(tmp_path):
    done = torchrun([str(Path(__file__).resolve()), "--worker", str(tmp_path)], cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]

    # the same schedule on both ranks; identical weights after every step; the weights do change
    per_epoch = -(-17 // BATCH) + -(-36 // BATCH)  # ceil(33/2)=17 labelled and ceil(71/2)=36 unlabelled each
    for phase, steps in (("noisy", 2 * per_epoch), ("exact", 32 // 2 // BATCH + 96 // 2 // BATCH)):
        a, b = ranks[0][phase], ranks[1][phase]
        assert len(a) == len(b) == steps
        assert [(s["labelled"], s["size"]) for s in a] == [(s["labelled"], s["size"]) for s in b]
        assert [s["digest"] for s in a] == [s["digest"] for s in b], f"{phase}: ranks' weights differ"
        assert len({s["digest"] for s in a}) == steps
    # the epoch's metrics are averaged over both processes: both ranks report the same training loss
    for h0, h1 in zip(ranks[0]["noisy_history"], ranks[1]["noisy_history"]):
        assert h0["sup_loss"] == pytest.approx(h1["sup_loss"], rel=1e-12)
        assert "val_accuracy" in h0 and "val_accuracy" not in h1  # rank 0 alone evaluates

    # only rank 0 wrote: its folder holds the checkpoint and one metrics line per epoch; rank 1 made none
    run = tmp_path / "run"
    assert {"model.pt", "checkpoint.pt", "metrics.jsonl"} <= {p.name for p in run.iterdir()}
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    assert not (tmp_path / "run-rank1").exists() and not (tmp_path / "exact-rank1").exists()

    # the same global batches in one process, batch 2B: equal losses per step and equal final weights
    single, _ = train_small(ProcessGroup(), tmp_path / "single", 32, 96, 2 * BATCH, epochs=1, noise=False, sgd=True)
    ddp_losses = [(s0["loss"] + s1["loss"]) / 2 for s0, s1 in zip(ranks[0]["exact"], ranks[1]["exact"])]
    np.testing.assert_allclose(ddp_losses, [s["loss"] for s in single.steps], rtol=1e-5)  # float rounding (measured: within 1e-6)
    assert [s["labelled"] for s in single.steps] == [s["labelled"] for s in ranks[0]["exact"]]
    ddp_weights = torch.load(tmp_path / "exact-weights-rank0.pt", weights_only=True)
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(ddp_weights[name], value, rtol=1e-5, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")


def _tiny_folder(root: Path, n: int = 120) -> Path:
    """n grey 28x28 PNGs in three classes (a bright square whose place says the class) and labels.csv."""
    from PIL import Image

    root.mkdir()
    rng = np.random.default_rng(0)
    rows = ["path,shape"]
    for i in range(n):
        k = i % 3
        pixels = (rng.random((28, 28)) * 40).astype(np.uint8)
        pixels[4 + 7 * k:12 + 7 * k, 6:22] = 255
        Image.fromarray(pixels, mode="L").save(root / f"{i:04d}.png")
        rows.append(f"{i:04d}.png,{'abc'[k]}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_train_cli_under_torchrun_writes_once_and_resumes(tmp_path):
    data = _tiny_folder(tmp_path / "data")
    out = tmp_path / "run"
    common = [str(ROOT / "train_cli.py"), "--dataset", "folder", "--data-dir", str(data), "--batch-size", "8",
              "--qyx-samples", "10", "--no-maps", "--no-figures", "--map-points", "24", "--workers", "1",
              "--sup-frac", "0.5", "--out", str(out)]
    first = torchrun([*common, "--epochs", "1"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-4000:]
    summaries = [line for line in first.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1 and json.loads(summaries[0])["epochs"] == 1  # rank 0 alone prints the summary
    assert sum(line.startswith("epoch 1") for line in first.stderr.splitlines()) == 1
    extra = json.loads((out / "config.json").read_text())["extra"]
    assert extra["world_size"] == 2 and extra["batch_size_per_process"] == 8
    assert extra["effective_batch_size"] == 16 and extra["lr"] == pytest.approx(1e-3)

    resumed = torchrun([*common, "--epochs", "2", "--resume"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert resumed.stderr.count("resuming") == 1
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]

    again = torchrun([*common, "--epochs", "1"], cwd=tmp_path)  # the folder holds a run: every rank stops
    assert again.returncode != 0
    assert again.stderr.count("already holds a run") == 1, again.stderr[-4000:]


def test_loss_module_computes_the_objective():
    """LossModule is what DDP wraps: its forward must be the labelled and the unlabelled loss."""
    from core.objective import supervised_loss, unsupervised_loss

    torch.manual_seed(0)
    model = CCVAE(ModelConfig(latent_dim=8, zc_dim=2, hidden_channels=(8, 16)))
    x, y = torch.rand(5, 1, 28, 28), torch.arange(5)
    module = LossModule(model, beta=0.5, k=7)
    assert list(module.parameters()) == list(model.parameters())
    for labels, reference in ((y, lambda: supervised_loss(model, x, y, 0.5, 7)),
                              (None, lambda: unsupervised_loss(model, x, 0.5))):
        torch.manual_seed(1)
        got = module(x, labels).loss
        torch.manual_seed(1)
        assert torch.equal(got, reference().loss)


def test_helpers_without_a_process_group():
    group = ProcessGroup()
    assert distributed.init_from_env().world_size == 1 or distributed.launched_by_torchrun()
    assert distributed.agree(group, lambda: 3) == 3
    with pytest.raises(KeyError):
        distributed.agree(group, lambda: {}["missing"])
    assert distributed.all_finite(torch.tensor(1.0), group)
    assert not distributed.all_finite(torch.tensor(float("nan")), group)
    assert distributed.mean_over_processes({"a": 2.0}, group) == {"a": 2.0}
    facts = distributed.scale_facts(64, 1e-3, ProcessGroup(rank=0, world_size=4))
    assert facts["effective_batch_size"] == 256 and facts["batch_size_per_process"] == 64
    assert distributed.reports_error(ProcessGroup(1, 2), ValueError("x"))  # a bug: every process prints it
    assert distributed.reports_error(ProcessGroup(1, 2), CCVAEError("x"))  # raised on rank 1 alone
    shared = CCVAEError("x", on_every_rank=True)
    assert not distributed.reports_error(ProcessGroup(1, 2), shared)
    assert distributed.reports_error(ProcessGroup(0, 2), shared)
    # the field travels to the other processes with the error (all_gather_object pickles it)
    copy = pickle.loads(pickle.dumps(DataError("bad\nfolder", on_every_rank=True)))
    assert type(copy) is DataError and str(copy) == "bad folder" and copy.on_every_rank


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]))
    else:
        sys.exit("usage: torchrun --nproc_per_node 2 tests/test_distributed.py --worker OUT_DIR")
