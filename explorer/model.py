"""The explorer's one model: plain Python, no Qt. Every view renders it; none keeps a result of its own.

What it holds: the loaded run and its maps, the selection (A, B, the point under the mouse), which groups are
hidden, the current latent and what moved it (``Current``), the intervention on A (``Intervention``), the
interpolation from A to B (``Interpolation``) and the latent walk (``Walk``).

Every derived value is computed here, from the model, and dropped the moment what it depends on changes:
- an intervention belongs to A (and to B for a transfer): choosing another A, another B for a transfer, clearing B
  or opening a run clears it;
- the interpolation belongs to (A, B, mode, steps): changing any of them drops it (and a current latent that was
  one of its frames goes back to A);
- the walk belongs to the latent it started from and says so (``Walk.z_c``, ``walk_is_current``): with
  ``walk_follows``, ``ensure_walk`` redoes it for the current latent, so no view shows a walk of an earlier latent
  as if it were the current one (while a drag goes on, a view may show the last walk marked as earlier).

Views subscribe to the ``Event``s below (``explorer.qt_adapter`` relays them into Qt), read the model's values and
only draw them. Latents are numpy (z_c [Dc], z_style [Ds]); images uint8 [H, W] (grey) or [H, W, 3].
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from core.class_stats import attribute_stats, class_stats, move_between
from core.imaging import to_uint8
from core.knn import ForwardMap
from core.labels import labelled_mask
from core.projection import InverseMap, LatentMaps, provisional_maps

MAP_NAMES = ("zc", "style")  # the two maps: of the characteristic latent z_c and of the style latent
MAP_TITLES = {"zc": "z_c map", "style": "style map"}
NONE = -1  # no point


class Event:
    """A list of callbacks, called in order with the emitted arguments. ``connect`` returns the callback."""

    def __init__(self, name: str = ""):
        self.name = name
        self._callbacks: list[Callable] = []

    def connect(self, callback: Callable) -> Callable:
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable) -> None:
        self._callbacks = [c for c in self._callbacks if c is not callback]

    def emit(self, *args) -> None:
        for callback in list(self._callbacks):
            callback(*args)


class Events:
    """The model's events. Arguments are given where a view needs them; otherwise read the model."""

    def __init__(self):
        self.run_loaded = Event("run_loaded")                  # a run was opened; maps may still be missing
        self.maps_ready = Event("maps_ready")                  # maps (and the 2-D <-> latent lookups) are there
        self.hover = Event("hover")                            # (index or NONE)
        self.selection = Event("selection")                    # A or B changed
        self.colouring = Event("colouring")                    # colour-by attribute or hidden groups changed
        self.current = Event("current")                        # the current latent (or only its origin) changed
        self.intervention = Event("intervention")              # set or cleared
        self.interpolation = Event("interpolation")            # computed or dropped
        self.frame = Event("frame")                            # the interpolation frame shown changed
        self.playing = Event("playing")                        # play / pause
        self.walk = Event("walk")                              # computed or dropped
        self.message = Event("message")                        # (text) something worth a line in a status bar


class Origin(enum.Enum):
    """What made the current latent what it is."""

    POINT = "point"                # point A, as encoded
    DRAG = "drag"                  # a handle on a map moved (Current.map says which)
    FRAME = "frame"                # a frame of the interpolation
    INTERVENTION = "intervention"  # an intervention's result, made current


@dataclass(frozen=True)
class Current:
    """The current latent, its decoded image and classifier verdict, where it sits on each map, and why."""

    z_c: np.ndarray                          # [Dc]
    z_style: np.ndarray                      # [Ds]
    image: np.ndarray                        # uint8 [H, W(, 3)]
    probs: np.ndarray                        # q(y|z_c) [K]
    positions: dict                          # map name -> (x, y), or None while maps are missing
    origin: Origin
    point: int = NONE                        # POINT: the point; DRAG/FRAME/INTERVENTION: the A it started from
    map: str | None = None                   # DRAG: which map's handle
    dragging: bool = False                   # DRAG: the handle is still held
    frame: int = NONE                        # FRAME: which frame
    frames: int = 0                          # FRAME: of how many
    detail: str = ""                         # FRAME: "A = #3 -> B = #7"; INTERVENTION: its description


class Kind(enum.Enum):
    SWAP = "swap"
    FLIP = "flip"
    TRANSFER = "transfer"


