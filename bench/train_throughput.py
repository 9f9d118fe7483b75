"""Training throughput (images per second) of one labelled and one unlabelled step, on this machine.

Two settings: MNIST (28x28 grey, 10 classes, z 16 with z_c 4, batch 64) and the CCVAE authors' CelebA setting
(64x64 RGB, 18 attributes, z 45, batch 200). Each step is timed side by side in one process, in rounds so machine
noise hits all alike: every variant runs ``--block`` steps in a row (5), variants alternating, until each has run
``--steps``; the figure is the median step. The variants:

- ``reference``: the same objective computed the way the authors' PyTorch port (thwjoy/ccvae_pytorch) computes
  it, in float32: torch's own conv layers in the default memory layout, torch.distributions objects (argument
  checks on, as in their code), a second encoder pass for the K = 100 sample q(y|x), the label of the unlabelled
  step sampled from q(y|z_c), the analytic KL, and torch's default Adam. It runs with glibc's default allocator,
  as their code does;
- ``ours_fp32``: the project's step as train_cli.py runs it, forced to float32 (core.fast_layers, channels last,
  the fused likelihood, one encoder pass, the exact sum over labels, fused Adam), and on the CPU with the trainer's
  allocator policy: each block inside core.device.freed_memory_kept, as the trainer wraps each epoch's steps
  (glibc keeps freed memory inside and trims it on leaving, so the next block starts from a trimmed heap);
- ``ours_fp32_default_heap``: the same step with glibc's default allocator, as this bench timed it before: the
  comparison with the allocator taken out of ours;
- with ``--same-heap`` the reference, too, runs each block inside freed_memory_kept: the comparison with the
  allocator policy given to both;
- ``ours_bf16``: the project's step under bfloat16 autocast, as the trainer runs it, only where the CPU has native
  bf16 (train_cli.py's default there; ``--no-amp`` gives the float32 step).

Under the default allocator glibc hands freed memory back between steps and each step faults it in again; the JSON
counts the MB faulted in per step (``*_fault_mb_per_step``). bench/train_alone.py times each variant alone in a
fresh process instead, where no step reuses pages another implementation left mapped.

The ratios ``*_speedup_fp32``, ``*_speedup_fp32_default_heap`` and ``*_speedup_bf16`` divide by the reference's
images/s. The JSON says whether the CPU has bf16 (``bf16_hardware``) and whether a bf16 column was measured, and
the load average around the run.

    python bench/train_throughput.py [--steps 20] [--threads 0] [--settings mnist celeba] [--fp32-only] [--device cpu|cuda]
    python bench/train_throughput.py --same-heap  # the reference with our allocator policy too
    python bench/train_throughput.py --cpu-time   # one thread, timed by its CPU time: for a machine shared with others
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python bench/train_throughput.py   # as on a CPU with AVX2, no bf16
    python bench/train_throughput.py --sizes [--steps 10]   # the project's step at each image size instead

The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import distributions as D

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import ModelConfig  # noqa: E402
from core.device import bf16_autocast_pays_off, freed_memory_kept, pick_device  # noqa: E402
from core.fast_layers import with_torch_layers  # noqa: E402
from core.labels import BINARY, MULTICLASS, LabelSpec  # noqa: E402
from core.model import CCVAE  # noqa: E402
from core.objective import supervised_loss, unsupervised_loss  # noqa: E402
from core.trainer import adam_options  # noqa: E402

PAGE = resource.getpagesize()

SETTINGS = {
    "mnist": dict(shape=(1, 28, 28), spec=LabelSpec(MULTICLASS, tuple("0123456789")), latent=16, zc=4, batch=64,
                  likelihood="bernoulli"),
    "celeba": dict(shape=(3, 64, 64), spec=LabelSpec(BINARY, tuple(f"a{i}" for i in range(18))), latent=45, zc=18,
                   batch=200, likelihood="laplace"),
}


# ---------------------------------------------------------------- the reference: the authors' way of computing it
def _reference_dists(model: CCVAE, x):
    loc, scale = model.encode(x)
    q = D.Normal(loc, scale)
    z = q.rsample()
    return loc, scale, q, z


def _reference_log_px(model, z, x):
    raw = model.decode_raw(z)
    if model.config.likelihood == "bernoulli":
        return D.Bernoulli(logits=raw, validate_args=False).log_prob(x).flatten(1).sum(-1)
    return D.Laplace(torch.sigmoid(raw), torch.ones_like(raw)).log_prob(x).flatten(1).sum(-1)


def _reference_classifier(model, z_c):
    if model.config.label_spec.is_multiclass:
        return D.Categorical(logits=model.head.classifier(z_c))
    return D.Bernoulli(logits=model.head.logits(z_c))


def _reference_log_qy(model, z_c, y):
    lp = _reference_classifier(model, z_c).log_prob(y)
    return lp if model.config.label_spec.is_multiclass else lp.sum(-1)


def reference_supervised(model: CCVAE, x, y, k=100):
    loc, scale, q, z = _reference_dists(model, x)
    z_c = z[:, : model.zc_dim]
    p_loc, p_scale = model.head.prior(y)
    prior = D.Normal(torch.cat([p_loc, torch.zeros_like(loc[:, model.zc_dim:])], 1),
                     torch.cat([p_scale, torch.ones_like(scale[:, model.zc_dim:])], 1))
    kl = D.kl_divergence(q, prior).sum(-1)
    log_px = _reference_log_px(model, z, x)
    # a second encoder pass for q(y|x), as the authors' port does
    loc2, scale2 = model.encode(x)
    zk = D.Normal(loc2, scale2).rsample((k,))[..., : model.zc_dim]
    log_qyx = torch.logsumexp(_reference_log_qy(model, zk, y), 0) - math.log(k)
    log_qy = _reference_log_qy(model, z_c, y)
    w = torch.exp(_reference_log_qy(model, z_c.detach(), y) - log_qyx)
    return -(w * (log_px - kl - log_qy) + log_qyx + model.log_py(y)).mean()


def reference_unsupervised(model: CCVAE, x):
    loc, scale, q, z = _reference_dists(model, x)
    z_c = z[:, : model.zc_dim]
    qy = _reference_classifier(model, z_c)
    y = qy.sample()
    log_qy = qy.log_prob(y) if model.config.label_spec.is_multiclass else qy.log_prob(y).sum(-1)
    p_loc, p_scale = model.head.prior(y)
    prior = D.Normal(torch.cat([p_loc, torch.zeros_like(loc[:, model.zc_dim:])], 1),
                     torch.cat([p_scale, torch.ones_like(scale[:, model.zc_dim:])], 1))
    kl = D.kl_divergence(q, prior).sum(-1)
    return -(_reference_log_px(model, z, x) + model.log_py(y) - kl - log_qy).mean()


# ---------------------------------------------------------------- timing
def make_batch(setting, generator, device):
    s = SETTINGS[setting]
    x = torch.rand((s["batch"], *s["shape"]), generator=generator)
    if s["spec"].is_multiclass:
        y = torch.randint(0, s["spec"].size, (s["batch"],), generator=generator)
    else:
        y = torch.randint(0, 2, (s["batch"], s["spec"].size), generator=generator).float()
    return x.to(device), y.to(device)


def loss_fn(model, impl: str, kind: str, x, y):
    if impl == "reference":
        return (lambda: reference_supervised(model, x, y)) if kind == "sup" else (lambda: reference_unsupervised(model, x))
    return (lambda: supervised_loss(model, x, y).loss) if kind == "sup" else (lambda: unsupervised_loss(model, x).loss)


def step_fn(model, optimizer, loss, device, bf16: bool):
    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            value = loss()
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    return step


def make_optimizer(model, impl: str, device):
    """The reference: torch's default Adam, as the authors' port; ours: the trainer's choice (fused)."""
    options = {} if impl == "reference" else adam_options(device)
    return torch.optim.Adam(model.parameters(), lr=1e-4, **options)


