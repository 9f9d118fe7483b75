"""Where a new latent lands on a 2-D map, without refitting UMAP: the forward twin of core's ``InverseMap``.

A swapped, transferred or interpolated latent has no map coordinates of its own. ``ForwardMap`` places it by
inverse-distance weighting of the map coordinates of its k nearest encoded latents (a k-d tree in latent
space), so it lands among the points it resembles. Qt-free.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


class ForwardMap:
    def __init__(self, latents: np.ndarray, points_2d: np.ndarray, k: int = 8):
        """latents: [N, D]; points_2d: [N, 2], the map coordinates of those latents."""
        self._latents = np.asarray(latents, dtype=np.float64)
        self._points = np.asarray(points_2d, dtype=np.float64)
        if len(self._latents) != len(self._points) or len(self._points) == 0:
            raise ValueError("ForwardMap needs as many (at least one) latents as map points")
        self.k = max(1, min(int(k), len(self._points)))
        self._tree = cKDTree(self._latents)

    def __call__(self, latent) -> np.ndarray:
        """latent [D] -> (x, y) [2]; or [M, D] -> [M, 2]."""
        z = np.asarray(latent, dtype=np.float64)
        single = z.ndim == 1
        dist, idx = self._tree.query(z.reshape(-1, self._latents.shape[1]), k=self.k)
        dist, idx = dist.reshape(len(idx), self.k), idx.reshape(len(idx), self.k)
        with np.errstate(divide="ignore"):
            w = 1.0 / np.square(dist)
        exact = dist <= 1e-12
        rows = exact.any(axis=1)
        w[rows] = exact[rows]
        w /= w.sum(axis=1, keepdims=True)
        out = np.einsum("mk,mkd->md", w, self._points[idx])
        return out[0] if single else out
