"""Vertex normals and per-vertex tangent frames of meshes and point clouds."""

from __future__ import annotations

import numpy as np


def face_normals(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit face normals and face areas.

    Args:
        verts: (V, 3) float64.
        faces: (F, 3) int.

    Returns:
        normals: (F, 3) unit (zero for degenerate faces); areas: (F,).
    """
    p = verts[faces]
    cross = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    norm = np.linalg.norm(cross, axis=1)
    normals = np.divide(cross, norm[:, None], out=np.zeros_like(cross), where=norm[:, None] > 0)
    return normals, 0.5 * norm


def mesh_vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals of a triangle mesh.

    Args:
        verts: (V, 3) float64.
        faces: (F, 3) int.

    Returns:
        (V, 3) unit normals; vertices with no usable face get the normal of their nearest
        vertex that has one (or +z if none does).
    """
    verts = np.asarray(verts, np.float64)
    faces = np.asarray(faces, np.int64)
    p = verts[faces]
    cross = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])  # length = 2 * area
    acc = np.zeros_like(verts)
    for c in range(3):
        np.add.at(acc, faces[:, c], cross)
    return _normalize_or_fill(verts, acc)


def point_cloud_normals(points: np.ndarray, n_neighbors: int = 30) -> np.ndarray:
    """Normals of a point cloud by local PCA, oriented away from the centroid.

    Args:
        points: (V, 3) float64.
        n_neighbors: neighbourhood size of the PCA.

    Returns:
        (V, 3) unit normals.
    """
    from scipy.spatial import cKDTree

    points = np.asarray(points, np.float64)
    k = min(n_neighbors, len(points))
    _, idx = cKDTree(points).query(points, k=k)
    nb = points[idx]  # (V, k, 3)
    centered = nb - nb.mean(axis=1, keepdims=True)
    cov = np.einsum("vki,vkj->vij", centered, centered)
    _, vecs = np.linalg.eigh(cov)  # ascending eigenvalues
    normals = vecs[:, :, 0]
    outward = points - points.mean(axis=0)
    flip = np.einsum("vd,vd->v", normals, outward) < 0
    normals[flip] *= -1
    return _normalize_or_fill(points, normals)


def _normalize_or_fill(verts: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=1)
    ok = norm > 1e-300
    out = np.zeros_like(vectors)
    out[ok] = vectors[ok] / norm[ok, None]
    if not ok.all():
        if ok.any():
            from scipy.spatial import cKDTree

            _, nn = cKDTree(verts[ok]).query(verts[~ok])
            out[~ok] = out[ok][nn]
        else:
            out[:] = (0.0, 0.0, 1.0)
    return out


def tangent_frames(normals: np.ndarray) -> np.ndarray:
    """Orthonormal right-handed frames (x, y, n) around each normal.

    The x axis is the projection of the world x axis onto the tangent plane (world y where x
    is nearly parallel to the normal); y = n × x.

    Args:
        normals: (V, 3) unit normals.

    Returns:
        frames: (V, 3, 3) with rows ``frames[:, 0]`` = x, ``frames[:, 1]`` = y, ``frames[:, 2]`` = n.
    """
    n = np.asarray(normals, np.float64)
    ref = np.zeros_like(n)
    ref[:, 0] = 1.0
    near = np.abs(n[:, 0]) > 0.9
    ref[near] = (0.0, 1.0, 0.0)
    x = ref - np.einsum("vd,vd->v", ref, n)[:, None] * n
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.cross(n, x)
    return np.stack([x, y, n], axis=1)