class Using(enum.Enum):
    """Where a swap moves z_c: between the learned priors p(z_c|y) (the paper) or the encoder's class statistics."""

    PRIOR = "prior"
    CLASS_STATS = "class statistics"


@dataclass(frozen=True)
class Intervention:
    """A swapped, flipped or transferred latent of A and how it came about."""

    kind: Kind
    description: str          # e.g. "3 -> 8", "z_c of B #9 with the style of A #5"
    a: int                    # the point changed
    b: int                    # the point giving z_c (transfer), NONE otherwise
    z_c: np.ndarray
    z_style: np.ndarray
    image: np.ndarray         # the decoded result
    probs: np.ndarray         # the classifier on the result image (re-encoded)
    positions: dict           # map name -> (x, y) where it lands, None without maps


class PathMode(enum.Enum):
    FULL = "full"     # both blocks move
    ZC = "zc"         # z_c moves, the style of A stays
    STYLE = "style"   # the style moves, z_c of A stays


PATH_MODE_TEXT = {PathMode.FULL: "full latent", PathMode.ZC: "z_c only (style of A)",
                  PathMode.STYLE: "style only (z_c of A)"}


@dataclass(frozen=True)
class Interpolation:
    """The path from A to B: ``steps`` latents, decoded, classified and placed on the maps."""

    a: int
    b: int
    mode: PathMode
    z_c: np.ndarray           # [T, Dc]
    z_style: np.ndarray       # [T, Ds]
    images: np.ndarray        # uint8 [T, H, W(, 3)]
    probs: np.ndarray         # [T, K]
    path: dict | None         # map name -> [T, 2], None without maps

    @property
    def steps(self) -> int:
        return len(self.z_c)

    def positions(self, t: int) -> dict:
        return {name: (None if self.path is None else self.path[name][t]) for name in MAP_NAMES}

    @property
    def label(self) -> str:
        return f"A #{self.a} \u2192 B #{self.b}"


@dataclass(frozen=True)
class Walk:
    """Latent walks from one latent: one row per z_c dimension, decoded along the range the priors cover."""

    z_c: np.ndarray           # the latent the walk starts from [Dc]
    z_style: np.ndarray       # [Ds]
    steps: int
    margin: float
    images: np.ndarray        # uint8 [Dc, steps, H, W(, 3)]
    rows: list = field(default_factory=list)  # a name per row
    origin_text: str = ""     # what the latent was when the walk was made


