"""A small test face for the export tests: vertices in a random order, non-trivial motion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import ConvexHull


def sphere_mesh(n_verts: int) -> tuple[np.ndarray, np.ndarray]:
    """Fibonacci points on the unit sphere and their convex hull triangles (V, 3), (F, 3)."""
    i = np.arange(n_verts) + 0.5
    z = 1.0 - 2.0 * i / n_verts
    r = np.sqrt(1.0 - z * z)
    phi = np.pi * (1.0 + 5**0.5) * i
    verts = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    return verts, ConvexHull(verts).simplices.astype(np.int64)


def permuted_animation(n_verts: int = 400, n_frames: int = 24, seed: int = 0):
    """A bumpy head-sized sphere with shuffled vertex order and smooth, non-rigid motion.

    Returns:
        neutral (V, 3) float64 (+Y up), faces (F, 3) int64, motion (T, V, 3) float64.
    """
    verts, faces = sphere_mesh(n_verts)
    rng = np.random.default_rng(seed)
    verts = verts * (1.0 + 0.1 * np.sin(3 * verts[:, :1]) * np.cos(2 * verts[:, 1:2]))
    perm = rng.permutation(n_verts)
    verts, faces = verts[perm] * 0.1, np.argsort(perm)[faces]  # 0.2 units across
    t = np.arange(n_frames)[:, None, None] / 30.0
    jaw = np.clip(-verts[None, :, 1:2], 0, None) * np.sin(2 * np.pi * 3 * t) * np.array([0, 0.4, 0.1])
    wave = 0.004 * np.sin(40 * verts[None] + 9 * t * np.array([1.0, 1.3, 0.7]))
    motion = verts[None] + jaw + wave + 2e-6 * rng.standard_normal((n_frames, n_verts, 3))
    return verts, faces, motion


@pytest.fixture
def animation():
    return permuted_animation()
