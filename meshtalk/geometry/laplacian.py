"""Weak Laplacians and lumped mass matrices of triangle meshes and point clouds.

Conventions (all functions of this module):

* ``L`` is the **weak** (stiffness) Laplacian, symmetric **positive semi-definite**, with
  ``L @ 1 = 0``; the sign is the opposite of ``igl.cotmatrix``. The continuous operator is
  ``M^{-1} L``.
* ``mass`` is the lumped (diagonal) mass, one positive area weight per vertex; for a mesh it sums
  to the surface area.
* Inputs are computed in float64; results are ``scipy.sparse.csr_matrix`` (float64) and a
  float64 vector.

Three Laplacians:

* :func:`cotan_laplacian` — the classic cotangent Laplacian with barycentric mass, exact for
  clean (manifold, well-shaped) meshes; vectorised numpy.
* :func:`robust_mesh_laplacian` — the intrinsic Delaunay "tufted" Laplacian of Sharp & Crane
  (2020) via the ``robust-laplacian`` package: survives non-manifold edges, slivers and
  degenerate faces of raw scans.
* :func:`point_cloud_laplacian` — the same construction on local triangulations of a point cloud
  (optionally without neighbour pairs that are joined across open space, see
  :mod:`meshtalk.geometry.cloud`).
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from meshtalk.errors import MeshtalkError

log = logging.getLogger(__name__)

LAPLACIANS = ("auto", "cotan", "robust", "pointcloud")


def _triangle_geometry(verts: np.ndarray, faces: np.ndarray):
    """Edge vectors, doubled areas and cotangents of every corner.

    Args:
        verts: (V, 3) float64.
        faces: (F, 3) int.

    Returns:
        cot: (F, 3) cotangent of the angle at each corner (corner i is opposite edge (i+1, i+2)).
        double_area: (F,) twice the triangle area.
    """
    p = verts[faces]  # (F, 3, 3)
    cot = np.empty(faces.shape, dtype=np.float64)
    cross = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    double_area = np.linalg.norm(cross, axis=1)
    safe = np.maximum(double_area, np.finfo(np.float64).tiny)
    for i in range(3):
        a = p[:, (i + 1) % 3] - p[:, i]
        b = p[:, (i + 2) % 3] - p[:, i]
        cot[:, i] = np.einsum("fd,fd->f", a, b) / safe
    cot[double_area <= 0] = 0.0
    return cot, double_area


def cotan_laplacian(verts: np.ndarray, faces: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Cotangent Laplacian and barycentric lumped mass of a triangle mesh.

    ``L_ij = -(cot α_ij + cot β_ij) / 2`` for an edge ij, ``L_ii = -Σ_j L_ij``.

    Args:
        verts: (V, 3) vertex positions.
        faces: (F, 3) vertex indices of triangles.

    Returns:
        L: (V, V) CSR float64, symmetric PSD on Delaunay meshes (may have negative off-diagonal
            weights' opposite sign on obtuse triangles).
        mass: (V,) float64, one third of the incident triangle areas.
    """
    verts = np.asarray(verts, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    n = len(verts)
    cot, double_area = _triangle_geometry(verts, faces)
    # corner i is opposite the edge (i+1, i+2)
    rows = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    cols = np.concatenate([faces[:, 2], faces[:, 0], faces[:, 1]])
    w = 0.5 * np.concatenate([cot[:, 0], cot[:, 1], cot[:, 2]])
    off = sp.coo_matrix((-w, (rows, cols)), shape=(n, n))
    off = (off + off.T).tocsr()
    diag = -np.asarray(off.sum(axis=1)).ravel()
    L = (off + sp.diags(diag)).tocsr()
    L.sum_duplicates()
    mass = np.bincount(faces.ravel(), weights=np.repeat(double_area / 6.0, 3), minlength=n)
    return L, mass


def robust_mesh_laplacian(
    verts: np.ndarray, faces: np.ndarray, *, mollify_factor: float = 1e-5
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Intrinsic-Delaunay (tufted) Laplacian of a possibly non-manifold mesh.

    Args:
        verts: (V, 3) vertex positions.
        faces: (F, 3) vertex indices.
        mollify_factor: intrinsic mollification (relative to the mean edge length) that makes
            degenerate triangles well-conditioned.

    Returns:
        L: (V, V) CSR float64, symmetric PSD.
        mass: (V,) float64 lumped mass.
    """
    import robust_laplacian

    L, M = robust_laplacian.mesh_laplacian(
        np.ascontiguousarray(verts, dtype=np.float64),
        np.ascontiguousarray(faces, dtype=np.int64),
        mollify_factor=mollify_factor,
    )
    return sp.csr_matrix(L, dtype=np.float64), np.asarray(M.diagonal(), dtype=np.float64)


def point_cloud_laplacian(
    points: np.ndarray, *, n_neighbors: int = 30, mollify_factor: float = 1e-5,
    normals: np.ndarray | None = None, cut_facing: bool = False, neighbors: list | None = None,
    cut_rule: str = "full",
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Laplacian of a point cloud from local (tufted) triangulations.

    Args:
        points: (V, 3) positions.
        n_neighbors: neighbours used for each local triangulation.
        mollify_factor: intrinsic mollification.
        normals: (V, 3) unit normals (a scanner's); needed when ``cut_facing``.
        cut_facing: triangulate without the neighbour pairs that are joined across open space
            (:mod:`meshtalk.geometry.cloud`), so that two sheets closer than the neighbourhood
            (the lips) are not joined. Without it: the ``robust-laplacian`` package's own
            construction (its normals estimated from the points).
        neighbors: with ``cut_facing``, the cut neighbour lists when the caller has them
            (:func:`meshtalk.geometry.cloud.cloud_neighbors`).
        cut_rule: the cut's rule when the neighbours are found here, ``"full"`` or ``"opposed"``.

    Returns:
        L: (V, V) CSR float64, symmetric PSD.
        mass: (V,) float64 lumped mass (an area estimate per point).
    """
    if cut_facing:
        if normals is None:
            raise MeshtalkError("the facing-pair cut of a point-cloud Laplacian needs normals")
        from meshtalk.geometry.cloud import cloud_neighbors, local_triangulations

        pts = np.ascontiguousarray(points, dtype=np.float64)
        if neighbors is None:
            neighbors = cloud_neighbors(pts, n_neighbors, normals=normals, cut_facing=True, cut_rule=cut_rule)
        soup = local_triangulations(pts, normals, neighbors)
        L, mass = robust_mesh_laplacian(pts, soup, mollify_factor=mollify_factor)
        return L / 3.0, mass / 3.0       # each triangle is found from up to three of its corners
    import robust_laplacian

    L, M = robust_laplacian.point_cloud_laplacian(
        np.ascontiguousarray(points, dtype=np.float64),
        mollify_factor=mollify_factor,
        n_neighbors=n_neighbors,
    )
    return sp.csr_matrix(L, dtype=np.float64), np.asarray(M.diagonal(), dtype=np.float64)


def choose_laplacian(verts: np.ndarray, faces: np.ndarray | None, *,
                     edge_counts: np.ndarray | None = None) -> str:
    """The Laplacian ``"auto"`` resolves to for this input.

    Point clouds get ``"pointcloud"``. Meshes get ``"cotan"`` only when they are clean: every edge
    has one or two faces and no triangle is degenerate (zero area); anything else (a raw scan)
    gets ``"robust"``.

    Args:
        verts: (V, 3).
        faces: (F, 3) or None.
        edge_counts: (E,) faces per edge when the caller has them (see
            :func:`meshtalk.geometry.topology.edge_face_counts`).
    """
    if faces is None or len(faces) == 0:
        return "pointcloud"
    from meshtalk.geometry.topology import edge_face_counts

    counts = edge_face_counts(faces)[1] if edge_counts is None else edge_counts
    if counts.max(initial=0) > 2:
        return "robust"
    _, double_area = _triangle_geometry(np.asarray(verts, np.float64), np.asarray(faces, np.int64))
    scale = max(double_area.mean(), np.finfo(np.float64).tiny)
    if (double_area <= 1e-10 * scale).any():
        return "robust"
    return "cotan"


def laplacian_and_mass(
    verts: np.ndarray, faces: np.ndarray | None, *, kind: str = "auto", n_neighbors: int = 30,
    mollify_factor: float = 1e-5, normals: np.ndarray | None = None, cut_facing: bool = False,
    neighbors: list | None = None, cut_rule: str = "full",
) -> tuple[sp.csr_matrix, np.ndarray, str]:
    """The Laplacian and mass of a mesh or point cloud, by name.

    Args:
        verts: (V, 3) positions.
        faces: (F, 3) triangles, or None for a point cloud.
        kind: ``"auto"``, ``"cotan"``, ``"robust"`` or ``"pointcloud"``.
        n_neighbors: neighbours for the point-cloud Laplacian.
        mollify_factor: mollification of the robust Laplacians.
        normals, cut_facing, neighbors, cut_rule: a point cloud's normals, whether its Laplacian
            cuts facing pairs, its cut neighbour lists if known, and the cut's rule (see
            :func:`point_cloud_laplacian`); meshes ignore them.

    Returns:
        L: (V, V) CSR float64 PSD; mass: (V,) float64; the kind actually used.
    """
    if kind not in LAPLACIANS:
        raise MeshtalkError(f"unknown Laplacian {kind!r}; choose one of {', '.join(LAPLACIANS)}")
    if kind == "auto":
        kind = choose_laplacian(verts, faces)
    if kind != "pointcloud" and (faces is None or len(faces) == 0):
        raise MeshtalkError(f"the {kind} Laplacian needs faces; this input is a point cloud")
    if kind == "cotan":
        L, mass = cotan_laplacian(verts, faces)
    elif kind == "robust":
        L, mass = robust_mesh_laplacian(verts, faces, mollify_factor=mollify_factor)
    else:
        L, mass = point_cloud_laplacian(verts, n_neighbors=n_neighbors, mollify_factor=mollify_factor,
                                        normals=normals, cut_facing=cut_facing, neighbors=neighbors,
                                        cut_rule=cut_rule)
    log.debug("laplacian %s: V=%d nnz=%d", kind, L.shape[0], L.nnz)
    return L, mass, kind