class ExplorerModel:
    def __init__(self):
        self.events = Events()
        self.run = None                                   # explorer.rundata.RunData
        self.maps: LatentMaps | None = None
        self.inverse: dict[str, InverseMap] = {}          # map point -> latent, per map
        self.forward: dict[str, ForwardMap] = {}          # latent -> map point, per map
        self.hover = NONE
        self.a = NONE
        self.b = NONE
        self.colour_by = 0                                # binary labels: which attribute colours the maps
        self.hidden: frozenset[int] = frozenset()         # colour groups whose points are hidden
        self.unlabelled_by_prediction = False             # colour unlabelled points by the classifier's prediction
        self._data_problem_told: str | None = None        # the missing-data reason already reported (say it once)
        self.current: Current | None = None
        self.intervention: Intervention | None = None
        self.path_mode = PathMode.FULL
        self.steps = 30
        self.interpolation: Interpolation | None = None
        self.frame = 0
        self.playing = False
        self.walk_steps = 9
        self.walk_margin = 3.0
        self.walk_follows = True
        self.walk: Walk | None = None
        self._swap_choice = None
        self._class_stats: tuple | None = None

    # ------------------------------------------------------------------ the run and its maps
    @property
    def engine(self):
        return self.run.engine if self.run is not None else None

    @property
    def label_spec(self):
        return self.run.label_spec

    def load(self, run) -> None:
        """Open ``run`` (a RunData): everything derived from the previous run is dropped."""
        self.run = run
        self.maps, self.inverse, self.forward = None, {}, {}
        self.hover, self.a, self.b, self.colour_by, self.hidden = NONE, NONE, NONE, 0, frozenset()
        self.unlabelled_by_prediction, self._data_problem_told = False, None
        self.current = self.intervention = self.interpolation = self.walk = None
        self.frame, self.playing = 0, False
        self._class_stats = self._swap_choice = None
        self.events.run_loaded.emit()
        for event in (self.events.intervention, self.events.interpolation, self.events.walk, self.events.playing):
            event.emit()
        # without cached maps, a PCA of the latents stands in at once until the UMAP maps arrive (set_maps again)
        self.set_maps(run.maps if run.maps is not None else provisional_maps(run.latents.z_c, run.latents.z_style))
        self.select_a(0)

    def set_maps(self, maps: LatentMaps) -> None:
        lat = self.run.latents
        if len(maps.zc) != len(lat):
            raise ValueError(f"maps of {len(maps.zc)} points for {len(lat)} latents")
        self.maps = maps
        if not maps.provisional:
            self.run.maps = maps
        for name, latent in (("zc", lat.z_c), ("style", lat.z_style)):
            points = self.map_points(name)
            self.inverse[name] = InverseMap(points, latent, k=8)
            self.forward[name] = ForwardMap(latent, points, k=8)
        # everything placed without maps gets its place now
        if self.current is not None:
            c = self.current
            positions = self._point_positions(c.point) if c.origin is Origin.POINT else self.place(c.z_c, c.z_style)
            self.current = _replace(c, positions=positions)
        if self.intervention is not None:
            self.intervention = _replace(self.intervention, positions=self.place(self.intervention.z_c,
                                                                                   self.intervention.z_style))
        if self.interpolation is not None:
            self.interpolation = _replace(self.interpolation, path=self._path(self.interpolation.z_c,
                                                                              self.interpolation.z_style))
        self.events.maps_ready.emit()
        self.events.current.emit()
        self.events.intervention.emit()
        self.events.interpolation.emit()

    def map_points(self, name: str) -> np.ndarray:
        """[N, 2] coordinates of every point on map ``name``."""
        return self.maps.zc if name == "zc" else self.maps.style

    def _point_positions(self, i: int) -> dict:
        return {name: (self.map_points(name)[i] if self.maps is not None else None) for name in MAP_NAMES}

    def place(self, z_c: np.ndarray, z_style: np.ndarray) -> dict:
        """Where latent (z_c, z_style) lands on each map; None per map while maps are missing."""
        if self.maps is None:
            return {name: None for name in MAP_NAMES}
        return {"zc": self.forward["zc"](np.asarray(z_c)), "style": self.forward["style"](np.asarray(z_style))}

    def _path(self, z_c: np.ndarray, z_style: np.ndarray) -> dict | None:
        if self.maps is None:
            return None
        return {"zc": self.forward["zc"](z_c), "style": self.forward["style"](z_style)}

    # ------------------------------------------------------------------ texts about points
    def point_label_text(self, i: int) -> str:
        spec, labels = self.label_spec, self.run.latents.labels
        if not self.labelled[i]:
            return "unlabelled"
        if spec.is_multiclass:
            return spec.names[int(labels[i])]
        on = [n for n, v in zip(spec.names, labels[i]) if v > 0.5]
        return ", ".join(on) if on else "(none)"

    def prediction_text(self, probs: np.ndarray) -> str:
        spec = self.label_spec
        if spec.is_multiclass:
            k = int(np.argmax(probs))
            return f"{spec.names[k]} ({probs[k]:.2f})"
        on = [n for n, p in zip(spec.names, probs) if p > 0.5]
        return ", ".join(on) if on else "(none)"

    def current_text(self) -> str:
        """One line saying what the current latent is, true at every moment (also after a drag ends)."""
        c = self.current
        if c is None:
            return ""
        if c.origin is Origin.POINT:
            return f"point A #{c.point}"
        if c.origin is Origin.DRAG:
            held = "style held" if c.map == "zc" else "z_c held"
            verb = "dragging on" if c.dragging else "moved on"
            return f"{verb} the {MAP_TITLES[c.map]} from A #{c.point} ({held})"
        if c.origin is Origin.FRAME:
            return f"interpolation frame {c.frame + 1}/{c.frames}, {c.detail}"
        return f"intervention on A #{c.point}: {c.detail}"

    def selection_text(self) -> str:
        a = f"A #{self.a}" if self.a >= 0 else "no A"
        b = f"B #{self.b}" if self.b >= 0 else "no B"
        return f"{a} \u00b7 {b}"

    # ------------------------------------------------------------------ colouring
    @property
    def labelled(self) -> np.ndarray:
        """[N] bool: which points have a label (unlabelled images of a partly labelled data set do not)."""
        return labelled_mask(self.run.latents.labels)

    @property
    def has_unlabelled(self) -> bool:
        return self.run is not None and not bool(self.labelled.all())

    def colour_groups(self) -> np.ndarray:
        """[N] integer colour group of every point: its class, or 0/1 for the chosen binary attribute; unlabelled
        points form the last group ("unlabelled"), or take the classifier's prediction when
        ``unlabelled_by_prediction``."""
        lat = self.run.latents
        if self.label_spec.is_multiclass:
            given, predicted = lat.labels, np.argmax(lat.probs, axis=-1)
        else:
            given, predicted = lat.labels[:, self.colour_by] > 0.5, lat.probs[:, self.colour_by] > 0.5
        has = self.labelled
        if has.all():
            return given.astype(np.int64)
        unlabelled = predicted if self.unlabelled_by_prediction else len(self._base_group_names())
        return np.where(has, given, unlabelled).astype(np.int64)

    def _base_group_names(self) -> list[str]:
        spec = self.label_spec
        if spec.is_multiclass:
            return list(spec.names)
        attribute = spec.names[self.colour_by]
        return [f"not {attribute}", attribute]

    def group_names(self) -> list[str]:
        """The colour groups' names; "unlabelled" last when some points have no label and keep their own colour."""
        names = self._base_group_names()
        if self.has_unlabelled and not self.unlabelled_by_prediction:
            names.append("unlabelled")
        return names

    def set_unlabelled_by_prediction(self, on: bool) -> None:
        if bool(on) != self.unlabelled_by_prediction:
            self.unlabelled_by_prediction, self.hidden = bool(on), frozenset()
            self.events.colouring.emit()

    # ------------------------------------------------------------------ point images
    def point_image(self, i: int) -> np.ndarray:
        """uint8 image of point ``i``: full size from the run or its data, else the run's thumbnail. When the
        data cannot be read the reason goes to the status bar once (not at every hover)."""
        image = self.run.images[i]
        problem = self.run.images.problem
        if problem and problem != self._data_problem_told:
            self._data_problem_told = problem
            self.report(f"{problem}; showing the run's thumbnails (File > Locate data folder…)")
        return image

    def locate_data(self, folder) -> bool:
        """Read the run's full images from ``folder`` from now on; reports the outcome in one line."""
        reason = self.run.images.relocate(folder)
        if reason is not None:
            self.report(f"{folder}: not this run's data ({reason})")
            return False
        self._data_problem_told = None
        self.report(f"full images from {folder}")
        self.events.selection.emit()  # views redraw the points' images
        return True

    def visible_points(self) -> np.ndarray:
        """[N] bool: points whose group is not hidden."""
        groups = self.colour_groups()
        if not self.hidden:
            return np.ones(len(groups), dtype=bool)
        return ~np.isin(groups, sorted(self.hidden))

    def set_colour_by(self, attribute: int) -> None:
        attribute = int(attribute)
        if attribute != self.colour_by:
            self.colour_by, self.hidden = attribute, frozenset()
            self.events.colouring.emit()

    def set_group_hidden(self, group: int, hidden: bool) -> None:
        new = self.hidden | {int(group)} if hidden else self.hidden - {int(group)}
        if new != self.hidden:
            self.hidden = frozenset(new)
            if self.hover >= 0 and not self.visible_points()[self.hover]:
                self.set_hover(NONE)
            self.events.colouring.emit()

    # ------------------------------------------------------------------ selection
    def set_hover(self, i: int) -> None:
        i = int(i)
        if i != self.hover:
            self.hover = i
            self.events.hover.emit(i)

    def select_a(self, i: int) -> None:
        """Point ``i`` becomes A: the current latent jumps to it; A's intervention and the path are dropped."""
        self.a = int(i)
        self._drop_intervention()
        self._drop_interpolation()
        self._set_point_current()
        self.events.selection.emit()

    def select_b(self, i: int) -> None:
        """Point ``i`` (or NONE) becomes B, the second end for paths and transfers."""
        self.b = int(i)
        if self.intervention is not None and self.intervention.kind is Kind.TRANSFER:
            self._drop_intervention()
        self._drop_interpolation()
        self.events.selection.emit()

    def select(self, i: int, slot: str = "a") -> None:
        self.select_b(i) if slot == "b" else self.select_a(i)

    def clear_b(self) -> None:
        if self.b != NONE:
            self.select_b(NONE)

    def clear(self) -> None:
        """Esc: B and the intervention go; the current latent goes back to A."""
        self.set_playing(False)
        self._drop_intervention()
        self.clear_b()
        if self.a >= 0 and (self.current is None or self.current.origin is not Origin.POINT):
            self._set_point_current()

    # ------------------------------------------------------------------ the current latent
    def decode(self, z_c: np.ndarray, z_style: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Batch [M, Dc], [M, Ds] -> images uint8 [M, H, W(, 3)], probabilities [M, K]."""
        engine = self.engine
        z_c = np.ascontiguousarray(z_c, dtype=np.float32).reshape(-1, engine.zc_dim)
        z_s = np.ascontiguousarray(z_style, dtype=np.float32).reshape(-1, engine.style_dim)
        return to_uint8(engine.decode(z_c, z_s)), engine.classify(z_c).cpu().numpy()

    def _set_current(self, z_c, z_style, positions: dict | None = None, **origin) -> None:
        z_c = np.asarray(z_c, dtype=np.float32).reshape(-1).copy()
        z_style = np.asarray(z_style, dtype=np.float32).reshape(-1).copy()
        images, probs = self.decode(z_c, z_style)
        positions = positions if positions is not None else self.place(z_c, z_style)
        self.current = Current(z_c, z_style, images[0], probs[0], positions, **origin)
        self.events.current.emit()

    def _set_point_current(self) -> None:
        lat = self.run.latents
        self._set_current(lat.z_c[self.a], lat.z_style[self.a], self._point_positions(self.a),
                          origin=Origin.POINT, point=self.a)

    def drag(self, name: str, xy) -> None:
        """The handle on map ``name`` moved to ``xy`` (held): move through that latent, hold the other block."""
        if name not in self.inverse or self.current is None:
            return
        xy = np.asarray(xy, dtype=np.float64)
        latent = self.inverse[name](xy)
        c = self.current
        positions = dict(c.positions)
        positions[name] = xy
        z_c, z_style = (latent, c.z_style) if name == "zc" else (c.z_c, latent)
        self.set_playing(False)
        self._set_current(z_c, z_style, positions, origin=Origin.DRAG, point=self.a, map=name, dragging=True)

    def end_drag(self) -> None:
        """The handle was released: the latent stays, its description stops saying "dragging"."""
        c = self.current
        if c is not None and c.origin is Origin.DRAG and c.dragging:
            self.current = _replace(c, dragging=False)
            self.events.current.emit()

    # ------------------------------------------------------------------ interventions
    def _drop_intervention(self) -> None:
        if self.intervention is not None:
            self.intervention = None
            self.events.intervention.emit()
        if self.current is not None and self.current.origin is Origin.INTERVENTION and self.a >= 0:
            self._set_point_current()  # its description names an A and B that are no longer chosen

    def _intervene(self, kind: Kind, description: str, z_c, z_style, b: int = NONE) -> Intervention:
        engine = self.engine
        z_c = np.asarray(z_c, dtype=np.float32).reshape(-1)
        z_style = np.asarray(z_style, dtype=np.float32).reshape(-1)
        decoded = engine.decode(z_c[None], z_style[None])
        # the verdict is on the image the user sees: re-encode it. A linear classifier read straight off the moved
        # z_c extrapolates wherever the encoder's clusters sit beyond the prior means, and can disagree with the
        # picture (a swapped 6 -> 0 that decodes as a clear 0 but reads as "6" at z_c').
        probs = engine.classify(engine.encode(decoded).z_c).cpu().numpy()
        self.intervention = Intervention(kind, description, self.a, b, z_c, z_style, to_uint8(decoded)[0], probs[0],
                                         self.place(z_c, z_style))
        self.events.intervention.emit()
        return self.intervention

    def swap_choice(self):
        """Which swap lands more often on this model, and why (``core.swap_choice``: the run summary's measurement,
        by the judge when the run was measured, else by the model itself on the loaded points)."""
        if self._swap_choice is None:
            from core.swap_choice import for_run

            lat = self.run.latents
            self._swap_choice = for_run(self.run.run_dir, self.engine, lat.z_c, lat.z_style)
        return self._swap_choice

    def default_using(self) -> Using:
        from core.swap_choice import CLASS_STATS

        return Using.CLASS_STATS if self.swap_choice().method == CLASS_STATS else Using.PRIOR

    def class_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """(loc, scale) of the encoded points per class as the classifier sees them ([K, Dc]), or per value of each
        attribute ([2, A]) for binary labels: ``core.class_stats``, the study's formula."""
        if self._class_stats is None:
            lat = self.run.latents
            if self.label_spec.is_multiclass:
                self._class_stats = class_stats(lat.z_c, lat.probs.argmax(axis=1), self.label_spec.size)
            else:
                self._class_stats = attribute_stats(lat.z_c[:, :self.label_spec.size], lat.probs > 0.5)
        return self._class_stats

    def swap(self, target: int, using: Using = Using.PRIOR) -> Intervention:
        """Multi-class: move A's z_c from its predicted class to ``target``, keeping its place in the class and
        its style, between the learned priors or the class statistics (``Using``)."""
        import torch

        engine, lat = self.engine, self.run.latents
        z_a = lat.z_c[self.a]
        source, target = int(engine.predict(torch.from_numpy(z_a[None]))[0]), int(target)
        if Using(using) is Using.CLASS_STATS:
            loc, scale = self.class_statistics()
            swapped = move_between(z_a, loc, scale, source, target)
        else:
            swapped = engine.swap_label(torch.from_numpy(z_a[None]), source, target).cpu().numpy()
        names = engine.label_spec.names
        return self._intervene(Kind.SWAP, f"{names[source]} \u2192 {names[target]}", swapped, lat.z_style[self.a])

    def flip(self, attribute: int, using: Using = Using.PRIOR) -> Intervention:
        """Binary attributes: flip one attribute of A (the classifier's verdict), the others kept; with class
        statistics only z_c[attribute] moves, between the encoded points with and without it."""
        import torch

        engine, lat = self.engine, self.run.latents
        attribute = int(attribute)
        z_a = lat.z_c[self.a]
        before = float(engine.classify(torch.from_numpy(z_a[None]))[0, attribute])
        if Using(using) is Using.CLASS_STATS:
            loc, scale = self.class_statistics()
            src, dst = int(before > 0.5), int(before <= 0.5)
            flipped = z_a.copy()
            flipped[attribute] = move_between(z_a[attribute], loc[:, attribute], scale[:, attribute], src, dst)
        else:
            flipped = engine.flip_attribute(torch.from_numpy(z_a[None]), attribute).cpu().numpy()
        verb = "remove" if before > 0.5 else "add"
        return self._intervene(Kind.FLIP, f"{verb} {engine.label_spec.names[attribute]}", flipped, lat.z_style[self.a])

    def transfer(self) -> Intervention:
        """Characteristic transfer: z_c of B with the style of A."""
        if self.a < 0 or self.b < 0:
            raise ValueError("choose a second point B first (shift-click on a map)")
        lat = self.run.latents
        z_c, z_style = self.engine.transfer(lat.z_c[self.b], lat.z_style[self.a])
        return self._intervene(Kind.TRANSFER, f"z_c of B #{self.b} with the style of A #{self.a}", z_c, z_style,
                               b=self.b)

    def apply_intervention(self) -> None:
        """Make the intervention's result the current latent."""
        r = self.intervention
        if r is not None:
            self.set_playing(False)
            self._set_current(r.z_c, r.z_style, dict(r.positions), origin=Origin.INTERVENTION, point=r.a,
                              detail=r.description)

    # ------------------------------------------------------------------ interpolation
    def _drop_interpolation(self) -> None:
        self.set_playing(False)
        self.frame = 0
        if self.interpolation is not None:
            self.interpolation = None
            self.events.interpolation.emit()
        if self.current is not None and self.current.origin is Origin.FRAME and self.a >= 0:
            self._set_point_current()  # a frame of a path that no longer exists is not a state to describe

    def set_path_mode(self, mode: PathMode) -> None:
        mode = PathMode(mode)
        if mode is not self.path_mode:
            self.path_mode = mode
            self._drop_interpolation()

    def set_steps(self, steps: int) -> None:
        steps = max(2, int(steps))
        if steps != self.steps:
            self.steps = steps
            self._drop_interpolation()

    @property
    def can_interpolate(self) -> bool:
        return self.run is not None and self.a >= 0 and self.b >= 0

    def ensure_interpolation(self) -> Interpolation | None:
        """The interpolation of the current A, B, mode and steps, computed now if it is not there (None without
        both A and B)."""
        if self.interpolation is None and self.can_interpolate:
            lat = self.run.latents
            z_c, z_s = self.engine.interpolate((lat.z_c[self.a], lat.z_style[self.a]),
                                               (lat.z_c[self.b], lat.z_style[self.b]), steps=self.steps,
                                               mode=self.path_mode.value)
            z_c, z_s = z_c.cpu().numpy(), z_s.cpu().numpy()
            images, probs = self.decode(z_c, z_s)
            self.interpolation = Interpolation(self.a, self.b, self.path_mode, z_c, z_s, images, probs,
                                               self._path(z_c, z_s))
            self.frame = 0
            self.events.interpolation.emit()
        return self.interpolation

    def show_frame(self, t: int) -> None:
        """Make frame t (wrapping around) of the interpolation the current latent."""
        path = self.ensure_interpolation()
        if path is None:
            return
        self.frame = int(t) % path.steps
        self._set_current(path.z_c[self.frame], path.z_style[self.frame], path.positions(self.frame),
                          origin=Origin.FRAME, point=path.a, frame=self.frame, frames=path.steps, detail=path.label)
        self.events.frame.emit()

    def step_frame(self, delta: int = 1) -> None:
        """Arrow keys / the player: the next (or previous) frame; from another latent, the first frame."""
        on_path = self.current is not None and self.current.origin is Origin.FRAME
        self.show_frame(self.frame + delta if on_path else 0)

    def set_playing(self, playing: bool) -> None:
        playing = bool(playing) and self.can_interpolate
        if playing != self.playing:
            self.playing = playing
            if playing:
                self.show_frame(self.frame if self.current is not None and self.current.origin is Origin.FRAME else 0)
            self.events.playing.emit()

    # ------------------------------------------------------------------ walks
    def set_walk_options(self, steps: int | None = None, margin: float | None = None,
                         follows: bool | None = None) -> None:
        changed = False
        if steps is not None and int(steps) != self.walk_steps:
            self.walk_steps, changed = int(steps), True
        if margin is not None and float(margin) != self.walk_margin:
            self.walk_margin, changed = float(margin), True
        if follows is not None and bool(follows) != self.walk_follows:
            self.walk_follows = bool(follows)
            changed = changed or (self.walk_follows and not self.walk_is_current)
        if changed and self.walk is not None:
            self.walk = None
            self.events.walk.emit()

    @property
    def walk_is_current(self) -> bool:
        """The walk shown starts from the current latent."""
        w, c = self.walk, self.current
        return w is not None and c is not None and np.array_equal(w.z_c, c.z_c) and np.array_equal(w.z_style,
                                                                                                      c.z_style)

    def compute_walk(self) -> Walk | None:
        """Walk from the current latent with the current options (recomputed even if one is there)."""
        import torch

        c = self.current
        if c is None:
            return None
        engine = self.engine
        rows = []
        for d in range(engine.zc_dim):
            path = engine.latent_walk(torch.from_numpy(c.z_c), d, steps=self.walk_steps,
                                      margin=self.walk_margin).cpu().numpy()
            rows.append(self.decode(path, np.repeat(c.z_style[None], self.walk_steps, axis=0))[0])
        spec = self.label_spec
        names = list(spec.names) if not spec.is_multiclass else [f"z_c[{d}]" for d in range(engine.zc_dim)]
        self.walk = Walk(c.z_c, c.z_style, self.walk_steps, self.walk_margin, np.stack(rows), names,
                         self.current_text())
        self.events.walk.emit()
        return self.walk

    def ensure_walk(self) -> Walk | None:
        """The walk, computed from the current latent if there is none (or, when following, if it is stale)."""
        if self.walk is None or (self.walk_follows and not self.walk_is_current):
            return self.compute_walk()
        return self.walk

    def report(self, text: str) -> None:
        """A non-fatal note for a status bar (exports written, errors that do not stop anything)."""
        self.events.message.emit(str(text))


def _replace(value, **changes):
    from dataclasses import replace

    return replace(value, **changes)