def make_model(setting: str, reference: bool) -> CCVAE:
    s = SETTINGS[setting]
    torch.manual_seed(0)
    model = CCVAE(ModelConfig(image_shape=s["shape"], label_spec=s["spec"], latent_dim=s["latent"], zc_dim=s["zc"],
                              likelihood=s["likelihood"]))
    if reference:  # torch's own layers in the default layout, as an ordinary port would run
        with_torch_layers(model)
        model.to(memory_format=torch.contiguous_format)
        model.encoder.channels_last = False
    return model


def _page_faults() -> int:
    """Pages this process has faulted in so far (each a fresh page the kernel zeroed)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _synchronize(device: torch.device) -> None:
    """CUDA runs asynchronously: a step's time is only known once the device has finished it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def implementations(device: torch.device, fp32_only: bool) -> tuple[str, ...]:
    if fp32_only or not bf16_autocast_pays_off(device):
        return ("reference", "ours_fp32")
    return ("reference", "ours_fp32", "ours_bf16")


def heaps(impl: str, device: torch.device, same_heap: bool = False) -> tuple[str, ...]:
    """The allocator policies an implementation is timed under on this device: ours as the trainer runs its steps
    ("kept": core.device.freed_memory_kept around each block, as around each epoch) and, in float32, also with
    glibc's default ("default", the old column); the reference as the authors' code runs, with the default, or
    with ``same_heap`` as ours (the comparison with the allocator policy taken out)."""
    if device.type != "cpu":
        return ("default",)
    if impl == "reference":
        return ("kept",) if same_heap else ("default",)
    return ("kept", "default") if impl == "ours_fp32" else ("kept",)


