"""The explorer's one source of truth: the loaded run, its maps, the selection and the current latent.

Widgets never talk to each other: they call methods here and redraw on the signals. Latents are numpy
(z_c [Dc], z_style [Ds]); images are uint8 [H, W] (grey) or [H, W, 3].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PyQt6.QtCore import QObject, pyqtSignal

from core.projection import InverseMap, LatentMaps

from explorer.imaging import to_uint8
from explorer.placement import ForwardMap
from explorer.rundata import RunData

MAP_NAMES = ("zc", "style")  # the two maps: of the characteristic latent z_c and of the style latent


@dataclass
class Intervention:
    """A swapped, flipped or transferred latent and how it came about."""

    kind: str                 # "swap", "flip" or "transfer"
    description: str          # e.g. "3 -> 8"
    source: int               # point index whose latent was changed (A)
    z_c: np.ndarray
    z_style: np.ndarray
    image: np.ndarray         # decoded result
    probs: np.ndarray         # the classifier on the result image: q(y|z_c) of the re-encoded decoded image
    positions: dict           # map name -> (x, y) where the result lands, or None without maps


def class_stats(z_c: np.ndarray, groups: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of z_c [N, D] within each of ``count`` groups (integer or boolean [N]): two
    [count, D] arrays. The groups are the classifier's verdicts, so a point moved to a group's statistics lands
    where the classifier sees that class. A group with fewer than two points gets the overall statistics;
    spreads are floored so nothing divides by zero."""
    groups = np.asarray(groups).astype(np.int64)
    loc = np.tile(z_c.mean(axis=0), (count, 1))
    scale = np.tile(z_c.std(axis=0), (count, 1))
    for g in range(count):
        members = z_c[groups == g]
        if len(members) >= 2:
            loc[g], scale[g] = members.mean(axis=0), members.std(axis=0)
    return loc.astype(np.float32), np.maximum(scale, 1e-3).astype(np.float32)


