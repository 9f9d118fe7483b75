"""Your own PNG or JPEG files turned into images the run's model takes (Qt-free).

Each file is read with Pillow (EXIF rotation applied, transparency laid on white), made grey or RGB as the model
wants, and resized with its aspect kept into the model's height x width, the rest filled with the picture's own
background. Polarity: a digit drawn black on white is inverted for a model trained on white-on-black digits.
``Polarity.AUTO`` compares the picture's border with the border of the run's own images; KEEP and INVERT force it.
For grey models whose images are dark with a bright subject (MNIST-like) the subject is cropped to its bounding box
and fitted into the central 20/28 of the frame, as MNIST centred its digits; other images are fitted whole.
"""
from __future__ import annotations

import enum
from pathlib import Path

import numpy as np

from core.errors import CCVAEError

SUBJECT_SHARE = 20 / 28  # an MNIST digit fills the central 20 of 28 pixels


class ImageReadError(CCVAEError):
    """A file that is not a readable image; the message is one line naming it."""


class Polarity(enum.Enum):
    AUTO = "auto"      # invert when the picture's background and the run's disagree (grey models)
    KEEP = "keep"
    INVERT = "invert"


def read_image(path) -> np.ndarray:
    """float32 [H, W, 3] in [0, 1] of an image file; raises ImageReadError with one line."""
    from PIL import Image, UnidentifiedImageError

    from core.imaging import as_seen, pixels

    path = Path(path)
    try:
        with Image.open(path) as image:
            rgb = pixels(as_seen(image, 3), 3)  # as training reads its images (core.imaging)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: a folder, not an image file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageReadError(f"{path}: not a readable image ({type(e).__name__})") from None
    if rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise ImageReadError(f"{path}: an image of {rgb.shape[1]}x{rgb.shape[0]} pixels is too small")
    return rgb


def _border(image: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels [M(, C)]."""
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def data_background(images) -> float:
    """Mean border brightness in [0, 1] of some of the run's own images (uint8 [H, W(, 3)])."""
    values = [float(_border(np.asarray(im, dtype=np.float32)).mean()) / 255.0 for im in images]
    return float(np.mean(values)) if values else 0.0


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    channels = [Image.fromarray(image[..., c].astype(np.float32), mode="F").resize((width, height), Image.LANCZOS)
                for c in range(image.shape[2])]
    return np.clip(np.stack([np.asarray(c) for c in channels], axis=-1), 0.0, 1.0)


def _fit(image: np.ndarray, height: int, width: int, box_h: int, box_w: int, fill) -> np.ndarray:
    """``image`` [h, w, C] scaled with its aspect kept to fit box_h x box_w, centred on a height x width canvas."""
    h, w = image.shape[:2]
    scale = min(box_h / h, box_w / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = _resize(image, new_w, new_h)
    canvas = np.empty((height, width, image.shape[2]), dtype=np.float32)
    canvas[:] = fill
    top, left = (height - new_h) // 2, (width - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = small
    return canvas


def to_model_image(rgb: np.ndarray, shape, background: float, polarity: Polarity = Polarity.AUTO
                   ) -> tuple[np.ndarray, bool]:
    """float [H, W, 3] picture -> (float32 [C, H, W] in [0, 1] for a model of ``shape`` (C, H, W), inverted?).

    ``background``: the run's own mean border brightness (``data_background``)."""
    channels, height, width = (int(v) for v in shape)
    image = rgb.mean(axis=-1, keepdims=True) if channels == 1 else rgb
    own_background = float(_border(image).mean())
    if Polarity(polarity) is Polarity.AUTO:
        invert = channels == 1 and (own_background > 0.5) != (background > 0.5)
    else:
        invert = Polarity(polarity) is Polarity.INVERT
    if invert:
        image = 1.0 - image
        own_background = 1.0 - own_background
    fill = np.median(_border(image), axis=0)
    if channels == 1 and background <= 0.5:  # a bright subject on dark: crop to it, centre it as MNIST did
        ink = image[..., 0] - float(fill[0])
        rows, cols = np.flatnonzero((ink > 0.25 * max(ink.max(), 1e-6)).any(axis=1)), \
            np.flatnonzero((ink > 0.25 * max(ink.max(), 1e-6)).any(axis=0))
        if len(rows) and len(cols):
            image = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        box_h, box_w = max(1, round(height * SUBJECT_SHARE)), max(1, round(width * SUBJECT_SHARE))
        out = _fit(image, height, width, box_h, box_w, fill)
    else:
        out = _fit(image, height, width, height, width, fill)
    return np.moveaxis(out, -1, 0).astype(np.float32), bool(invert)


def load_for_model(paths, shape, background: float, polarity: Polarity = Polarity.AUTO
                   ) -> tuple[np.ndarray, list[bool]]:
    """Every file read and converted, or ImageReadError on the first that cannot be (then nothing is returned):
    (float32 [M, C, H, W], inverted per image)."""
    converted = [to_model_image(read_image(p), shape, background, polarity) for p in paths]
    if not converted:
        raise ImageReadError("no image files given")
    return np.stack([c[0] for c in converted]), [c[1] for c in converted]
