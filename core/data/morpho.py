"""``mnist5k-morpho``: the 5,000 embedded digits labelled with five binary morphology attributes.

Each digit is measured by ``core.morphometry`` (stroke thickness, slant, width, height, area) and each
measurement is cut at its median over the *training* split, so every attribute is on for half of the training
images (the ratio on validation and test is close to a half):

    thick    thickness > median (about 2.2 px)      slanted  slant > median (about 8 degrees, leaning right)
    wide     width > median (about 15.3 px)         tall     height > median (about 19.9 px)
    large    area > median (about 90 ink pixels)

The digit's class is left out of the labels on purpose. The project's labels are either one multi-class label or
independent binary attributes, not both, and a one-hot class as ten binary attributes would let the model
generate "a 3 and a 7 at once". More to the point, leaving it out is what makes the interventions testable: the
class lives in the style latent, so flipping "thick" must thicken the stroke and leave the digit what it was,
and the measures (``core.morpho_measures``) check exactly that with a judge trained on the digit classes. The
attributes do depend on the class (a 1 is rarely wide), as smiling depends on other things in faces.

``tall`` is the weakest attribute: MNIST scaled every digit to fit a 20 x 20 box, so most digits are 19-20 px
tall whatever they show; the cut at 19.9 px separates digits whose top and bottom end in dark ink at the edges of
that box from shorter or fainter-ended ones. The continuous measurements are kept for every image
(``morpho_table``), so the measures report heights in pixels.

The split is mnist5k's (fixed, stratified by digit, 4,000 / 500 / 500). The measurements are computed once (a few
seconds) and cached under the user's cache folder, keyed by the SHA-1 of the image data and the morphometry
version, written atomically; a damaged cache file is recomputed.
"""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core import morphometry
from core.atomic import atomic_write_bytes
from core.data.errors import DataError
from core.data.imageset import TensorImageSet
from core.data.mnist5k import ASSET_PATH, SPLIT_FRACTIONS, SPLIT_SEED, load_mnist5k
from core.data.splits import stratified_split
from core.labels import BINARY, LabelSpec

DATASET = "mnist5k-morpho"
# attribute name -> the measurement it cuts at the training median, in label order
ATTRIBUTES = (("thick", "thickness"), ("slanted", "slant"), ("wide", "width"), ("tall", "height"), ("large", "area"))
MORPHO_SPEC = LabelSpec(BINARY, tuple(a for a, _ in ATTRIBUTES))
MORPHOMETRY_VERSION = 1  # part of the cache key: bump when a measurement's definition changes


@dataclass
class MorphoTable:
    """The measurements of all 5,000 digits and how they become attributes.

    measurements: float64 [N, 5], columns in ``measurement_names`` order (ATTRIBUTES' measurements), rows in the
        order of assets/mnist5k.npz; digits: int64 [N] classes; train / val / test: index arrays of the split.
    thresholds: [5] training medians; spread: [5] standard deviation over the training split (the unit in which
        the measures say how far an intervention moved a measurement).
    """

    measurements: np.ndarray
    digits: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    thresholds: np.ndarray
    spread: np.ndarray

    attribute_names = tuple(a for a, _ in ATTRIBUTES)
    measurement_names = tuple(m for _, m in ATTRIBUTES)

    def attributes(self, measurements: np.ndarray | None = None) -> np.ndarray:
        """0/1 float32 [N, 5]: measurement above its threshold (NaN, an unmeasurable image, counts as 0)."""
        m = self.measurements if measurements is None else np.asarray(measurements)
        with np.errstate(invalid="ignore"):
            return (m > self.thresholds).astype(np.float32)


def cache_dir() -> Path:
    """$CCVAE_CACHE_DIR, else $XDG_CACHE_HOME/ccvae-explorer, else ~/.cache/ccvae-explorer."""
    if os.environ.get("CCVAE_CACHE_DIR"):
        return Path(os.environ["CCVAE_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "ccvae-explorer"


def _measure_cached(images: np.ndarray) -> np.ndarray:
    """float64 [N, 5] measurements of uint8 images [N, 28, 28], from the cache when it holds these images."""
    digest = hashlib.sha1(images.tobytes() + f"|{images.shape}|v{MORPHOMETRY_VERSION}".encode()).hexdigest()[:16]
    path = cache_dir() / f"morphometry-{digest}.npz"
    names = [m for _, m in ATTRIBUTES]
    if path.is_file():
        try:
            with np.load(path) as cached:
                values = cached["measurements"]
                if values.shape == (len(images), len(names)) and list(cached["names"]) == names:
                    return values
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # a damaged cache (a truncated .npz is a broken zip) is recomputed and replaced
    try:
        values = morphometry.as_matrix(morphometry.measure(images, blank="raise"))
    except morphometry.BlankImageError as e:
        raise DataError(f"{DATASET}: {e}") from None
    values = values[:, [morphometry.MEASUREMENTS.index(n) for n in names]]
    buf = io.BytesIO()
    np.savez(buf, measurements=values, names=np.array(names))
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError:
        pass  # a read-only home still works, only slower
    return values


def morpho_table(path: Path = ASSET_PATH) -> MorphoTable:
    """Measure (or read from the cache) every embedded digit and settle the thresholds on the training split."""
    load_mnist5k(path)  # checks the archive and says what is wrong with it
    with np.load(path) as archive:
        images, digits = archive["images"], archive["labels"].astype(np.int64)
    train, val, test = stratified_split(digits, SPLIT_FRACTIONS, SPLIT_SEED)
    values = _measure_cached(images)
    thresholds = np.median(values[train], axis=0)
    spread = values[train].std(axis=0)
    return MorphoTable(values, digits, train, val, test, thresholds, spread)


def load_mnist5k_morpho(path: Path = ASSET_PATH
                        ) -> tuple[TensorImageSet, TensorImageSet, TensorImageSet, LabelSpec]:
    """mnist5k's split, labelled with the five attributes (float32 [N, 5] of 0/1) instead of the digit."""
    table = morpho_table(path)
    with np.load(path) as archive:
        images = torch.from_numpy(archive["images"]).unsqueeze(1)
    labels = torch.from_numpy(table.attributes())
    full = TensorImageSet(images, labels)
    return full.subset(table.train), full.subset(table.val), full.subset(table.test), MORPHO_SPEC
