"""Combinatorial structure of triangle meshes: edges, components, manifoldness.

All functions are vectorised numpy (no per-vertex Python loops) and never reorder vertices.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def unique_edges(faces: np.ndarray) -> np.ndarray:
    """Undirected edges of a triangle mesh.

    Args:
        faces: (F, 3) int.

    Returns:
        edges: (E, 2) int64, each row sorted (i < j), rows unique and sorted.
    """
    edges, _ = edge_face_counts(faces)
    return edges


def edge_face_counts(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges and the number of faces incident to each.

    Args:
        faces: (F, 3) int.

    Returns:
        edges: (E, 2) int64 sorted rows; counts: (E,) int64 (1 = boundary, 2 = interior
        manifold, > 2 = non-manifold).
    """
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) == 0:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.int64)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e.sort(axis=1)
    n = int(e.max()) + 1
    keys = np.sort(e[:, 0] * n + e[:, 1])  # 1D keys, distinct by sorting
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    counts = np.diff(np.append(starts, len(keys)))
    keys = keys[starts]
    return np.stack([keys // n, keys % n], axis=1), counts


def vertex_adjacency(n_verts: int, faces: np.ndarray, *, edges: np.ndarray | None = None) -> sp.csr_matrix:
    """Symmetric 0/1 vertex adjacency (V, V) of the mesh edges (``edges`` (E, 2): the unique
    edges of ``faces`` when the caller has them)."""
    edges = unique_edges(faces) if edges is None else edges
    data = np.ones(2 * len(edges))
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    return sp.csr_matrix((data, (rows, cols)), shape=(n_verts, n_verts))


def connected_component_labels(n_verts: int, faces: np.ndarray, *, edges: np.ndarray | None = None
                               ) -> tuple[int, np.ndarray]:
    """Connected components of the vertices that faces reference.

    Args:
        n_verts: V.
        faces: (F, 3).
        edges: (E, 2) the unique edges of ``faces`` when the caller has them.

    Returns:
        n: number of components among referenced vertices; labels: (V,) int, -1 for
        unreferenced vertices.
    """
    used = np.zeros(n_verts, bool)
    used[np.asarray(faces, np.int64).ravel()] = True
    if not used.any():
        return 0, np.full(n_verts, -1)
    _, labels = connected_components(vertex_adjacency(n_verts, faces, edges=edges), directed=False)
    labels = labels.astype(np.int64)
    # relabel so that only referenced vertices count, labels 0..n-1
    uniq, inverse = np.unique(labels[used], return_inverse=True)
    out = np.full(n_verts, -1, dtype=np.int64)
    out[used] = inverse
    return len(uniq), out


def nonmanifold_vertex_count(n_verts: int, faces: np.ndarray) -> int:
    """Vertices whose incident faces do not form one fan (bow-tie vertices), counted on the
    edge-manifold part: a vertex is regular when its one-ring is a single connected chain."""
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) == 0:
        return 0
    # For each face corner (v, a, b): link edge (a, b) in v's link graph. v is regular when
    # its link graph is connected: #link vertices - #link edges <= 1 (a path or a cycle).
    v = faces.ravel()
    a = faces[:, [1, 2, 0]].ravel()
    b = faces[:, [2, 0, 1]].ravel()
    # distinct (v, edge-of-link) pairs: key on (v, face-edge id); distinct (v, link vertex) pairs
    edge_keys = np.minimum(a, b) * n_verts + np.maximum(a, b)
    order = np.lexsort((edge_keys, v))
    vs, ks = v[order], edge_keys[order]
    first = np.ones(len(vs), bool)
    first[1:] = (vs[1:] != vs[:-1]) | (ks[1:] != ks[:-1])
    n_link_edges = np.bincount(vs[first], minlength=n_verts)
    lv = np.sort(np.concatenate([v, v]) * n_verts + np.concatenate([a, b]))
    lv = lv[np.concatenate([[True], lv[1:] != lv[:-1]])]  # distinct, by sorting (faster than hashing)
    n_link_verts = np.bincount(lv // n_verts, minlength=n_verts)
    used = n_link_verts > 0
    # components of a graph with nv vertices and ne edges where every vertex has degree <= 2:
    # cycles count nv == ne, a path nv - ne == 1; more than one fan -> nv - ne >= 2
    return int(np.count_nonzero(used & (n_link_verts - n_link_edges >= 2)))
