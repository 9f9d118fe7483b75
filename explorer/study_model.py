"""The study comparison's one model: plain Python, no Qt. The views (``explorer.study_window``) only render it.

What it holds: the study folder (``core.study.folder``), one ``CellState`` per cell of the grid, the selected
point (highlighted in every cell) and the chosen swap (a source point and a target, the same for every cell).

Each cell that opens is an ordinary run in the explorer's own ``ExplorerModel``: its maps (provisional PCA maps at
once, the UMAP maps when they arrive), and the swap itself, computed by ``ExplorerModel.swap`` / ``flip`` with the
method ``core.swap_choice`` picks for that cell. So a cell's swap here is exactly the swap its full explorer window
shows, and no formula is written twice. A cell that cannot be opened keeps its one-line reason (``problem``).

Every cell of a study encodes the same evaluation images in the same order (same data, seed and limit), so a point
index means the same image in every cell; a cell whose points differ is reported as broken rather than guessed at.
Maps of cells are cached in the user's cache folder (``core.study.folder.maps_cache_path``), never in the study.
"""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np
from scipy.spatial import cKDTree

from core.projection import LatentMaps, load_maps, maps_cache_key
from core.study.folder import StudyCell, StudyFolder, maps_cache_path

from explorer.model import NONE, Event, ExplorerModel, Intervention
from explorer.rundata import RunData, RunOpenError


class StudyEvents:
    def __init__(self):
        self.opened = Event("opened")          # a study was opened (the grid; its cells still pending)
        self.cell_loaded = Event("cell_loaded")  # (cell index) that cell opened, or failed to (its problem)
        self.maps = Event("maps")              # (cell index) that cell's maps changed
        self.selection = Event("selection")    # the selected point changed
        self.swap = Event("swap")              # the chosen swap (or its results) changed
        self.message = Event("message")        # (text) a line for the status bar


@dataclass
class CellState:
    cell: StudyCell
    model: ExplorerModel | None = None   # the cell's run, as the explorer holds it; None when it cannot be opened
    problem: str | None = None           # why not, one line
    pending: bool = False                # not opened yet (``StudyModel.load_next``)
    maps_problem: str | None = None      # the UMAP fit failed (the provisional maps stay)
    _tree: tuple | None = None           # (maps, {map name: k-d tree}) for clicks, rebuilt when the maps change

    @property
    def ok(self) -> bool:
        return self.model is not None

    @property
    def run(self) -> RunData | None:
        return self.model.run if self.model is not None else None

    @property
    def maps(self) -> LatentMaps | None:
        return self.model.maps if self.model is not None else None

    @property
    def has_final_maps(self) -> bool:
        return self.maps is not None and not self.maps.provisional


