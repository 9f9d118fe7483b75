"""The picture of each map point of a run, wherever it can be found: in ``latents.npz`` (small images are stored
whole), in the run's data set (full resolution), or in the thumbnails ``latents.npz`` keeps of larger images.

A run whose data folder was moved away, or a run copied to another machine, still shows every point (from its
thumbnails); ``problem`` then says once, in one line, why full images are missing, and ``relocate`` points the
run at the folder's new place. Nothing here raises on a missing data set. Qt-free: the explorer uses it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.latents import SPLIT_NAMES, Latents


def _hwc(image: np.ndarray) -> np.ndarray:
    """uint8 [C, H, W] -> [H, W] (grey) or [H, W, 3]."""
    return image[0] if image.shape[0] == 1 else np.ascontiguousarray(image.transpose(1, 2, 0))


def relocated_config(data_config: dict, new_dir: str | Path) -> dict:
    """The data settings with the data folder moved to ``new_dir``; a label CSV that sat in the old folder (or
    cannot be found any more) is looked for at the same place in the new one."""
    new_dir = Path(new_dir).expanduser().resolve()
    config = {**data_config, "data_dir": str(new_dir)}
    csv = data_config.get("labels_csv")
    if csv:
        old_dir = data_config.get("data_dir")
        try:
            config["labels_csv"] = str(new_dir / Path(csv).relative_to(old_dir)) if old_dir else str(csv)
        except ValueError:  # the CSV lived elsewhere: keep it if it is still there
            if not Path(csv).is_file():
                config["labels_csv"] = str(new_dir / Path(csv).name)
    return config


class PointImages:
    """uint8 image [H, W] or [H, W, 3] of each point: ``images[i]``.

    Full images come from ``latents.images`` when the run stored them, else from the data set (loaded once, on
    first use). When the data set cannot be loaded, the thumbnails stand in and ``problem`` holds the reason.
    """

    def __init__(self, latents: Latents, data_config: dict, expected_counts: dict | None = None,
                 image_shape: tuple[int, int, int] = (1, 28, 28)):
        self._latents = latents
        self._image_shape = tuple(int(v) for v in image_shape)
        self.data_config = dict(data_config)
        self._expected = expected_counts or {}
        self._splits = None
        self.problem: str | None = None  # one line: why full images are not available (None: they are, or unknown)
        self._tried = False

    @property
    def stored(self) -> bool:
        """True when every full image is inside the run folder (no data set is ever needed)."""
        return self._latents.images is not None or self._thumbnails_are_full()

    def _thumbnails_are_full(self) -> bool:
        thumbs = self._latents.thumbnails
        return thumbs is not None and tuple(thumbs.shape[1:]) == self._image_shape

    @property
    def has_thumbnails(self) -> bool:
        return self._latents.thumbnails is not None

    def needs_data(self) -> bool:
        return not self.stored

    def __len__(self) -> int:
        return len(self._latents)

    def __getitem__(self, i: int) -> np.ndarray:
        i = int(i)
        if self._latents.images is not None:
            return _hwc(self._latents.images[i])
        if self._thumbnails_are_full():  # small enough that the thumbnails kept the images' own size
            return _hwc(self._latents.thumbnails[i])
        full = self.full(i)
        if full is not None:
            return full
        if self._latents.thumbnails is not None:
            return _hwc(self._latents.thumbnails[i])
        # a run written before thumbnails existed, without its data: a mid-grey placeholder of the model's size
        return np.full(self._placeholder_shape(), 128, dtype=np.uint8)

    def full(self, i: int) -> np.ndarray | None:
        """The full-resolution image of point ``i`` from the data set, or None when it cannot be had."""
        if self._latents.images is not None:
            return _hwc(self._latents.images[int(i)])
        splits = self._load()
        if splits is None:
            return None
        from core.data import DataError

        part = getattr(splits, SPLIT_NAMES[int(self._latents.split[i])])
        try:
            images, _ = part.get_batch(np.array([self._latents.index[i]]))
        except DataError as e:  # one file gone or damaged: say so, show the thumbnail
            self.problem = str(e)
            return None
        return _hwc((images[0] * 255).round().clamp(0, 255).byte().numpy())

    def _load(self):
        if self._splits is not None or self._tried:
            return self._splits
        self._tried = True
        from core.data import DataConfig, DataError, load_data

        try:
            splits = load_data(DataConfig(**self.data_config), check_images=False)
        except (DataError, OSError, TypeError, ValueError) as e:
            self.problem = f"full images unavailable, the run's data cannot be read: {e}"
            return None
        mismatch = self._mismatch(splits)
        if mismatch:
            self.problem = f"full images unavailable: {mismatch}"
            return None
        self._splits = splits
        self.problem = None
        return splits

    def _mismatch(self, splits) -> str | None:
        """Why ``splits`` is not the data this run was trained on, or None."""
        for sid, name in enumerate(SPLIT_NAMES):
            needed = self._latents.index[self._latents.split == sid]
            size = len(getattr(splits, name))
            if len(needed) and int(needed.max()) >= size:
                return f"the data's {name} split has {size} images, the run's points need more"
            counted = self._expected.get(name, {}).get("images")
            if counted is not None and name != "train" and counted != size:
                return f"the data's {name} split has {size} images, the run's had {counted}"
        return None

    def relocate(self, new_dir: str | Path) -> str | None:
        """Read the data from ``new_dir`` from now on; returns None when it works, else the one-line reason (the
        previous setting is kept then)."""
        previous = (self.data_config, self._splits, self._tried, self.problem)
        self.data_config = relocated_config(self.data_config, new_dir)
        self._splits, self._tried = None, False
        if self._load() is None:
            reason = self.problem
            self.data_config, self._splits, self._tried, self.problem = previous
            return reason
        return None

    def _placeholder_shape(self) -> tuple[int, ...]:
        c, h, w = self._image_shape
        return (h, w) if c == 1 else (h, w, 3)