def measure(setting: str, steps: int, device: torch.device, impls: tuple[str, ...], warmup: int = 2,
            clock=time.perf_counter, block: int = 5, same_heap: bool = False) -> dict:
    """Images/s (median step) of each implementation, labelled and unlabelled, in rounds: each variant runs
    ``block`` steps in a row inside its allocator policy, variants alternating, until ``steps`` steps each."""
    s = SETTINGS[setting]
    x, y = make_batch(setting, torch.Generator().manual_seed(0), device)
    variants = [(impl, kind, heap) for kind in ("sup", "unsup") for impl in impls
                for heap in heaps(impl, device, same_heap)]
    fns = {}
    for impl, kind, heap in variants:
        if (impl, kind) not in fns:
            model = make_model(setting, reference=impl == "reference").to(device)
            fns[(impl, kind)] = step_fn(model, make_optimizer(model, impl, device),
                                        loss_fn(model, impl, kind, x, y), device, bf16=impl == "ours_bf16")
    times = {v: [] for v in variants}
    faults = {v: 0 for v in variants}
    for round_ in range(-1, math.ceil(steps / block)):  # round -1 warms every variant up, untimed
        for v in variants:
            fn, todo = fns[v[:2]], warmup if round_ < 0 else min(block, steps - round_ * block)
            with freed_memory_kept(v[2] == "kept"):  # left (and the heap trimmed) after the block
                for _ in range(todo):
                    _synchronize(device)
                    faults_before, t = _page_faults(), clock()
                    fn()
                    _synchronize(device)
                    if round_ >= 0:
                        times[v].append(clock() - t)
                        faults[v] += _page_faults() - faults_before
    out = {"batch": s["batch"], "block": block, "reference_heap": heaps("reference", device, same_heap)[0]}
    for (impl, kind, heap), ts in times.items():
        name = column(impl, heap, device, same_heap)
        out[f"{name}_{kind}_images_per_s"] = round(s["batch"] / statistics.median(ts), 1)
        out[f"{name}_{kind}_fault_mb_per_step"] = round(faults[(impl, kind, heap)] * PAGE / 1e6 / len(ts), 1)
    for kind in ("sup", "unsup"):
        ref = out[f"reference_{kind}_images_per_s"]
        for name in columns(impls, device)[1:]:
            out[f"{kind}_speedup_{name.split('_', 1)[1]}"] = round(out[f"{name}_{kind}_images_per_s"] / ref, 2)
    return out


def column(impl: str, heap: str, device: torch.device, same_heap: bool = False) -> str:
    """The name of a variant's figures: the implementation's own, or with ``_default_heap`` for ours under
    glibc's default allocator where the trainer's policy is its first."""
    return impl if heap == heaps(impl, device, same_heap)[0] else f"{impl}_default_heap"


def columns(impls: tuple[str, ...], device: torch.device) -> list[str]:
    """The table's columns: each implementation, and ours under glibc's default allocator where it was timed."""
    return [column(impl, heap, device) for impl in impls for heap in heaps(impl, device)]


