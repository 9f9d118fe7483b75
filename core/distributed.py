"""Training on several processes with PyTorch's own launcher: DistributedDataParallel (DDP).

    torchrun --standalone --nproc_per_node 4 train_cli.py --dataset celeba --data-dir data/celeba --out runs/celeba

torchrun starts one process per GPU (or per share of the CPU) and tells each its place through the environment
(RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address). ``init_from_env`` reads it, joins the process group
(NCCL for CUDA tensors, gloo for CPU tensors) and returns the ``ProcessGroup`` the Trainer needs; started
without torchrun it returns the one-process group and touches nothing.

How the work is shared:
- every process loads the same data and the same labelled subset (they depend only on the config's seed), and
  each epoch takes its own shard of the same seeded permutation (``Trainer._shard``), padded to equal length so
  every process runs the same labelled/unlabelled schedule in lockstep;
- the losses run through ``LossModule`` wrapped in DDP, which averages the gradients: after every step the
  weights are identical on every process;
- only rank 0 evaluates and writes the run folder (config, checkpoints, metrics, latents, maps, figures).
``--batch-size`` is per process; the effective batch (batch_size x world_size) goes into config.json.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Callable, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from core.errors import CCVAEError

T = TypeVar("T")

# Longer than the default, because rank 0 evaluates after each epoch while the others wait at the first
# collective of the next one.
TIMEOUT = datetime.timedelta(minutes=60)


@dataclass
class ProcessGroup:
    """Which share of each epoch this process trains; one process unless launched by torchrun."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_from_env() -> ProcessGroup:
    """Join the process group torchrun describes in the environment; the one-process group without torchrun.

    On a CUDA machine the process's GPU becomes cuda:LOCAL_RANK (when there is such a GPU) before joining.
    """
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return ProcessGroup()
    if not dist.is_initialized():
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if torch.cuda.is_available():
            if local_rank < torch.cuda.device_count():
                torch.cuda.set_device(local_rank)
            # both backends: tensors on the GPU go through NCCL, tensors and objects on the CPU through gloo,
            # so a run that asks for --device cpu still works on a GPU machine
            backend = "cpu:gloo,cuda:nccl"
        else:
            backend = "gloo"
        dist.init_process_group(backend=backend, timeout=TIMEOUT)
    return ProcessGroup(rank=dist.get_rank(), world_size=dist.get_world_size())


def shutdown() -> None:
    """Leave the process group (if one was joined); safe to call in any case."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _active(group: ProcessGroup) -> bool:
    return group.world_size > 1 and dist.is_available() and dist.is_initialized()


def process_device(device: torch.device) -> torch.device:
    """Under torchrun each process trains on GPU number LOCAL_RANK (whatever --device names), or on the CPU."""
    if device.type != "cuda":
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if local_rank >= torch.cuda.device_count():
        raise ValueError(f"process LOCAL_RANK={local_rank} has no GPU of its own ({torch.cuda.device_count()} "
                         "visible): start at most one process per GPU (--nproc_per_node), or use --device cpu")
    return torch.device("cuda", local_rank)


def ddp_wrapper(device: torch.device) -> Callable[[nn.Module], nn.Module]:
    """The ``wrap_model`` hook of ``Trainer``: wraps the loss module in DistributedDataParallel.

    Buffers are not re-broadcast at every forward: the only one, p(y), is computed from the same labelled
    subset (or loaded from the same checkpoint) on every process and never changes. DDP still copies rank 0's
    weights to every process when it wraps the module.
    """
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    # newer PyTorch renamed the option (and deprecated the old name); both keep the sync at wrap time
    no_forward_sync = ("forward_sync_buffers" if "forward_sync_buffers" in
                       inspect.signature(DistributedDataParallel).parameters else "broadcast_buffers")

    def wrap(module: nn.Module) -> nn.Module:
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids, **{no_forward_sync: False})

    return wrap


def barrier(group: ProcessGroup) -> None:
    if _active(group):
        dist.barrier()


def agree(group: ProcessGroup, fn: Callable[[], T]) -> T:
    """Run ``fn`` on every process; if it fails on any, raise that failure on all of them.

    Used for the steps every process must pass before training (checking the run folder, loading the data,
    creating the folder on rank 0): one process failing alone would leave the others waiting forever at the
    next collective. It is also a barrier. A ``CCVAEError`` of the first failing rank is raised on every
    process with ``on_every_rank`` set, so a command line prints it once, on rank 0. Any other exception is a
    bug: the process that hit it raises it with its traceback, the others a ``CCVAEError`` naming it.
    """
    try:
        result, error = fn(), None
    except Exception as e:  # shared below, then re-raised
        result, error = None, e
    if not _active(group):
        if error is not None:
            raise error
        return result
    shared = error
    if error is not None and not isinstance(error, CCVAEError):  # send only its type and message
        shared = CCVAEError(f"process {group.rank} failed: {type(error).__name__}: {error}", on_every_rank=True)
    errors: list = [None] * group.world_size
    dist.all_gather_object(errors, shared)
    for rank, failure in enumerate(errors):
        if failure is None:
            continue
        if rank == group.rank and not isinstance(error, CCVAEError):
            raise error
        mine = error if rank == group.rank else failure
        mine.on_every_rank = True
        raise mine
    return result


def all_finite(loss: torch.Tensor, group: ProcessGroup) -> bool:
    """True when the loss is finite on every process (all of them then stop, or none: they stay in lockstep)."""
    finite = torch.isfinite(loss.detach()).to(torch.float32).reshape(1)
    if _active(group):
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item())


def mean_over_processes(values: dict[str, float], group: ProcessGroup) -> dict[str, float]:
    """Average a dict of floats over the processes (keys any process lacks are averaged over those that have them)."""
    if not _active(group):
        return dict(values)
    gathered: list = [None] * group.world_size
    dist.all_gather_object(gathered, dict(values))
    keys = sorted({k for d in gathered for k in d})
    return {k: sum(d[k] for d in gathered if k in d) / sum(1 for d in gathered if k in d) for k in keys}


def sum_over_processes(tensor: torch.Tensor, group: ProcessGroup) -> torch.Tensor:
    """The elementwise sum of a tensor over the processes (the tensor itself with one process)."""
    if not _active(group):
        return tensor
    out = tensor.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def seed_process(seed: int, rank: int, epoch: int) -> None:
    """Give each process its own stream of sampling noise (z ~ q(z|x), the K samples of z_c).

    Every process starts from the same seed so that all build the same model; after that, equal noise on
    different processes would correlate the samples of different examples within one global batch.
    """
    torch.manual_seed((seed * 1_000_003 + epoch) * 1_009 + rank + 1)


def scale_facts(batch_size: int, lr: float, group: ProcessGroup) -> dict:
    """What config.json records about the scale of a run."""
    return {"world_size": group.world_size, "batch_size_per_process": batch_size,
            "effective_batch_size": batch_size * group.world_size, "lr": lr,
            "lr_note": "as given; not scaled with the number of processes"}


def reports_error(group: ProcessGroup, error: BaseException) -> bool:
    """Should this process print ``error``? Rank 0 prints everything; the others only what rank 0 does not see,
    not an error every process raised (see ``agree``; the NaN guard is shared too)."""
    return group.is_main or not (isinstance(error, CCVAEError) and error.on_every_rank)
