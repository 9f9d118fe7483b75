"""One invariant across all the explorer's panels: each describes the model's current state, nothing older.

Used by the offscreen tests and by the real-screen script (tests/screen_session.py). ``check(window)`` returns a
list of what disagrees (empty when every panel is right).
"""
from __future__ import annotations

import re

import numpy as np
from PyQt6.QtWidgets import QLabel

from explorer.model import Origin


def _same(image, expected) -> bool:
    if image is None or expected is None:
        return image is None and expected is None
    return np.array_equal(image, expected)


def check(window) -> list[str]:
    m, bad = window.model, []
    c = m.current
    side, swap, anim, walks = window.image_panel, window.swap_panel, window.animation_panel, window.walk_panel
    # the side panel: the current latent, A and B
    if c is not None:
        if not _same(side.decoded.array, c.image):
            bad.append("side panel: decoded image is not the current latent's")
        if m.current_text() not in side.decoded_caption.text():
            bad.append(f"side panel caption {side.decoded_caption.text()!r} does not say {m.current_text()!r}")
    for slot, i, view in (("A", m.a, side.a_image), ("B", m.b, side.b_image)):
        if not _same(view.array, m.run.images[i] if i >= 0 else None):
            bad.append(f"side panel: image of {slot} is not point {i}")
    # the swap panel
    r = m.intervention
    if not _same(swap.result.array, r.image if r is not None else None):
        bad.append("swap panel: result image is not the model's intervention")
    if swap.use_button.isEnabled() != (r is not None):
        bad.append("swap panel: 'make it current' enabled without an intervention (or the reverse)")
    if not _same(swap.other.array, m.run.images[m.b] if m.b >= 0 else None):
        bad.append("swap panel: B image is not B")
    # the interpolation panel
    path = m.interpolation
    if (anim.preview.array is None) != (path is None):
        bad.append("interpolate panel: frames shown without a path of the current A and B (or the reverse)")
    # the walk panel says whether its walk is of the current latent
    if m.walk is not None and not m.walk_is_current and "earlier" not in walks.caption.text():
        bad.append("walk panel: a walk of an earlier latent is not marked as such")
    if m.walk is not None and not _same(walks.grid, m.walk.images):
        bad.append("walk panel: grid is not the model's walk")
    # the maps
    for name, view in window.maps.items():
        if m.maps is None:
            continue
        rings = view.selection_item.data
        if len(rings) != (m.a >= 0) + (m.b >= 0):
            bad.append(f"{name} map: {len(rings)} selection rings for A={m.a}, B={m.b}")
        if (len(view.intervention_item.data) > 0) != (r is not None):
            bad.append(f"{name} map: intervention star disagrees with the model")
        if (len(view.path_item.xData if view.path_item.xData is not None else []) > 0) != (path is not None):
            bad.append(f"{name} map: interpolation path disagrees with the model")
        if c is not None and not (c.origin is Origin.DRAG and c.dragging):
            p = view.handle.pos()
            if np.linalg.norm(np.array([p.x(), p.y()]) - np.asarray(c.positions[name])) > 1e-4:
                bad.append(f"{name} map: the handle is not on the current latent")
    # every "A #n" / "B #n" any visible label shows is the current A / B (the walk of an earlier latent excepted)
    for label in window.findChildren(QLabel):
        if not label.isVisibleTo(window) or (label is walks.caption and not m.walk_is_current):
            continue
        text = label.text()
        for slot, i in (("A", m.a), ("B", m.b)):
            for n in re.findall(rf"\b{slot} #(\d+)", text):
                if int(n) != i:
                    bad.append(f"label {text[:60]!r} names {slot} #{n}, the model's {slot} is {i}")
    return bad
