"""Run folders on disk: ``config.json`` (JSON), ``model.pt`` (tensors only) and ``checkpoint.pt`` (model,
optimizer and epoch, for ``--resume``).

Every write goes to a temporary file in the same folder and is renamed over the target, so a run killed at any
moment leaves the previous complete file in place. Every read uses ``torch.load(weights_only=True)``: a file
holding pickled code is refused, never executed.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch

from core.atomic import atomic_write, atomic_write_bytes, atomic_write_json  # noqa: F401 (re-exported)
from core.config import FORMAT_VERSION, RunConfig
from core.errors import CCVAEError
from core.model import CCVAE

CONFIG_FILE = "config.json"
MODEL_FILE = "model.pt"
CHECKPOINT_FILE = "checkpoint.pt"
_MAGIC = "ccvae-explorer"


class CheckpointError(CCVAEError):
    """A run folder or checkpoint that cannot be used; the message is one line saying why."""


def atomic_torch_save(path: Path, obj) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


def safe_torch_load(path: Path, map_location="cpu") -> dict:
    """torch.load with weights_only=True and one-line errors for missing, corrupt or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "global" in str(e).lower():  # torch names the class it refused to import
            raise CheckpointError(f"{path}: refused to load: it holds pickled objects, not only tensors and plain data") from None
        raise CheckpointError(f"{path}: corrupt or not a PyTorch file") from None
    except Exception as e:  # noqa: BLE001 - garbage bytes surface as many types (IndexError, KeyError, ...)
        raise CheckpointError(f"{path}: corrupt or not a PyTorch file ({type(e).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != _MAGIC:
        raise CheckpointError(f"{path}: not a ccvae-explorer checkpoint")
    if obj.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {obj.get('version')} is not supported (expected {FORMAT_VERSION})")
    return obj


def save_config(run_dir: Path, config: RunConfig) -> None:
    atomic_write_json(Path(run_dir) / CONFIG_FILE, config.to_json())


def load_config(run_dir: Path) -> RunConfig:
    run_dir = Path(run_dir)
    path = run_dir / CONFIG_FILE
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run folder")
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: not a run folder (no {CONFIG_FILE})")
    try:
        return RunConfig.from_json(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not valid JSON") from None
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: invalid run configuration ({e})") from None


def _payload(state_dict: dict, **extra) -> dict:
    return {"format": _MAGIC, "version": FORMAT_VERSION, "model": state_dict, **extra}


def save_model(run_dir: Path, model: CCVAE, epoch: int | None = None, metrics: dict | None = None) -> None:
    """The weights; during training also the epoch they end and that epoch's metrics (plain numbers), so a reader
    of one model.pt (the explorer watching a run train) knows which epoch it holds without a second file."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    extra = {} if epoch is None else {"epoch": int(epoch), "metrics": {
        k: float(v) for k, v in (metrics or {}).items() if isinstance(v, (int, float))}}
    atomic_torch_save(Path(run_dir) / MODEL_FILE, _payload(state, **extra))


def save_checkpoint(run_dir: Path, model: CCVAE, optimizer: torch.optim.Optimizer, epoch: int, extra: dict | None = None) -> None:
    """Everything needed to continue after ``epoch`` (1-based count of finished epochs)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_torch_save(Path(run_dir) / CHECKPOINT_FILE,
                      _payload(state, optimizer=optimizer.state_dict(), epoch=int(epoch),
                               rng=torch.get_rng_state(), extra=extra or {}))


def _load_state(model: CCVAE, state: dict, path: Path) -> None:
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: no model weights inside")
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(f"{path}: weights do not match config.json ({detail[:160]})") from None


def build_model(config: RunConfig) -> CCVAE:
    try:
        return CCVAE(config.model)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"invalid model configuration: {e}") from None


def load_run(run_dir: Path, device: torch.device | str = "cpu") -> tuple[CCVAE, RunConfig]:
    """Rebuild the model from ``config.json`` and load ``model.pt`` into it, in eval mode on ``device``."""
    model, config, _ = load_run_epoch(run_dir, device)
    return model, config


def load_run_epoch(run_dir: Path, device: torch.device | str = "cpu") -> tuple[CCVAE, RunConfig, dict]:
    """``load_run``, and what the same read of ``model.pt`` says of its epoch: {"epoch": N, "metrics": {...}}
    while training wrote it, {} for weights saved otherwise (older runs, ``refit-prior``)."""
    config = load_config(run_dir)
    model = build_model(config)
    path = Path(run_dir) / MODEL_FILE
    stored = safe_torch_load(path)
    _load_state(model, stored.get("model"), path)
    info = {k: stored[k] for k in ("epoch", "metrics") if k in stored}
    return model.to(device).eval(), config, info


def load_checkpoint(run_dir: Path, model: CCVAE, optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load ``checkpoint.pt`` into model (and optimizer); returns the stored dict (epoch, rng, extra)."""
    path = Path(run_dir) / CHECKPOINT_FILE
    obj = safe_torch_load(path)
    _load_state(model, obj.get("model"), path)
    if optimizer is not None and "optimizer" in obj:
        optimizer.load_state_dict(obj["optimizer"])
    return obj
