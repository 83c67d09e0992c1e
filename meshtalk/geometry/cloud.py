"""Neighbourhoods of point clouds: k nearest points, the facing-pair cut, local triangulations.

A point cloud has no edges, so its Laplacian and gradients take each point's k nearest points as
its neighbours. Where two sheets of the surface lie closer than the neighbourhood's radius (the
two lips of a closed mouth: about 1 mm apart, while 30 neighbours of a 20k-point head reach about
7 mm, median over its points),
the nearest points of a point on one sheet include points of the other, and every operator joins
the two sheets as if they were one.

A cloud whose normals are known (a scanner's) can tell such pairs apart. On a smooth surface a
chord between two nearby points runs behind (convex) or just in front of (concave) their
tangent planes, and their normals differ by the angle the surface turns between them. The
**facing-pair cut** drops a neighbour pair (i, j) when, with ``d`` the unit vector from i to j,

    d · n_i > c   or   d · n_j < −c   or   n_i · n_j < −c:

j lies in front of i's tangent plane, or i in front of j's, by more than the angle asin(c) (the
chord crosses open space: near pairs across a slit), or the two normals point more than
90° + asin(c) apart (two sheets facing each other, or back to back: far pairs across a slit,
whose chords are shallow). The test is symmetric in the pair. On a convex patch the first two
never fire; in a concave crease of radius R a chord of length s leaves the tangent plane at about
s/(2R) and the normals turn by s/R, so with the default ``c = 0.3`` only creases tighter than
about 1.7 s lose pairs (a point keeps its nearest neighbours unless the crease is tighter than
about twice the point spacing). A mesh keeps such sheets apart by its connectivity; this gives a
point cloud the same.

The cut has two **rules**. ``"full"`` applies all three tests above. ``"opposed"`` applies only
the last one (normals more than 90° + asin(c) apart): it separates two facing sheets, such as the
walls of the mouth slit, and keeps a concave crease of one sheet joined wherever neighbouring
normals turn by less than that angle; the full rule also cuts pairs in such creases (a right angle
loses about 3 % of its pairs). The default model uses the opposed rule (stage 15,
``docs/model_card.md``).

The local triangulations are those of the point-cloud Laplacian of Sharp & Crane (2020): each
point's neighbours projected onto its tangent plane and Delaunay-triangulated, keeping the
triangles at the point. Their union, a non-manifold triangle soup, gets the robust (tufted)
Laplacian, divided by 3 because each triangle is found from up to three of its corners.
"""

from __future__ import annotations

import numpy as np

FACING_COS = 0.3
CUT_RULES = ("full", "opposed")


def knn(points: np.ndarray, n_neighbors: int) -> np.ndarray:
    """The ``n_neighbors`` nearest other points of every point.

    Args:
        points: (V, 3).
        n_neighbors: k (capped at V − 1).

    Returns:
        (V, k) int64 neighbour indices, nearest first.
    """
    from scipy.spatial import cKDTree

    k = min(n_neighbors + 1, len(points))
    _, idx = cKDTree(points).query(points, k=k)
    return np.asarray(idx, np.int64).reshape(len(points), k)[:, 1:]


def facing_pairs(points: np.ndarray, normals: np.ndarray, nbrs: np.ndarray, *,
                 cos: float = FACING_COS, rule: str = "full") -> np.ndarray:
    """Which neighbour pairs are joined across open space (see the module docstring).

    Args:
        points: (V, 3).
        normals: (V, 3) unit normals.
        nbrs: (V, k) neighbour indices.
        cos: the threshold ``c``.
        rule: ``"full"`` (all three tests) or ``"opposed"`` (the normals test only).

    Returns:
        (V, k) bool, True where the pair (i, nbrs[i, j]) is cut; the same answer for (j, i).
    """
    if rule not in CUT_RULES:
        raise ValueError(f"unknown cut rule {rule!r}; choose one of {', '.join(CUT_RULES)}")
    opposed = np.einsum("vc,vkc->vk", normals, normals[nbrs]) < -cos
    if rule == "opposed":
        return opposed
    d = points[nbrs] - points[:, None, :]                           # (V, k, 3)
    d /= np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-300)
    j_ahead_of_i = np.einsum("vkc,vc->vk", d, normals) > cos
    i_ahead_of_j = np.einsum("vkc,vkc->vk", d, normals[nbrs]) < -cos
    return j_ahead_of_i | i_ahead_of_j | opposed


def cloud_neighbors(points: np.ndarray, n_neighbors: int, *, normals: np.ndarray | None = None,
                    cut_facing: bool = False, cut_rule: str = "full") -> list[np.ndarray]:
    """Each point's neighbours, without the facing pairs when asked.

    With the cut, the ``2 k`` nearest points are candidates and the ``k`` nearest that survive
    it are kept, so that a point beside a slit keeps a full neighbourhood on its own side.

    Args:
        points: (V, 3).
        n_neighbors: k.
        normals: (V, 3) unit normals; needed when ``cut_facing``.
        cut_facing: drop the pairs that are joined across open space.
        cut_rule: which pairs: ``"full"`` or ``"opposed"`` (see the module docstring).

    Returns:
        V int64 arrays (at most k each), nearest first.
    """
    if not cut_facing:
        return list(knn(points, n_neighbors))
    if normals is None:
        raise ValueError("the facing-pair cut needs normals")
    nbrs = knn(points, 2 * n_neighbors)
    keep = ~facing_pairs(points, normals, nbrs, rule=cut_rule)
    keep &= np.cumsum(keep, axis=1) <= n_neighbors
    return [row[k] for row, k in zip(nbrs, keep)]


def neighbor_pairs(neighbors: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Directed pairs (i, j) of per-point neighbour lists.

    Args:
        neighbors: V int arrays.

    Returns:
        src: (P,) int64; dst: (P,) int64.
    """
    src = np.repeat(np.arange(len(neighbors)), [len(r) for r in neighbors])
    dst = np.concatenate(neighbors) if len(neighbors) else np.zeros(0, np.int64)
    return src.astype(np.int64), dst.astype(np.int64)


def local_triangulations(points: np.ndarray, normals: np.ndarray, neighbors: list[np.ndarray]) -> np.ndarray:
    """The triangles at each point of its tangent-plane Delaunay triangulation.

    Args:
        points: (V, 3).
        normals: (V, 3) unit normals (the tangent planes).
        neighbors: V int arrays, each point's neighbours.

    Returns:
        (F, 3) int64 triangle soup (each triangle once per corner that found it).
    """
    from scipy.spatial import Delaunay
    from scipy.spatial import QhullError

    from meshtalk.geometry.frames import tangent_frames

    frames = tangent_frames(normals)                                # (V, 3, 3) rows x, y, n
    tris = []
    for i, nb in enumerate(neighbors):
        if len(nb) < 2:
            continue
        q = points[nb] - points[i]
        xy = np.concatenate([np.zeros((1, 2)), q @ frames[i, :2].T])
        try:
            simplices = Delaunay(xy, qhull_options="QJ").simplices
        except QhullError:
            continue
        at_i = simplices[(simplices == 0).any(axis=1)]
        ids = np.concatenate([[i], nb])
        tris.append(ids[at_i])
    if not tris:
        return np.zeros((0, 3), np.int64)
    return np.concatenate(tris).astype(np.int64)