class StudyModel:
    def __init__(self):
        self.events = StudyEvents()
        self.folder: StudyFolder | None = None
        self.cells: list[CellState] = []
        self.selected = NONE            # the point highlighted in every cell
        self.swap_source = NONE         # the chosen swap's source point...
        self.swap_target = 0            # ...and target: a class (multi-class) or the attribute to flip (binary)
        self.swap_follows_selection = True  # selecting a point makes it the swap's source

    # ------------------------------------------------------------------ opening
    def open(self, folder: StudyFolder, load: bool = True) -> None:
        """Show ``folder``: its cells start pending and open one by one (``load_next``; all at once with
        ``load``), those that cannot be opened keeping their reason. The first cell that opens selects its first
        point and chooses a first swap; each later cell shows the same selection and swap as it opens."""
        self.folder = folder
        self.cells = [CellState(cell, problem=cell.problem, pending=not cell.problem) for cell in folder.cells]
        self.selected = self.swap_source = NONE
        self.events.opened.emit()
        while load and self.load_next() is not None:
            pass

    def load_next(self) -> int | None:
        """Open the next pending cell; returns its index, or None when none is left."""
        index = next((i for i, c in enumerate(self.cells) if c.pending), None)
        if index is None:
            return None
        state = self.cells[index]
        state.pending = False
        state.model, state.problem = self._open_cell(state.cell)
        if state.ok:
            state.problem = self._disagreement(state)
            if state.problem:
                state.model = None
        self.events.cell_loaded.emit(index)
        if state.ok and state is self.reference and self.selected < 0:  # the first cell: a first point and swap
            probs = state.run.latents.probs[0]
            self.swap_target = (int(probs.argmax()) + 1) % len(probs) if self.is_multiclass else 0
            self.select(0)
        elif state.ok and self.swap_source >= 0:
            self._swap_cell(state)
            self.events.swap.emit()
        return index

    @staticmethod
    def _open_cell(cell: StudyCell) -> tuple[ExplorerModel | None, str | None]:
        try:
            run = RunData.open(cell.run_dir)
        except RunOpenError as e:
            return None, f"{cell.name}: {e}"
        key = maps_cache_key(run.latents.z_c, run.latents.z_style, run.seed)
        run.maps_file = maps_cache_path(key)  # maps fitted from here on go to the user's cache, not the study
        if run.maps is None:
            run.maps = load_maps(run.maps_file, expected_key=key)
            if run.maps is not None and len(run.maps.zc) != len(run.latents):
                run.maps = None
        model = ExplorerModel()
        model.load(run)  # provisional PCA maps unless cached ones were found
        return model, None

    def _disagreement(self, state: CellState) -> str | None:
        """Cells whose points or labels differ from the first good cell's cannot share a selection: why, or None."""
        ref = self.reference
        if ref is None or ref is state:
            return None
        lat, other = ref.run.latents, state.run.latents
        if state.run.label_spec.names != ref.run.label_spec.names:
            return f"{state.cell.name}: other labels than {ref.cell.name}"
        if len(other) != len(lat) or not (np.array_equal(other.split, lat.split)
                                          and np.array_equal(other.index, lat.index)):
            return f"{state.cell.name}: other images than {ref.cell.name}"
        return None

    # ------------------------------------------------------------------ what the views read
    @property
    def reference(self) -> CellState | None:
        """The first cell that opened: its images and labels stand for every cell's (they are the same)."""
        return next((c for c in self.cells if c.ok), None)

    @property
    def is_multiclass(self) -> bool:
        return self.reference.run.label_spec.is_multiclass

    @property
    def problems(self) -> list[str]:
        return [c.problem for c in self.cells if c.problem]

    @property
    def point_count(self) -> int:
        ref = self.reference
        return len(ref.run.latents) if ref is not None else 0

    @property
    def ready(self) -> bool:
        """Every cell has opened (or failed to) and shows its UMAP maps (or its fit failed and says so)."""
        return not any(c.pending for c in self.cells) and all(c.has_final_maps or c.maps_problem for c in self.cells if c.ok)

    def title(self) -> str:
        """"study_full (mnist5k) · 10 cells: 5 β × 2 latent sizes", and how many cannot be shown, if any."""
        f = self.folder
        grid = f"{len(f.betas)} \u03b2 \u00d7 {len(f.latent_dims)} latent sizes" + (
            f" \u00d7 {len(f.sup_fracs)} labelled fractions" if f.with_sup else "")
        broken = sum(not c.ok and not c.pending for c in self.cells)
        return (f.path.name + (f" ({f.dataset})" if f.dataset else "") + f"  \u00b7  {len(self.cells)} cells: {grid}"
                + (f"  \u00b7  {broken} not shown" if broken else ""))

    def target_names(self) -> list[str]:
        """What the swap can aim at: the classes, or for binary labels the attributes (the one to flip)."""
        return list(self.reference.run.label_spec.names)

    def point_text(self, i: int) -> str:
        """"#12 · test image 12 · label 3" (the reference cell's words; every cell has the same images)."""
        m = self.reference.model
        return f"#{i} \u00b7 {m.source_text(i)} \u00b7 label {m.point_label_text(i)}"

    def point_image(self, i: int) -> np.ndarray:
        return self.reference.model.point_image(i)

    def colour_groups(self, index: int) -> np.ndarray:
        """[N] colour group of every point of cell ``index``: the label, as the explorer colours by default (binary
        labels: the attribute the swap flips)."""
        return self.cells[index].model.colour_groups()

    def group_names(self) -> list[str]:
        return self.reference.model.group_names()

    def swap_result(self, index: int) -> Intervention | None:
        state = self.cells[index]
        return state.model.intervention if state.ok else None

    def swap_text(self) -> str:
        """What the chosen swap is: "#12 (label 3) → 7" or "#12: flip smile"."""
        if self.swap_source < 0:
            return ""
        m = self.reference.model
        target = self.target_names()[self.swap_target]
        if self.is_multiclass:
            return f"#{self.swap_source} (label {m.point_label_text(self.swap_source)}) \u2192 {target}"
        return f"#{self.swap_source}: flip {target}"

    def swap_verdict(self, index: int) -> tuple[str, bool] | None:
        """The cell's own classifier on its swapped picture, and whether that is the target; None without one."""
        result = self.swap_result(index)
        if result is None:
            return None
        state = self.cells[index]
        if self.is_multiclass:
            k = int(np.argmax(result.probs))
            return f"{state.run.label_spec.names[k]} ({result.probs[k]:.2f})", k == self.swap_target
        a = self.swap_target
        before = bool(state.run.latents.probs[self.swap_source, a] > 0.5)
        after = bool(result.probs[a] > 0.5)
        name = state.run.label_spec.names[a]
        return f"{name} {'on' if after else 'off'} ({result.probs[a]:.2f})", after != before

    def swap_method(self, index: int) -> str:
        """"prior" or "class stats": how this cell's swap moved z_c (core.swap_choice's pick for the cell)."""
        from core.swap_choice import CLASS_STATS

        return "class stats" if self.cells[index].model.swap_choice().method == CLASS_STATS else "prior"

    # ------------------------------------------------------------------ what the user does
    def select(self, i: int) -> None:
        """Point ``i`` is highlighted in every cell (and, with swap_follows_selection, becomes the swap's source)."""
        if self.reference is None or not 0 <= int(i) < self.point_count:
            return
        self.selected = int(i)
        self.events.selection.emit()
        if self.swap_follows_selection:
            self.choose_swap(self.selected, self.swap_target)

    def set_swap_target(self, target: int) -> None:
        self.choose_swap(self.swap_source if self.swap_source >= 0 else max(self.selected, 0), target)

    def choose_swap(self, source: int, target: int) -> None:
        """Swap point ``source`` to class ``target`` (binary: flip attribute ``target``) in every cell, each with
        its own model and the swap method core.swap_choice picks for it."""
        if self.reference is None:
            return
        if not 0 <= int(source) < self.point_count:
            raise ValueError(f"no point {source}: the study's cells have {self.point_count} points")
        if not 0 <= int(target) < len(self.target_names()):
            raise ValueError(f"no target {target}: choose one of {', '.join(self.target_names())}")
        self.swap_source, self.swap_target = int(source), int(target)
        for state in self.cells:
            if state.ok:
                self._swap_cell(state)
        self.events.swap.emit()

    def _swap_cell(self, state: CellState) -> None:
        m = state.model
        m.select_a(self.swap_source)
        if self.is_multiclass:
            m.swap(self.swap_target, m.default_using())
        else:  # the maps show the attribute being flipped
            if m.colour_by != self.swap_target:
                m.set_colour_by(self.swap_target)
            m.flip(self.swap_target, m.default_using())

    def set_maps(self, index: int, maps: LatentMaps) -> None:
        """The UMAP maps of cell ``index`` arrived (they replace its provisional ones; its swap is placed again)."""
        state = self.cells[index]
        if state.ok:
            state.model.set_maps(maps)
            self.events.maps.emit(index)

    def maps_failed(self, index: int, message: str) -> None:
        self.cells[index].maps_problem = message
        self.events.maps.emit(index)
        self.events.message.emit(f"{self.cells[index].cell.name}: could not compute the maps: {message}")

    def cells_without_maps(self) -> list[int]:
        """Cells still showing provisional maps, in grid order: the ones the map worker should fit."""
        return [i for i, c in enumerate(self.cells) if c.ok and not c.has_final_maps and not c.maps_problem]

    def nearest_point(self, index: int, map_name: str, xy, radius: float) -> int:
        """The point of cell ``index``'s map ``map_name`` nearest to ``xy`` within ``radius`` (map units), or NONE."""
        state = self.cells[index]
        if not state.ok or state.maps is None:
            return NONE
        if state._tree is None or state._tree[0] is not state.maps:
            state._tree = (state.maps, {name: cKDTree(state.model.map_points(name)) for name in ("zc", "style")})
        distance, i = state._tree[1][map_name].query(np.asarray(xy, dtype=np.float64), k=1)
        return int(i) if distance <= radius else NONE

    def cell_run_for_window(self, index: int) -> RunData:
        """The cell's run, to open in a full explorer window: its maps as computed here, new ones to the cache."""
        return self.cells[index].run

