"""Training throughput (images per second) of one supervised and one unsupervised step, on this machine.

Two settings: MNIST (28x28 grey, 10 classes, z 16 with z_c 4, batch 64) and the CCVAE authors' CelebA setting
(64x64 RGB, 18 attributes, z 45, batch 200). Each step is timed for the project's implementation and, side by
side in the same process, for a reference that computes the same objective the way the authors' PyTorch port
does (a second encoder pass for the K-sample q(y|x), torch.distributions objects, analytic KL), so the ratio is
not at the mercy of a noisy machine.

    python bench/train_throughput.py [--steps 20] [--threads 0] [--settings mnist celeba] [--device cpu|cuda]
    python bench/train_throughput.py --sizes [--steps 10]   # the project's step at each image size instead

The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import distributions as D

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import ModelConfig  # noqa: E402
from core.device import pick_device, bf16_autocast_pays_off  # noqa: E402
from core.fast_layers import with_torch_layers  # noqa: E402
from core.labels import BINARY, MULTICLASS, LabelSpec  # noqa: E402
from core.model import CCVAE  # noqa: E402
from core.objective import supervised_loss, unsupervised_loss  # noqa: E402

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


def step_fn(model, optimizer, impl, kind, x, y, device):
    ours = impl.startswith("ours")
    amp = impl == "ours" and bf16_autocast_pays_off(device)
    if ours:
        loss_fn = (lambda: supervised_loss(model, x, y).loss) if kind == "sup" else (lambda: unsupervised_loss(model, x).loss)
    else:
        loss_fn = (lambda: reference_supervised(model, x, y)) if kind == "sup" else (lambda: reference_unsupervised(model, x))

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


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


def _synchronize(device: torch.device) -> None:
    """CUDA runs asynchronously: a step's time is only known once the device has finished it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(setting: str, steps: int, device: torch.device, warmup: int = 2) -> dict:
    s = SETTINGS[setting]
    x, y = make_batch(setting, torch.Generator().manual_seed(0), device)
    impls = ("ours", "ours_fp32", "reference")
    variants = [(impl, kind) for kind in ("sup", "unsup") for impl in impls]
    fns = {}
    for impl, kind in variants:
        model = make_model(setting, reference=impl == "reference").to(device)
        fns[(impl, kind)] = step_fn(model, torch.optim.Adam(model.parameters(), lr=1e-4), impl, kind, x, y, device)
    for v in variants:
        for _ in range(warmup):
            fns[v]()
    times = {v: [] for v in variants}
    for _ in range(steps):  # interleave the variants so machine noise hits all of them alike
        for v in variants:
            _synchronize(device)
            t = time.perf_counter()
            fns[v]()
            _synchronize(device)
            times[v].append(time.perf_counter() - t)
    out = {"batch": s["batch"], "bf16_autocast": bf16_autocast_pays_off(device)}
    for (impl, kind), ts in times.items():
        out[f"{impl}_{kind}_images_per_s"] = round(s["batch"] / statistics.median(ts), 1)
    for kind in ("sup", "unsup"):
        ref = out[f"reference_{kind}_images_per_s"]
        out[f"{kind}_speedup"] = round(out[f"ours_{kind}_images_per_s"] / ref, 2)
        out[f"{kind}_speedup_fp32"] = round(out[f"ours_fp32_{kind}_images_per_s"] / ref, 2)
    return out


def measure_sizes(steps: int, device: torch.device, warmup: int = 2) -> dict:
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
            fns[(size, kind)] = step_fn(model, torch.optim.Adam(model.parameters(), lr=1e-4), "ours", kind, x, y, device)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {v: [] for v in fns}
    for _ in range(steps):
        for v, fn in fns.items():
            _synchronize(device)
            t = time.perf_counter()
            fn()
            _synchronize(device)
            times[v].append(time.perf_counter() - t)
    return {f"{size}x{size}_{kind}_images_per_s": round(64 / statistics.median(ts), 1)
            for (size, kind), ts in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (CUDA when present)")
    parser.add_argument("--sizes", action="store_true", help="images/s of our step at each image size (RGB, batch 64)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    result = {"threads": torch.get_num_threads(), "torch": torch.__version__, "steps": args.steps,
              "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}
    if args.sizes:
        figures = measure_sizes(args.steps, device)
        for key, value in figures.items():
            print(f"sizes   {key:32s} {value}")
        result["sizes"] = figures
        print(json.dumps(result))
        return 0
    for setting in args.settings:
        figures = measure(setting, args.steps, device)
        for key, value in figures.items():
            print(f"{setting:7s} {key:32s} {value}")
        result[setting] = figures
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