class ExplorerState(QObject):
    runLoaded = pyqtSignal()                 # a run was opened; maps may still be missing
    mapsReady = pyqtSignal()                 # maps (and the fast 2-D <-> latent maps) are available
    hoverChanged = pyqtSignal(int)           # point under the mouse, -1 for none
    selectionChanged = pyqtSignal(int, int)  # points A and B, -1 for none
    latentChanged = pyqtSignal(str)          # the current latent moved; the argument says who moved it
    interventionChanged = pyqtSignal()
    colourByChanged = pyqtSignal(int)        # binary labels: which attribute colours the maps
    pathChanged = pyqtSignal()               # an interpolation path to draw on the maps (or none)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.run: RunData | None = None
        self.maps: LatentMaps | None = None
        self.inverse: dict[str, InverseMap] = {}
        self.forward: dict[str, ForwardMap] = {}
        self.hover = -1
        self.a = -1
        self.b = -1
        self.colour_by = 0
        self.z_c: np.ndarray | None = None
        self.z_style: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.probs: np.ndarray | None = None
        self.positions: dict[str, np.ndarray | None] = {name: None for name in MAP_NAMES}
        self.intervention: Intervention | None = None
        self.path: dict[str, np.ndarray] | None = None  # map name -> [T, 2] path of the current interpolation

    # ------------------------------------------------------------------ loading
    @property
    def engine(self):
        return self.run.engine if self.run is not None else None

    @property
    def latents(self):
        return self.run.latents if self.run is not None else None

    def load(self, run: RunData) -> None:
        self.run = run
        self.maps, self.inverse, self.forward = None, {}, {}
        self.hover, self.a, self.b, self.colour_by = -1, -1, -1, 0
        self.intervention = None
        self.path = None
        self.runLoaded.emit()
        if run.maps is not None:
            self.set_maps(run.maps)
        self.select(0)

    def set_maps(self, maps: LatentMaps) -> None:
        lat = self.run.latents
        if len(maps.zc) != len(lat):
            raise ValueError(f"maps of {len(maps.zc)} points for {len(lat)} latents")
        self.maps = maps
        self.run.maps = maps
        for name, latent in (("zc", lat.z_c), ("style", lat.z_style)):
            points = self.map_points(name)
            self.inverse[name] = InverseMap(points, latent, k=8)
            self.forward[name] = ForwardMap(latent, points, k=8)
        self._place_current()
        if self.intervention is not None:
            self.intervention.positions = self.place(self.intervention.z_c, self.intervention.z_style)
        self.mapsReady.emit()
        if self.z_c is not None:
            self.latentChanged.emit("maps")

    def map_points(self, name: str) -> np.ndarray:
        """[N, 2] coordinates of every point on map ``name``."""
        return self.maps.zc if name == "zc" else self.maps.style

    # ------------------------------------------------------------------ points
    def point_label_text(self, i: int) -> str:
        spec, labels = self.run.label_spec, self.run.latents.labels
        if spec.is_multiclass:
            return spec.names[int(labels[i])]
        on = [n for n, v in zip(spec.names, labels[i]) if v > 0.5]
        return ", ".join(on) if on else "(none)"

    def prediction_text(self, probs: np.ndarray) -> str:
        spec = self.run.label_spec
        if spec.is_multiclass:
            k = int(np.argmax(probs))
            return f"{spec.names[k]} ({probs[k]:.2f})"
        on = [n for n, p in zip(spec.names, probs) if p > 0.5]
        return ", ".join(on) if on else "(none)"

    def set_hover(self, i: int) -> None:
        i = int(i)
        if i != self.hover:
            self.hover = i
            self.hoverChanged.emit(i)

    def select(self, i: int, slot: str = "a") -> None:
        """Choose point ``i`` as A (the current latent jumps to it) or as B (the second end for paths/transfer)."""
        i = int(i)
        if slot == "b":
            self.b = i
        else:
            self.a = i
            lat = self.run.latents
            positions = {name: (self.map_points(name)[i] if self.maps is not None else None) for name in MAP_NAMES}
            self.set_latent(lat.z_c[i], lat.z_style[i], "select", positions)
        self.selectionChanged.emit(self.a, self.b)

    def colour_labels(self) -> np.ndarray:
        """[N] integer colour group of every point: its class, or 0/1 for the chosen binary attribute."""
        labels = self.run.latents.labels
        if self.run.label_spec.is_multiclass:
            return labels.astype(np.int64)
        return (labels[:, self.colour_by] > 0.5).astype(np.int64)

    def set_colour_by(self, attribute: int) -> None:
        if attribute != self.colour_by:
            self.colour_by = int(attribute)
            self.colourByChanged.emit(self.colour_by)

    # ------------------------------------------------------------------ the current latent
    def decode(self, z_c: np.ndarray, z_style: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Batch [M, Dc], [M, Ds] -> images uint8 [M, H, W(, 3)], probabilities [M, K]."""
        engine = self.run.engine
        z_c = torch.from_numpy(np.ascontiguousarray(z_c, dtype=np.float32).reshape(-1, engine.zc_dim))
        z_s = torch.from_numpy(np.ascontiguousarray(z_style, dtype=np.float32).reshape(-1, engine.style_dim))
        return to_uint8(engine.decode(z_c, z_s)), engine.classify(z_c).cpu().numpy()

    def place(self, z_c: np.ndarray, z_style: np.ndarray) -> dict:
        """Where latent (z_c, z_style) lands on each map; None per map while maps are missing."""
        if self.maps is None:
            return {name: None for name in MAP_NAMES}
        return {"zc": self.forward["zc"](np.asarray(z_c)), "style": self.forward["style"](np.asarray(z_style))}

    def set_latent(self, z_c, z_style, source: str, positions: dict | None = None) -> None:
        """Make (z_c, z_style) the current latent, decode it and classify it; positions default to ``place``."""
        self.z_c = np.asarray(z_c, dtype=np.float32).reshape(-1).copy()
        self.z_style = np.asarray(z_style, dtype=np.float32).reshape(-1).copy()
        images, probs = self.decode(self.z_c, self.z_style)
        self.image, self.probs = images[0], probs[0]
        self.positions = positions if positions is not None else self.place(self.z_c, self.z_style)
        self.latentChanged.emit(source)

    def _place_current(self) -> None:
        if self.z_c is None:
            return
        if 0 <= self.a < len(self.run.latents) and np.array_equal(self.z_c, self.run.latents.z_c[self.a]) \
                and np.array_equal(self.z_style, self.run.latents.z_style[self.a]):
            self.positions = {name: self.map_points(name)[self.a] for name in MAP_NAMES}
        else:
            self.positions = self.place(self.z_c, self.z_style)

    def drag(self, name: str, xy) -> None:
        """The handle on map ``name`` moved to ``xy``: move through that latent, hold the other block."""
        if name not in self.inverse:
            return
        xy = np.asarray(xy, dtype=np.float64)
        latent = self.inverse[name](xy)
        positions = dict(self.positions)
        positions[name] = xy
        if name == "zc":
            self.set_latent(latent, self.z_style, name, positions)
        else:
            self.set_latent(self.z_c, latent, name, positions)

    # ------------------------------------------------------------------ interventions
    def _intervene(self, kind: str, description: str, z_c, z_style) -> Intervention:
        z_c = np.asarray(z_c, dtype=np.float32).reshape(-1)
        z_style = np.asarray(z_style, dtype=np.float32).reshape(-1)
        engine = self.run.engine
        decoded = engine.decode(torch.from_numpy(z_c[None]), torch.from_numpy(z_style[None]))
        # the verdict is on the image the user sees: re-encode it. A linear classifier read straight off the moved
        # z_c extrapolates wherever the encoder's clusters sit beyond the prior means, and can disagree with the
        # picture (a swapped 6 -> 0 that decodes as a clear 0 but reads as "6" at z_c').
        probs = engine.classify(engine.encode(decoded).z_c).cpu().numpy()
        images = to_uint8(decoded)
        self.intervention = Intervention(kind, description, self.a, z_c, z_style, images[0], probs[0],
                                         self.place(z_c, z_style))
        self.interventionChanged.emit()
        return self.intervention

    def prior_agreement(self) -> float:
        """Share of classes whose learned prior mean the classifier assigns to that class (multi-class runs; 1.0
        for binary ones). A low share means swaps through p(z_c|y) will not land where the classifier agrees."""
        engine = self.run.engine
        if not engine.label_spec.is_multiclass:
            return 1.0
        classes = torch.arange(engine.label_spec.size)
        loc, _ = engine.prior(classes)
        return float((engine.predict(loc).cpu() == classes).float().mean())

    def swap(self, target: int, using: str = "prior") -> Intervention:
        """Multi-class: move A's z_c from its predicted class to ``target``, keeping its place in the class and
        its style. ``using="prior"``: the learned p(z_c|y) (the paper's swap); ``"data"``: the mean and spread of
        the encoded points the classifier puts in each class (``class_stats``), which works even where the
        learned prior fits the encoder's clusters poorly."""
        engine, lat = self.run.engine, self.run.latents
        z_c = torch.from_numpy(lat.z_c[self.a][None])
        source, target = int(engine.predict(z_c)[0]), int(target)
        if using == "data":
            loc, scale = class_stats(lat.z_c, lat.probs.argmax(axis=1), engine.label_spec.size)
            swapped = loc[target] + scale[target] * (lat.z_c[self.a] - loc[source]) / scale[source]
        else:
            swapped = engine.swap_label(z_c, source, target).cpu().numpy()
        names = engine.label_spec.names
        return self._intervene("swap", f"{names[source]} \u2192 {names[target]}", swapped, lat.z_style[self.a])

    def flip(self, attribute: int, using: str = "prior") -> Intervention:
        """Binary attributes: flip one attribute of A (the classifier's verdict), the others kept; ``using`` as
        in ``swap`` (with "data", only z_c[attribute] moves, between the encoded points with and without it)."""
        engine, lat = self.run.engine, self.run.latents
        attribute = int(attribute)
        z_c = torch.from_numpy(lat.z_c[self.a][None])
        before = float(engine.classify(z_c)[0, attribute])
        if using == "data":
            loc, scale = class_stats(lat.z_c[:, attribute:attribute + 1], lat.probs[:, attribute] > 0.5, 2)
            src, dst = int(before > 0.5), int(before <= 0.5)
            flipped = lat.z_c[self.a].copy()
            flipped[attribute] = loc[dst, 0] + scale[dst, 0] * (flipped[attribute] - loc[src, 0]) / scale[src, 0]
        else:
            flipped = engine.flip_attribute(z_c, attribute).cpu().numpy()
        name = engine.label_spec.names[attribute]
        verb = "remove" if before > 0.5 else "add"
        return self._intervene("flip", f"{verb} {name}", flipped, lat.z_style[self.a])

    def transfer(self) -> Intervention:
        """Characteristic transfer: z_c of B with the style of A."""
        if self.b < 0:
            raise ValueError("choose a second point B first (shift-click on a map)")
        lat = self.run.latents
        z_c, z_style = self.run.engine.transfer(lat.z_c[self.b], lat.z_style[self.a])
        return self._intervene("transfer", f"z_c of #{self.b} with the style of #{self.a}", z_c, z_style)

    # ------------------------------------------------------------------ paths and walks
    def interpolation(self, mode: str, steps: int) -> dict:
        """Path from A to B: {'z_c' [T, Dc], 'z_style' [T, Ds], 'images' uint8 [T, H, W(, 3)], 'probs', 'positions'}."""
        if self.a < 0 or self.b < 0:
            raise ValueError("choose two points: A (click) and B (shift-click)")
        lat = self.run.latents
        z_c, z_s = self.run.engine.interpolate((lat.z_c[self.a], lat.z_style[self.a]),
                                               (lat.z_c[self.b], lat.z_style[self.b]), steps=steps, mode=mode)
        z_c, z_s = z_c.cpu().numpy(), z_s.cpu().numpy()
        images, probs = self.decode(z_c, z_s)
        positions = [self.place(zc, zs) for zc, zs in zip(z_c, z_s)]
        return {"z_c": z_c, "z_style": z_s, "images": images, "probs": probs, "positions": positions}

    def set_path(self, positions: list[dict] | None) -> None:
        """Show an interpolation path (a list of ``place`` results) on the maps, or hide it with None."""
        if positions is None or self.maps is None or not positions:
            self.path = None
        else:
            self.path = {name: np.array([p[name] for p in positions]) for name in MAP_NAMES}
        self.pathChanged.emit()

    def walk(self, steps: int = 9, margin: float = 5.0) -> np.ndarray:
        """Latent walk of the current latent along each z_c dimension: uint8 [Dc, steps, H, W(, 3)]."""
        engine = self.run.engine
        rows = []
        for d in range(engine.zc_dim):
            path = engine.latent_walk(torch.from_numpy(self.z_c), d, steps=steps, margin=margin).cpu().numpy()
            rows.append(self.decode(path, np.repeat(self.z_style[None], steps, axis=0))[0])
        return np.stack(rows)
