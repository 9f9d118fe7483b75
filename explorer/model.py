"""The explorer's one model: plain Python, no Qt. Every view renders it; none keeps a result of its own.

What it holds: the loaded run and its maps, the selection (A, B, the point under the mouse), which groups are
hidden, the current latent and what moved it (``Current``), the intervention on A (``Intervention``), the
interpolation from A to B (``Interpolation``) and the latent walk (``Walk``); the lasso/rectangle selection
(``selected``, many points, apart from A and B), what colours the maps (``ColourMode``), the filter, and your own
images (``AddedImage``: appended to the run's points, so A, B, swaps and paths treat them like any point); for a
run being trained, its training status (``training``, set by ``explorer.live.LiveSession``), and ``apply_epoch``
moves the same points to a newer model's latents and maps, keeping what the user chose.

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
from pathlib import Path
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
        self.selected = Event("selected")                      # the lasso/rectangle selection changed
        self.tool = Event("tool")                              # the mouse tool (pan, lasso, rectangle) changed
        self.centre = Event("centre")                          # ({map name: (x, y)}) views centre on these places
        self.points_added = Event("points_added")              # your own images were added as points at the end
        self.training = Event("training")                      # the watched run's training status changed


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


class Tool(enum.Enum):
    """What a left drag on a map does."""

    PAN = "pan"
    LASSO = "lasso"
    RECTANGLE = "rectangle"


class ColourMode(enum.Enum):
    """What colours the maps. For binary runs LABEL, PREDICTION, PROBABILITY and MISCLASSIFIED speak of the
    attribute ``ExplorerModel.colour_by``."""

    LABEL = "label"
    PREDICTION = "prediction"
    CONFIDENCE = "confidence"          # multi-class: the classifier's largest probability (continuous)
    PROBABILITY = "probability"        # binary: the probability of the attribute (continuous)
    MISCLASSIFIED = "misclassified"    # label differs from prediction


CONTINUOUS_MODES = (ColourMode.CONFIDENCE, ColourMode.PROBABILITY)
COLOUR_BINS = 16  # continuous colourings are drawn in this many steps (one brush each; the colour bar is smooth)


ADDED_SPLIT = -1  # latents.split of an added image (its latents.index counts the added images from 0)


@dataclass(frozen=True)
class AddedImage:
    """One of your own images, encoded and placed on the maps as point ``index``."""

    index: int
    name: str           # the file name
    inverted: bool      # its polarity was flipped to match the run's images
    verdict: str        # the classifier's prediction text


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
        self.selected = np.zeros(0, dtype=np.int64)       # lasso/rectangle selection: sorted point indices
        self.tool = Tool.PAN                              # what a left drag on a map does
        self.colour_mode = ColourMode.LABEL               # what colours the maps (with colour_by for binary runs)
        self.filter: int | None = None                    # index into filter_options(): others are dimmed
        self._neighbour_trees: dict | None = None         # per latent block, a k-d tree of the points
        self.added: list[AddedImage] = []                 # your own images, added as the last points
        self.add_polarity = "auto"                        # explorer.own_images.Polarity value for new images
        self._data_background: float | None = None
        self._added_pixels: list[np.ndarray] = []         # the added images as encoded [C, H, W], to encode again
        self.training = None                              # explorer.live.TrainingStatus of a run being watched
        self.maps_follow = False                          # the maps shown continue the previous ones (a new epoch)

    # ------------------------------------------------------------------ the run and its maps
    @property
    def engine(self):
        return self.run.engine if self.run is not None else None

    @property
    def label_spec(self):
        return self.run.label_spec

    def _drop_run_state(self) -> None:
        """Forget what came from the run shown: its maps, A, B, the selection, the current latent, the intervention,
        the path, the walk and the added images."""
        self.maps, self.inverse, self.forward = None, {}, {}
        self.hover, self.a, self.b = NONE, NONE, NONE
        self.selected = np.zeros(0, dtype=np.int64)
        self.current = self.intervention = self.interpolation = self.walk = None
        self._neighbour_trees, self.added, self._added_pixels = None, [], []
        self.frame, self.playing = 0, False
        self._class_stats = None

    def load(self, run) -> None:
        """Open ``run`` (a RunData): everything derived from the previous run is dropped."""
        self.run = run
        self._drop_run_state()
        self.colour_by, self.hidden, self.colour_mode, self.filter = 0, frozenset(), ColourMode.LABEL, None
        self.unlabelled_by_prediction, self._data_problem_told = False, None
        self._data_background, self.maps_follow = None, False
        self._swap_choice = getattr(run, "swap_choice", None)
        self.events.run_loaded.emit()
        self.events.selected.emit()
        for event in (self.events.intervention, self.events.interpolation, self.events.walk, self.events.playing):
            event.emit()
        # without cached maps, a PCA of the latents stands in at once until the UMAP maps arrive (set_maps again)
        self.set_maps(run.maps if run.maps is not None else provisional_maps(run.latents.z_c, run.latents.z_style))
        self.select_a(0)

    def unload(self) -> None:
        """No run shown (a run being watched before its first epoch): A, B, the current latent, the intervention,
        the path, the walk, the selection and added images all go, and every view is told, so that no panel goes
        on describing the run that was shown before."""
        self.run, self._swap_choice = None, None
        self._drop_run_state()
        self.events.hover.emit(NONE)
        for event in (self.events.selected, self.events.selection, self.events.current, self.events.intervention,
                      self.events.interpolation, self.events.walk, self.events.playing):
            event.emit()

    def set_maps(self, maps: LatentMaps) -> None:
        self._install_maps(maps)
        self._announce_maps()

    def _install_maps(self, maps: LatentMaps) -> None:
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

    def _announce_maps(self) -> None:
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

    # ------------------------------------------------------------------ a run in training (explorer.live)
    def set_training(self, status) -> None:
        """The watched run's training status (``explorer.live.TrainingStatus``; None: not watching)."""
        if status != self.training:
            self.training = status
            self.events.training.emit()

    @property
    def own_points(self) -> int:
        """Points of the run itself (your added images come after them)."""
        return len(self.run.latents) - len(self.added)

    def apply_epoch(self, engine, latents, maps: LatentMaps, follow: bool = True, swap_choice=None) -> None:
        """A newer model of the same run (the live view): ``latents`` are the same points encoded by ``engine``
        (core.latents.encode_points, same order), ``maps`` their maps (``follow``: started from the maps shown).

        What the user chose stays: A, B, the lasso selection, the colouring, hidden groups, the filter, and your
        own images (encoded again by the new model). What the old model computed goes: the intervention, the
        interpolation, the walk, the class statistics, the swap choice, the neighbour trees. The current latent
        goes back to A, as the new model encodes it. ``swap_choice``: the new model's, when already measured."""
        run = self.run
        if len(latents) != self.own_points or len(maps.zc) != len(latents):
            raise ValueError(f"a new epoch must encode the run's {self.own_points} points "
                             f"(got {len(latents)} latents, {len(maps.zc)} map points)")
        pixels, added = self._added_pixels, self.added
        run.engine, run.latents = engine, latents
        if isinstance(run.images, _WithAdded):
            run.images = run.images.base
        self.added, self._added_pixels = [], []
        self.maps_follow = bool(follow)
        self._install_maps(maps)
        if added:  # the same images, encoded by the new model, at the same indices
            self._append_images(np.stack(pixels), [a.name for a in added], [a.inverted for a in added])
        self._neighbour_trees = self._class_stats = None
        self._swap_choice = swap_choice
        self.set_playing(False)
        self.intervention = self.interpolation = self.walk = None
        self.frame = 0
        if self.a >= 0:
            self._set_point_current(emit=False)
        self._announce_maps()
        for event in (self.events.selection, self.events.walk, self.events.selected):
            event.emit()
        self.maps_follow = False

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

    def source_text(self, i: int) -> str:
        """Where point ``i`` came from: "test image 12", or "your image a.png"."""
        from core.latents import SPLIT_NAMES

        lat = self.run.latents
        split = int(lat.split[i])
        if split == ADDED_SPLIT:
            return f"your image {self.added[int(lat.index[i])].name}"
        return f"{SPLIT_NAMES[split]} image {int(lat.index[i])}"

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
        """[N] bool: which points have a label (unlabelled images of a partly labelled data set, and your own added
        images, do not)."""
        return labelled_mask(self.run.latents.labels)

    def _labelled(self) -> np.ndarray:
        return self.labelled

    @property
    def has_unlabelled(self) -> bool:
        return self.run is not None and not bool(self.labelled.all())

    def colour_options(self) -> list[tuple[ColourMode, int, str]]:
        """What the maps can be coloured by: (mode, attribute, text). Multi-class runs: label, prediction,
        confidence, misclassified; binary runs: each attribute, its prediction, its probability and its errors."""
        if self.label_spec.is_multiclass:
            return [(ColourMode.LABEL, 0, "label"), (ColourMode.PREDICTION, 0, "prediction"),
                    (ColourMode.CONFIDENCE, 0, "confidence"), (ColourMode.MISCLASSIFIED, 0, "misclassified")]
        options = []
        for a, name in enumerate(self.label_spec.names):
            options += [(ColourMode.LABEL, a, name), (ColourMode.PREDICTION, a, f"{name}: prediction"),
                        (ColourMode.PROBABILITY, a, f"{name}: probability"),
                        (ColourMode.MISCLASSIFIED, a, f"{name}: misclassified")]
        return options

    def set_colouring(self, mode: ColourMode, attribute: int | None = None) -> None:
        """Colour the maps by ``mode`` (of ``attribute`` for binary runs); hidden groups are shown again."""
        mode = ColourMode(mode)
        attribute = self.colour_by if attribute is None else int(attribute)
        if mode not in {m for m, _, _ in self.colour_options()}:
            raise ValueError(f"a {'multi-class' if self.label_spec.is_multiclass else 'binary'} run cannot be "
                             f"coloured by {mode.value}")
        if (mode, attribute) != (self.colour_mode, self.colour_by):
            self.colour_mode, self.colour_by, self.hidden = mode, attribute, frozenset()
            self.events.colouring.emit()

    @property
    def continuous(self) -> bool:
        """The colouring is a value in [0, 1] (drawn with a colour bar), not groups with names."""
        return self.colour_mode in CONTINUOUS_MODES

    def colour_values(self) -> np.ndarray | None:
        """[N] the continuous value that colours each point (confidence or probability), None for groups."""
        probs = self.run.latents.probs
        if self.colour_mode is ColourMode.CONFIDENCE:
            return probs.max(axis=1)
        if self.colour_mode is ColourMode.PROBABILITY:
            return probs[:, self.colour_by]
        return None

    def _label_and_prediction(self) -> tuple[np.ndarray, np.ndarray]:
        """[N] given label and predicted label (classes, or 0/1 of the attribute colour_by)."""
        lat = self.run.latents
        if self.label_spec.is_multiclass:
            return lat.labels.astype(np.int64), lat.probs.argmax(axis=1)
        a = self.colour_by
        return (lat.labels[:, a] > 0.5).astype(np.int64), (lat.probs[:, a] > 0.5).astype(np.int64)

    def colour_groups(self) -> np.ndarray:
        """[N] integer colour group of every point: its class or attribute value (given or predicted), whether the
        classifier got it wrong, or for continuous colourings the step (of COLOUR_BINS) its value falls in.
        Unlabelled points form the last group ("unlabelled"), or take the classifier's prediction when
        ``unlabelled_by_prediction``."""
        values = self.colour_values()
        if values is not None:
            return np.minimum((np.clip(values, 0, 1) * COLOUR_BINS).astype(np.int64), COLOUR_BINS - 1)
        given, predicted = self._label_and_prediction()
        if self.colour_mode is ColourMode.PREDICTION:
            return predicted
        has = self.labelled
        if self.colour_mode is ColourMode.MISCLASSIFIED:  # an image without a label is neither right nor wrong
            return np.where(has, (given != predicted).astype(np.int64), 2)
        if has.all():
            return given
        unlabelled = predicted if self.unlabelled_by_prediction else len(self._base_group_names())
        return np.where(has, given, unlabelled).astype(np.int64)

    def _base_group_names(self) -> list[str]:
        """The label colouring's groups without "unlabelled"."""
        spec = self.label_spec
        if spec.is_multiclass:
            return list(spec.names)
        attribute = spec.names[self.colour_by]
        return [f"not {attribute}", attribute]

    def group_names(self) -> list[str]:
        """The colour groups' names; "unlabelled" last when some points have no label and keep their own colour."""
        spec, mode = self.label_spec, self.colour_mode
        if mode in CONTINUOUS_MODES:
            return [f"{k / COLOUR_BINS:.2f}\u2013{(k + 1) / COLOUR_BINS:.2f}" for k in range(COLOUR_BINS)]
        if mode is ColourMode.MISCLASSIFIED:
            return ["correct", "misclassified"] + (["unlabelled"] if self.has_unlabelled else [])
        if mode is ColourMode.PREDICTION:
            if spec.is_multiclass:
                return list(spec.names)
            attribute = spec.names[self.colour_by]
            return [f"predicted not {attribute}", f"predicted {attribute}"]
        names = self._base_group_names()
        if self.has_unlabelled and not self.unlabelled_by_prediction:
            names.append("unlabelled")
        return names

    def set_unlabelled_by_prediction(self, on: bool) -> None:
        if bool(on) != self.unlabelled_by_prediction:
            self.unlabelled_by_prediction, self.hidden = bool(on), frozenset()
            self.events.colouring.emit()

    def palette(self) -> str:
        """Which colours the groups take: "classes", "binary", "errors" or "scale" (continuous)."""
        if self.continuous:
            return "scale"
        if self.colour_mode is ColourMode.MISCLASSIFIED:
            return "errors"
        return "classes" if self.label_spec.is_multiclass else "binary"

    def colour_bar_title(self) -> str:
        if self.colour_mode is ColourMode.CONFIDENCE:
            return "confidence"
        if self.colour_mode is ColourMode.PROBABILITY:
            return f"p({self.label_spec.names[self.colour_by]})"
        return ""

    # ------------------------------------------------------------------ point images
    def point_image(self, i: int) -> np.ndarray:
        """uint8 image of point ``i``: full size from the run or its data, else the run's thumbnail. When the
        data cannot be read the reason goes to the status bar once (not at every hover)."""
        image = self.run.images[i]
        problem = self.run.images.problem
        if problem and problem != self._data_problem_told:
            self._data_problem_told = problem
            self.report(f"{problem}; showing the run's thumbnails (File > Locate data folder\u2026)")
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
        """Binary runs: colour by attribute ``attribute`` (keeping what of it colours the maps)."""
        self.set_colouring(self.colour_mode, attribute)

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
        """Esc: the lasso selection, B and the intervention go; the current latent goes back to A."""
        self.clear_selection()
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

    def _set_current(self, z_c, z_style, positions: dict | None = None, emit: bool = True, **origin) -> None:
        z_c = np.asarray(z_c, dtype=np.float32).reshape(-1).copy()
        z_style = np.asarray(z_style, dtype=np.float32).reshape(-1).copy()
        images, probs = self.decode(z_c, z_style)
        positions = positions if positions is not None else self.place(z_c, z_style)
        self.current = Current(z_c, z_style, images[0], probs[0], positions, **origin)
        if emit:
            self.events.current.emit()

    def _set_point_current(self, emit: bool = True) -> None:
        lat = self.run.latents
        self._set_current(lat.z_c[self.a], lat.z_style[self.a], self._point_positions(self.a), emit=emit,
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

    # ------------------------------------------------------------------ the lasso / rectangle selection
    def set_tool(self, tool: Tool) -> None:
        tool = Tool(tool)
        if tool is not self.tool:
            self.tool = tool
            self.events.tool.emit()

    def set_selected(self, indices) -> None:
        """The selection becomes ``indices`` (any order, repeats allowed)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) > 1 and not (indices[1:] > indices[:-1]).all():  # a lasso's flatnonzero is sorted already
            indices = np.unique(indices)
        if len(indices) and (indices[0] < 0 or indices[-1] >= len(self.run.latents)):
            raise IndexError(f"selection indices must lie in [0, {len(self.run.latents)})")
        if not np.array_equal(indices, self.selected):
            self.selected = indices
            self.events.selected.emit()

    def select_region(self, name: str, polygon, mode: str = "replace") -> np.ndarray:
        """Select the visible points of map ``name`` inside ``polygon`` [M, 2] (a lasso, or a rectangle's four
        corners). ``mode``: "replace", "add" (shift) or "remove" (alt). Returns the new selection."""
        from explorer.points import points_in_polygon

        if self.maps is None:
            return self.selected
        inside = points_in_polygon(self.map_points(name), polygon)
        if self.hidden:
            inside &= self.visible_points()
        chosen = np.flatnonzero(inside)
        if mode == "add":
            chosen = np.union1d(self.selected, chosen)
        elif mode == "remove":
            chosen = np.setdiff1d(self.selected, chosen)
        self.set_selected(chosen)
        return self.selected

    def clear_selection(self) -> None:
        self.set_selected(np.zeros(0, dtype=np.int64))

    def selected_mask(self) -> np.ndarray:
        mask = np.zeros(len(self.run.latents), dtype=bool)
        mask[self.selected] = True
        return mask

    def group_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(selected, all) points per colour group, e.g. 47 of the 412 sevens are selected."""
        groups, n = self.colour_groups(), len(self.group_names())
        return np.bincount(groups[self.selected], minlength=n)[:n], np.bincount(groups, minlength=n)[:n]

    def selected_text(self) -> str:
        if not len(self.selected):
            return "no selection"
        return f"{len(self.selected):,} / {len(self.run.latents):,} selected"

    def export_selection(self, csv_path, png_path=None) -> tuple:
        """Write the selection as a CSV (every point: index, split, label, prediction, confidence, both map
        places, z_c and style) and, with ``png_path``, a PNG grid of its images (the first MAX_GRID_IMAGES)."""
        from explorer.points import selection_grid, write_png, write_selection_csv

        if not len(self.selected):
            raise ValueError("nothing is selected: draw a lasso or a rectangle on a map first")
        if self.maps is None:
            raise ValueError("the maps are not ready yet")
        written = [write_selection_csv(self, self.selected, csv_path)]
        if png_path is not None:
            from explorer.points import MAX_GRID_IMAGES

            grid = selection_grid([self.run.images[i] for i in self.selected[:MAX_GRID_IMAGES]])
            written.append(write_png(grid, png_path))
        return tuple(written)

    # ------------------------------------------------------------------ find and filter
    def filter_options(self) -> list[str]:
        """What the filter can keep bright: each class (by label), or each attribute present (binary runs)."""
        spec = self.label_spec
        return list(spec.names) if spec.is_multiclass else [f"{n} present" for n in spec.names]

    def set_filter(self, option: int | None) -> None:
        """Keep the points of filter option ``option`` bright and dim all others (None: no filter)."""
        option = None if option is None or int(option) < 0 else int(option)
        if option is not None and option >= len(self.filter_options()):
            raise IndexError(f"no filter option {option}")
        if option != self.filter:
            self.filter = option
            self.events.colouring.emit()

    def dimmed(self) -> np.ndarray:
        """[N] bool: points the filter dims (none without a filter)."""
        labels = self.run.latents.labels
        if self.filter is None:
            return np.zeros(len(labels), dtype=bool)
        if self.label_spec.is_multiclass:
            return labels != self.filter
        return ~(labels[:, self.filter] > 0.5)  # absent, or no label (NaN)

    def find(self, text: str) -> str:
        """The search box: a class or attribute name (also "class 7") selects its points; an image index ("#12",
        or a number that names no class) becomes A. Both maps centre on what was found. Returns a line saying what
        happened (also reported). On MNIST "7" is the class and "#7" the point."""
        raw = str(text).strip()
        if not raw or self.run is None:
            return ""
        names = [name.lower() for name in self.label_spec.names]
        query = raw.lower()
        for prefix in ("class ", "label "):
            if query.startswith(prefix) and query[len(prefix):].strip() in names:
                query = query[len(prefix):].strip()
        n = len(self.run.latents)
        index = raw.lstrip("#").strip()
        if (raw.startswith("#") or query not in names) and index.isdigit():
            i = int(index)
            if i >= n:
                return self._told(f"no point #{i}: this run has {n:,} points (#0 to #{n - 1})")
            self.select_a(i)
            self._centre(self._point_positions(i))
            return self._told(f"found #{i}: {self.point_label_text(i)}")
        if query not in names:
            return self._told(f"nothing called {raw!r}: type a point index (#12) or one of "
                              f"{', '.join(self.label_spec.names)}")
        k = names.index(query)
        labels = self.run.latents.labels
        members = np.flatnonzero(labels == k if self.label_spec.is_multiclass else labels[:, k] > 0.5)
        self.set_selected(members)
        if len(members) and self.maps is not None:
            self._centre({name: np.median(self.map_points(name)[members], axis=0) for name in MAP_NAMES})
        return self._told(f"selected the {len(members):,} points labelled {self.label_spec.names[k]}")

    def _centre(self, positions: dict) -> None:
        if self.maps is not None:
            self.events.centre.emit({k: np.asarray(v, dtype=np.float64) for k, v in positions.items()})

    def _told(self, text: str) -> str:
        self.report(text)
        return text

    def neighbours(self, i: int | None = None, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest points of point ``i`` (default A) in z_c (same characteristics, other styles) and in
        the style latent (same style, other characteristics), nearest first, the point itself left out."""
        from scipy.spatial import cKDTree

        i = self.a if i is None else int(i)
        if i < 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        lat = self.run.latents
        if self._neighbour_trees is None:
            self._neighbour_trees = {"zc": cKDTree(lat.z_c), "style": cKDTree(lat.z_style)}
        k = min(int(k), len(lat) - 1)
        found = []
        for name, latent in (("zc", lat.z_c), ("style", lat.z_style)):
            _, idx = self._neighbour_trees[name].query(latent[i], k=k + 1)
            idx = np.atleast_1d(idx)
            found.append(idx[idx != i][:k].astype(np.int64))
        return found[0], found[1]

    # ------------------------------------------------------------------ your own images
    def add_images(self, paths, polarity: str | None = None) -> list[AddedImage]:
        """Read, convert (explorer.own_images), encode and place image files as new points at the end. A file that
        is not a readable image raises ImageReadError naming it, before anything changes."""
        from explorer.own_images import Polarity, data_background, load_for_model

        if self.maps is None or self.maps.provisional:  # the UMAP maps replace the PCA ones point for point
            raise ValueError("the maps are not ready yet: add images once they are drawn")
        if self._data_background is None:  # the run's own images say which way round they are
            own = [i for i in range(min(64, len(self.run.latents))) if int(self.run.latents.split[i]) != ADDED_SPLIT]
            self._data_background = data_background([self.run.images[i] for i in own])
        x, inverted = load_for_model(list(paths), self.engine.image_shape, self._data_background,
                                     Polarity(polarity or self.add_polarity))
        return self.add_image_arrays(x, [Path(p).name for p in paths], inverted)

    def add_image_arrays(self, x: np.ndarray, names: list[str], inverted: list[bool] | None = None
                         ) -> list[AddedImage]:
        """float32 [M, C, H, W] images in the model's shape -> M new points: encoded, classified, placed on both
        maps among their nearest latents, usable as A or B. Returns what was added."""
        if self.maps is None or self.maps.provisional:  # the UMAP maps replace the PCA ones point for point
            raise ValueError("the maps are not ready yet: add images once they are drawn")
        new = self._append_images(x, names, inverted)
        self.events.points_added.emit()
        self.report("added " + "; ".join(f"#{a.index} {a.name}: {a.verdict}" + (" (inverted)" if a.inverted else "")
                                         for a in new))
        return new

    def _append_images(self, x: np.ndarray, names: list[str], inverted: list[bool] | None) -> list[AddedImage]:
        import torch

        from core.labels import UNLABELLED_CLASS
        from core.latents import Latents
        from core.projection import LatentMaps

        engine, lat = self.engine, self.run.latents
        x = np.ascontiguousarray(x, dtype=np.float32)
        self._added_pixels.extend(x)
        encoded = engine.encode(torch.from_numpy(x))
        z_c, z_s = encoded.z_c.cpu().numpy(), encoded.z_style.cpu().numpy()
        probs = engine.classify(encoded.z_c).cpu().numpy()
        m, start, first = len(x), len(lat), len(self.added)
        if self.label_spec.is_multiclass:
            labels = np.full(m, UNLABELLED_CLASS, dtype=lat.labels.dtype)
        else:
            labels = np.full((m,) + lat.labels.shape[1:], np.nan, dtype=np.float32)
        images = (x * 255).round().clip(0, 255).astype(np.uint8)
        self.run.latents = Latents(
            z_c=np.concatenate([lat.z_c, z_c]), z_style=np.concatenate([lat.z_style, z_s]),
            labels=np.concatenate([lat.labels, labels]), probs=np.concatenate([lat.probs, probs]),
            split=np.concatenate([lat.split, np.full(m, ADDED_SPLIT, dtype=lat.split.dtype)]),
            index=np.concatenate([lat.index, np.arange(first, first + m, dtype=lat.index.dtype)]),
            images=None if lat.images is None else np.concatenate([lat.images, images]))
        if not isinstance(self.run.images, _WithAdded):
            self.run.images = _WithAdded(self.run.images)
        from core.imaging import to_uint8

        for k in range(m):
            self.run.images.extra[start + k] = to_uint8(images[k])
        maps = self.maps  # the 2-D places of the new points: where the forward lookups put their latents
        self.maps = LatentMaps(zc=np.concatenate([maps.zc, self.forward["zc"](z_c)]).astype(
            maps.zc.dtype), style=np.concatenate([maps.style, self.forward["style"](z_s)]).astype(maps.style.dtype),
            key=maps.key, provisional=maps.provisional)  # provisional: a new epoch's PCA fallback (live view)
        if not maps.provisional:
            self.run.maps = self.maps
        inverted = list(inverted) if inverted is not None else [False] * m
        new = [AddedImage(start + k, str(names[k]), bool(inverted[k]), self.prediction_text(probs[k]))
               for k in range(m)]
        self.added.extend(new)
        self._neighbour_trees = None
        return new

    def report(self, text: str) -> None:
        """A non-fatal note for a status bar (exports written, errors that do not stop anything)."""
        self.events.message.emit(str(text))


class _WithAdded:
    """The run's point images, then the added images (by point index)."""

    def __init__(self, base):
        self.base = base
        self.extra: dict[int, np.ndarray] = {}

    def __getitem__(self, i):
        i = int(i)
        return self.extra[i] if i in self.extra else self.base[i]

    def __getattr__(self, name):  # anything else the run's images offer
        return getattr(self.base, name)


def _replace(value, **changes):
    from dataclasses import replace

    return replace(value, **changes)
