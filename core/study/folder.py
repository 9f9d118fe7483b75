"""Reading a finished (or unfinished) study folder, for tools that show it: its grid, each cell's run folder and
its row of the report, and where maps of a cell are cached without writing into the study.

``StudyFolder.open(path)`` needs only ``study.json``; a cell whose folder is missing, or a study whose report is
not written yet, is described (``StudyCell.problem``, ``StudyFolder.report is None``), never an exception, so a
viewer can show what is there. Qt-free; the explorer's study comparison (``explorer.study_model``) reads this.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core import checkpoint as ckpt
from core.study.grid import Cell, StudyError
from core.study.report import COLUMNS, REPORT_JSON, _fmt
from core.study.runner import STUDY_FILE

# the report's measures a viewer shows beside each cell (the headline table without the grid values and timing),
# with a short name that fits under a small map; the report's own header is the long name
_SHORT = {"test_acc": "test acc", "recon_nll": "-log p(x|z)", "recon_mse": "recon MSE", "cond_gen_acc": "cond-gen",
          "swap_success": "swap", "swap_success_stats": "swap (stats)", "style_share": "style kept",
          "style_ratio": "style ratio", "locality": "locality"}
MEASURE_COLUMNS = [(k, _SHORT.get(k, h), h.replace("\\|", "|")) for k, h in COLUMNS
                   if k not in ("cell", "beta", "latent_dim", "sup_frac", "train_seconds")]
MAPS_CACHE_FOLDER = "maps"  # under core.data.morpho.cache_dir(): maps of runs whose folder is not ours to write


def is_study_folder(path) -> bool:
    return (Path(path) / STUDY_FILE).is_file()


@dataclass
class StudyCell:
    """One cell of the grid: its grid values, its run folder, its report row (None until reported) and, when its
    folder cannot be a run (not trained yet, files missing), the reason in one line."""

    beta: float
    latent_dim: int
    sup_frac: float
    run_dir: Path
    row: dict | None = None
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.run_dir.name

    def caption(self, with_sup: bool = False) -> str:
        """Short: ``beta 0.05 · z 16`` (`` · sup 0.1`` when the grid has several labelled fractions)."""
        text = f"\u03b2 {self.beta:g} \u00b7 z {self.latent_dim}"
        return text + (f" \u00b7 sup {self.sup_frac:g}" if with_sup else "")

    def measures(self) -> list[tuple[str, str, str]]:
        """(short name, value as the report prints it, the report's header) for each of MEASURE_COLUMNS the row
        holds; none until the report has the cell."""
        if self.row is None:
            return []
        return [(short, _fmt(self.row[key], key), header) for key, short, header in MEASURE_COLUMNS
                if self.row.get(key) is not None]


@dataclass
class StudyFolder:
    path: Path
    betas: tuple[float, ...]
    latent_dims: tuple[int, ...]
    sup_fracs: tuple[float, ...]
    cells: list[StudyCell] = field(default_factory=list)
    report: dict | None = None       # report.json, None while the study has not written one
    report_problem: str | None = None

    @property
    def with_sup(self) -> bool:
        """The grid has several labelled fractions (a third axis)."""
        return len(self.sup_fracs) > 1

    @property
    def label_kind(self) -> str | None:
        """"multiclass" or "binary" as the report says, None without a report."""
        return self.report.get("label_kind") if self.report else None

    @property
    def dataset(self) -> str:
        if self.report and self.report.get("dataset"):
            return str(self.report["dataset"])
        return ""

    def grid_position(self, cell: StudyCell) -> tuple[int, int]:
        """(row, column) of a cell: columns are the betas; rows the latent sizes, times the labelled fractions
        when there are several (latent-major)."""
        row = self.latent_dims.index(cell.latent_dim) * len(self.sup_fracs) + self.sup_fracs.index(cell.sup_frac)
        return row, self.betas.index(cell.beta)

    def row_captions(self) -> list[str]:
        return [f"latent {d}" + (f"\nsup {f:g}" if self.with_sup else "") for d in self.latent_dims
                for f in self.sup_fracs]

    def column_captions(self) -> list[str]:
        return [f"\u03b2 = {b:g}" for b in self.betas]

    @classmethod
    def open(cls, path) -> "StudyFolder":
        """Read ``path``/study.json, report.json when there is one, and find each cell's folder; StudyError with
        one line when study.json is missing or unreadable."""
        path = Path(path)
        try:
            spec = json.loads((path / STUDY_FILE).read_text())
            betas = tuple(float(b) for b in spec["betas"])
            dims = tuple(int(d) for d in spec["latent_dims"])
            fracs = tuple(float(f) for f in spec.get("sup_fracs", [1.0]))
        except FileNotFoundError:
            raise StudyError(f"{path}: not a study folder (no {STUDY_FILE})") from None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StudyError(f"{path / STUDY_FILE}: unreadable study settings ({type(e).__name__}: {e})") from None
        if not (betas and dims and fracs):
            raise StudyError(f"{path / STUDY_FILE}: the grid is empty")
        folder = cls(path, betas, dims, fracs)
        try:
            folder.report = json.loads((path / REPORT_JSON).read_text())
        except FileNotFoundError:
            folder.report_problem = f"no {REPORT_JSON} yet (the study has not finished)"
        except (OSError, ValueError) as e:
            folder.report_problem = f"{REPORT_JSON} is unreadable ({type(e).__name__})"
        rows = {r.get("cell"): r for r in (folder.report or {}).get("rows", []) if isinstance(r, dict)}
        for latent in dims:  # the runner's order (core.study.grid.StudyConfig.cells)
            for beta in betas:
                for frac in fracs:
                    run_dir = Cell(beta, latent, frac).run_dir(path)
                    folder.cells.append(StudyCell(beta, latent, frac, run_dir, rows.get(run_dir.name),
                                                  _cell_problem(run_dir)))
        return folder


def _cell_problem(run_dir: Path) -> str | None:
    """Why ``run_dir`` cannot be opened as a run yet, or None (then the explorer's loader has the last word)."""
    if not run_dir.is_dir():
        return f"{run_dir.name}: not trained (no folder)"
    for name in (ckpt.CONFIG_FILE, ckpt.MODEL_FILE, "latents.npz"):
        if not (run_dir / name).is_file():
            return f"{run_dir.name}: not finished (no {name})"
    return None


def maps_cache_path(key: str) -> Path:
    """Where maps with cache key ``key`` (core.projection.maps_cache_key) are kept in the user's cache folder, for
    runs the explorer must not write into (the cells of a study). The key names the latents and seed, so a
    retrained cell never picks up another cell's maps."""
    from core.data.morpho import cache_dir

    return cache_dir() / MAPS_CACHE_FOLDER / f"{key[:40]}.npz"


def folder_kind(path) -> str | None:
    """"study" (a study.json), "run" (a config.json), or None for a folder that is neither (or no folder)."""
    path = Path(path)
    if is_study_folder(path):
        return "study"
    if (path / ckpt.CONFIG_FILE).is_file():
        return "run"
    return None