def print_table(setting: str, figures: dict, impls: tuple[str, ...], device: torch.device) -> None:
    for kind, name in (("sup", "labelled"), ("unsup", "unlabelled")):
        cells = [f"reference fp32 {figures[f'reference_{kind}_images_per_s']:8.1f}"]
        for column in columns(impls, device)[1:]:
            suffix = column.split("_", 1)[1]  # fp32, bf16 or fp32_default_heap
            label = suffix.replace("_default_heap", ", glibc's default heap")
            cells.append(f"ours {label} {figures[f'{column}_{kind}_images_per_s']:8.1f} "
                         f"({figures[f'{kind}_speedup_{suffix}']:.2f}x)")
        print(f"{setting:7s} {name:10s} images/s: " + " | ".join(cells))


def measure_sizes(steps: int, device: torch.device, warmup: int = 2, clock=time.perf_counter) -> dict:
    """Images per second of the project's labelled and unlabelled steps at every image size the networks take
    (RGB, 10 classes, z 16, batch 64, the training default), interleaved so noise hits all sizes alike."""
    from core.networks import IMAGE_SIZES

    spec = LabelSpec(MULTICLASS, tuple("0123456789"))
    gen = torch.Generator().manual_seed(0)
    fns = {}
    for size in IMAGE_SIZES:
        torch.manual_seed(0)
        model = CCVAE(ModelConfig(image_shape=(3, size, size), label_spec=spec, latent_dim=16,
                                  likelihood="laplace")).to(device)
        x = torch.rand((64, 3, size, size), generator=gen).to(device)
        y = torch.randint(0, 10, (64,), generator=gen).to(device)
        for kind in ("sup", "unsup"):
            fns[(size, kind)] = step_fn(model, make_optimizer(model, "ours", device), loss_fn(model, "ours", kind, x, y),
                                        device, bf16=bf16_autocast_pays_off(device))
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {v: [] for v in fns}
    for _ in range(steps):
        for v, fn in fns.items():
            _synchronize(device)
            t = clock()
            fn()
            _synchronize(device)
            times[v].append(clock() - t)
    return {f"{size}x{size}_{kind}_images_per_s": round(64 / statistics.median(ts), 1)
            for (size, kind), ts in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--block", type=int, default=5, help="steps each variant runs in a row per round")
    parser.add_argument("--same-heap", action="store_true",
                        help="the reference too runs each block with freed memory kept, as ours does")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (CUDA when present)")
    parser.add_argument("--sizes", action="store_true", help="images/s of our step at each image size (RGB, batch 64)")
    parser.add_argument("--fp32-only", action="store_true", help="no bf16 column even where the CPU has bf16")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time each step by the CPU time of its one thread (implies --threads 1): ratios that "
                             "hold on a machine busy with other jobs, where wall time does not")
    args = parser.parse_args(argv)
    if args.cpu_time:
        args.threads = 1
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = pick_device(args.device)
    except (ValueError, RuntimeError) as err:  # no GPU for --device cuda, or a device name torch does not know
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.cpu_time and device.type != "cpu":
        print("error: --cpu-time measures CPU steps only", file=sys.stderr)
        return 2
    result = {"threads": torch.get_num_threads(), "torch": torch.__version__, "steps": args.steps,
              "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "bf16_hardware": device.type == "cpu" and bf16_autocast_pays_off(device),
              "clock": "thread CPU time" if args.cpu_time else "wall", "load_average_start": round(os.getloadavg()[0], 2)}
    if args.sizes:
        figures = measure_sizes(args.steps, device, clock=time.thread_time if args.cpu_time else time.perf_counter)
        for key, value in figures.items():
            print(f"sizes   {key:32s} {value}")
        result["sizes"] = figures
        result["bf16_used"] = bf16_autocast_pays_off(device)
        result["load_average_end"] = round(os.getloadavg()[0], 2)
        print(json.dumps(result))
        return 0
    impls = implementations(device, args.fp32_only)
    result["bf16_used"] = "ours_bf16" in impls
    print(f"threads {result['threads']}, clock: {result['clock']}, bf16 hardware: "
          f"{'yes' if result['bf16_hardware'] else 'no'}, bf16 column: {'yes' if result['bf16_used'] else 'no'}; "
          f"float32 unless marked bf16")
    for setting in args.settings:
        figures = measure(setting, args.steps, device, impls, block=args.block, same_heap=args.same_heap,
                          clock=time.thread_time if args.cpu_time else time.perf_counter)
        print_table(setting, figures, impls, device)
        result[setting] = figures
    result["load_average_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
