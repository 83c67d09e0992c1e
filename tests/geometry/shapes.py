"""Test (and benchmark) surfaces with known geometry; independent of meshtalk.geometry."""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull


def fibonacci_sphere(n_verts: int) -> tuple[np.ndarray, np.ndarray]:
    """A near-uniform triangulation of the unit sphere with exactly ``n_verts`` vertices.

    Returns:
        verts: (V, 3) on the unit sphere; faces: (F, 3) outward oriented.
    """
    i = np.arange(n_verts) + 0.5
    z = 1.0 - 2.0 * i / n_verts
    r = np.sqrt(1.0 - z * z)
    phi = np.pi * (1.0 + 5**0.5) * i
    verts = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    faces = ConvexHull(verts).simplices.astype(np.int64)
    p = verts[faces]
    normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    flip = np.einsum("fd,fd->f", normal, p.mean(axis=1)) < 0
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return verts, faces


def bumpy_sphere(n_verts: int, seed: int = 0, amplitude: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """A sphere radially perturbed by a smooth random field (breaks eigenvalue degeneracy).

    Returns:
        verts: (V, 3); faces: (F, 3).
    """
    verts, faces = fibonacci_sphere(n_verts)
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(8, 3))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    weights = rng.uniform(-1, 1, size=8)
    field = (weights * np.exp(-((verts @ centers.T - 1) ** 2) / 0.3)).sum(axis=1)
    return verts * (1.0 + amplitude * field)[:, None], faces


def grid(n: int, size: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A regular ``n × n`` vertex grid triangulation of the square [0, size]² in the z = 0 plane.

    Diagonals alternate so that the mesh is symmetric (better spectral accuracy).

    Returns:
        verts: (n², 3); faces: (2(n−1)², 3).
    """
    xs = np.linspace(0.0, size, n)
    x, y = np.meshgrid(xs, xs, indexing="ij")
    verts = np.stack([x.ravel(), y.ravel(), np.zeros(n * n)], axis=1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    alt = ((np.arange(n - 1)[:, None] + np.arange(n - 1)[None, :]) % 2).astype(bool)
    t1 = np.where(alt[..., None], np.stack([a, b, c], -1), np.stack([a, b, d], -1))
    t2 = np.where(alt[..., None], np.stack([a, c, d], -1), np.stack([b, c, d], -1))
    faces = np.concatenate([t1.reshape(-1, 3), t2.reshape(-1, 3)])
    return verts, faces
