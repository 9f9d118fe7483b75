"""Reproduce the poster's study (beta x latent size, optionally x labelled fraction) with one command and
measure what each cell's latents capture. ``python train_cli.py study --out runs/study``."""
from core.study.grid import Cell, StudyConfig, StudyError
from core.study.runner import run_study

__all__ = ["Cell", "StudyConfig", "StudyError", "run_study"]
