"""Tangent-plane gradient operators of scalar fields on meshes and point clouds (vectorised).

For each vertex i with neighbours j (mesh edges, or k nearest points of a cloud), the gradient
``g_i`` in i's tangent frame is the least-squares fit of ``g_i · d_ij ≈ f_j − f_i``, where
``d_ij`` are the 2D tangent coordinates of ``p_j − p_i``. The solution is linear in f, so the
two components form sparse matrices ``grad_x``, ``grad_y`` (V, V). The fit is exact for any
function that is linear in the tangent plane (up to the ``1e-8`` relative Tikhonov term that
keeps isolated or collinear neighbourhoods solvable).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from meshtalk.geometry.topology import unique_edges


def mesh_neighbors(n_verts: int, faces: np.ndarray, *, edges: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Directed neighbour pairs (i, j) along the mesh edges, both directions.

    Args:
        n_verts: V.
        faces: (F, 3) triangles.
        edges: (E, 2) their unique edges when the caller has them (see
            :func:`meshtalk.geometry.topology.unique_edges`).

    Returns:
        src: (2E,) int64; dst: (2E,) int64.
    """
    e = unique_edges(faces) if edges is None else edges
    return np.concatenate([e[:, 0], e[:, 1]]), np.concatenate([e[:, 1], e[:, 0]])


def knn_neighbors(points: np.ndarray, n_neighbors: int = 30, *, normals: np.ndarray | None = None,
                  cut_facing: bool = False, cut_rule: str = "full") -> tuple[np.ndarray, np.ndarray]:
    """Directed neighbour pairs (i, j) of the k nearest points (excluding i itself).

    Args:
        points: (V, 3).
        n_neighbors: k.
        normals: (V, 3) unit normals; needed when ``cut_facing``.
        cut_facing: leave out the pairs that are joined across open space
            (:mod:`meshtalk.geometry.cloud`).
        cut_rule: the cut's rule, ``"full"`` or ``"opposed"``.

    Returns:
        src: (P,) int64; dst: (P,) int64 (P = V·k without a cut).
    """
    from meshtalk.geometry.cloud import cloud_neighbors, knn, neighbor_pairs

    if not cut_facing:           # every point has the same count: no per-point lists
        nbrs = knn(points, n_neighbors)
        return np.repeat(np.arange(len(points), dtype=np.int64), nbrs.shape[1]), nbrs.reshape(-1)
    return neighbor_pairs(cloud_neighbors(points, n_neighbors, normals=normals, cut_facing=True,
                                          cut_rule=cut_rule))


def gradient_operators(
    verts: np.ndarray,
    frames: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    *,
    regularization: float = 1e-8,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Least-squares tangent gradient operators.

    Args:
        verts: (V, 3) float64 positions.
        frames: (V, 3, 3) tangent frames (rows x, y, normal), see :func:`tangent_frames`.
        src, dst: (P,) directed neighbour pairs.
        regularization: Tikhonov weight relative to the trace of each 2×2 normal matrix.

    Returns:
        grad_x, grad_y: (V, V) CSR float64 with ``(grad_x @ f)[i]`` the x component of the
        gradient of f at i in i's frame.
    """
    verts = np.asarray(verts, np.float64)
    n = len(verts)
    e = verts[dst] - verts[src]  # (P, 3)
    d = np.stack(
        [np.einsum("pd,pd->p", e, frames[src, 0]), np.einsum("pd,pd->p", e, frames[src, 1])], axis=1
    )  # (P, 2) tangent coordinates
    a = np.zeros((n, 3))  # entries of the symmetric 2x2 normal matrix: xx, xy, yy
    np.add.at(a, src, np.stack([d[:, 0] ** 2, d[:, 0] * d[:, 1], d[:, 1] ** 2], axis=1))
    reg = regularization * (a[:, 0] + a[:, 2]) + 1e-300
    axx, axy, ayy = a[:, 0] + reg, a[:, 1], a[:, 2] + reg
    det = axx * ayy - axy * axy
    inv = np.stack([ayy / det, -axy / det, axx / det], axis=1)  # inverse entries
    inv_s = inv[src]
    cx = inv_s[:, 0] * d[:, 0] + inv_s[:, 1] * d[:, 1]  # (P,) coefficient of (f_j - f_i)
    cy = inv_s[:, 1] * d[:, 0] + inv_s[:, 2] * d[:, 1]
    rows = np.concatenate([src, src])
    cols = np.concatenate([dst, src])
    gx = sp.csr_matrix((np.concatenate([cx, -cx]), (rows, cols)), shape=(n, n))
    gy = sp.csr_matrix((np.concatenate([cy, -cy]), (rows, cols)), shape=(n, n))
    gx.sum_duplicates()
    gy.sum_duplicates()
    return gx, gy
