"""Everything a DiffusionNet-style network needs to know about one surface, in one object.

:func:`compute_operators` turns a mesh or point cloud into :class:`SpectralOperators`: lumped
mass, weak Laplacian, the first k Laplace–Beltrami eigenpairs, tangent frames and the two
tangent gradient operators. Geometry is computed in float64 and stored as float32 torch
tensors. With ``cache=`` the result is stored on disk by content hash (see
:mod:`meshtalk.geometry.cache`) and loaded instead of recomputed.

Vertices that no face uses ("passengers", common in raw scans) are kept, in place: the operators
are computed on the used vertices and each passenger copies the eigenvector values, frame and
gradient row of its nearest used vertex, with zero mass and an empty Laplacian row, so that it
follows the surface without changing any projection.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from meshtalk.errors import MeshtalkError
from meshtalk.geometry.eigen import check_memory, laplacian_eigenbasis
from meshtalk.geometry.cloud import CUT_RULES, cloud_neighbors, neighbor_pairs
from meshtalk.geometry.frames import mesh_vertex_normals, point_cloud_normals, tangent_frames
from meshtalk.geometry.gradients import gradient_operators, knn_neighbors, mesh_neighbors
from meshtalk.geometry.io import check_normals, inspect_mesh, validate_mesh
from meshtalk.geometry.laplacian import LAPLACIANS, choose_laplacian, laplacian_and_mass
from meshtalk.geometry.topology import edge_face_counts

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class OperatorSettings:
    """The settings that, together with the geometry, determine the operators (and the cache key)."""

    k: int = 128
    laplacian: str = "auto"
    eigen_method: str = "auto"
    tol: float = 1e-6
    n_neighbors: int = 30
    mollify_factor: float = 1e-5
    cut_facing: bool = False
    cut_rule: str = "full"

    def __post_init__(self):
        if self.laplacian not in LAPLACIANS:
            raise MeshtalkError(f"unknown Laplacian {self.laplacian!r}; choose one of {', '.join(LAPLACIANS)}")
        if self.cut_rule not in CUT_RULES:
            raise MeshtalkError(f"unknown cut rule {self.cut_rule!r}; choose one of {', '.join(CUT_RULES)}")
        if int(self.k) < 1:
            raise MeshtalkError(f"k must be >= 1, got {self.k}")


@dataclasses.dataclass(frozen=True)
class SpectralOperators:
    """Operators of one surface (float32 torch tensors on one device).

    Attributes:
        mass: (V,) lumped mass (area per vertex; 0 for passenger vertices).
        L: (V, V) sparse CSR weak Laplacian, symmetric PSD, ``L @ 1 = 0``.
        evals: (K,) Laplace–Beltrami eigenvalues, ascending, >= 0.
        evecs: (V, K) eigenvectors, M-orthonormal: ``evecs.T @ (mass[:, None] * evecs) = I``.
        grad_x: (V, V) sparse CSR, x component of the tangent gradient in each vertex frame.
        grad_y: (V, V) sparse CSR, y component.
        frames: (V, 3, 3) per-vertex frames, rows (tangent x, tangent y, normal).
        residuals: (K,) relative eigen-residuals ``‖Lφ − λMφ‖_{M⁻¹} / max(λ, 0.01 λ_K)``.
        laplacian: the Laplacian used (``"cotan"``, ``"robust"``, ``"pointcloud"``).
        eigen_method: the eigensolver used.
    """

    mass: torch.Tensor
    L: torch.Tensor
    evals: torch.Tensor
    evecs: torch.Tensor
    grad_x: torch.Tensor
    grad_y: torch.Tensor
    frames: torch.Tensor
    residuals: torch.Tensor
    laplacian: str = "cotan"
    eigen_method: str = "lanczos"

    @property
    def n_verts(self) -> int:
        return int(self.mass.shape[0])

    @property
    def k(self) -> int:
        return int(self.evals.shape[0])

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "SpectralOperators":
        """A copy on ``device`` (and floating ``dtype``, if given)."""
        changes = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                changes[f.name] = v.to(device=device, dtype=dtype if dtype is not None else v.dtype)
        return dataclasses.replace(self, **changes)

    def truncate(self, k: int) -> "SpectralOperators":
        """The same operators with only the first ``k`` eigenpairs."""
        if k > self.k:
            raise MeshtalkError(f"these operators hold {self.k} eigenpairs, {k} were asked for")
        return dataclasses.replace(
            self, evals=self.evals[:k], evecs=self.evecs[:, :k], residuals=self.residuals[:k]
        )


def scipy_to_torch_csr(A: sp.spmatrix, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A scipy sparse matrix as a torch sparse CSR tensor (int64 indices)."""
    A = sp.csr_matrix(A)
    A.sum_duplicates()
    A.sort_indices()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(
            torch.from_numpy(A.indptr.astype(np.int64)),
            torch.from_numpy(A.indices.astype(np.int64)),
            torch.from_numpy(A.data).to(dtype),
            size=A.shape,
        )


def _extend_passengers(
    n: int, used: np.ndarray, nearest: np.ndarray, mass, L, evecs, gx, gy, frames
):
    """Embed operators of the used vertices into all n vertices (see module docstring)."""
    idx_used = np.flatnonzero(used)
    # map each vertex to the used-vertex row it takes values from
    src = np.empty(n, dtype=np.int64)
    src[idx_used] = np.arange(len(idx_used))
    src[~used] = nearest
    full_mass = np.zeros(n)
    full_mass[idx_used] = mass
    P = sp.csr_matrix((np.ones(len(idx_used)), (idx_used, np.arange(len(idx_used)))), shape=(n, len(idx_used)))
    L_full = (P @ L @ P.T).tocsr()
    # gradient rows: copy the source row, with columns mapped to full indices
    R = sp.csr_matrix((np.ones(n), (np.arange(n), src)), shape=(n, len(idx_used)))
    gx_full = (R @ gx @ P.T).tocsr()
    gy_full = (R @ gy @ P.T).tocsr()
    return full_mass, L_full, evecs[src], gx_full, gy_full, frames[src]


def compute_operators(
    verts: np.ndarray,
    faces: np.ndarray | None = None,
    k: int = 128,
    *,
    laplacian: str = "auto",
    eigen_method: str = "auto",
    tol: float = 1e-6,
    n_neighbors: int = 30,
    mollify_factor: float = 1e-5,
    cache=None,
    device: str | torch.device | None = None,
    name: str = "mesh",
    normals: np.ndarray | None = None,
    cut_facing: bool = False,
    cut_rule: str = "full",
) -> SpectralOperators:
    """Mass, Laplacian, eigenbasis, frames and gradient operators of a mesh or point cloud.

    Args:
        verts: (V, 3) positions (any float dtype; computed in float64).
        faces: (F, 3) int triangles, or None for a point cloud.
        k: number of eigenpairs (default 128).
        laplacian: ``"auto"`` (cotan for clean meshes, robust for others, point-cloud for
            clouds), ``"cotan"``, ``"robust"`` or ``"pointcloud"``.
        eigen_method: see :func:`meshtalk.geometry.eigen.laplacian_eigenbasis`.
        tol: eigensolver relative residual tolerance.
        n_neighbors: neighbours of the point-cloud Laplacian, normals and gradients.
        mollify_factor: mollification of the robust Laplacians.
        cache: an :class:`meshtalk.geometry.cache.OperatorCache`, a directory path, ``True``
            (the default cache directory) or None (no cache).
        device: where the eigensolver's dense work runs and where the result lives.
        name: how to call the input in error messages.
        normals: (V, 3) outward normals to build the tangent frames from (a scanner's point
            normals, say); any length, normalised here. Default: the mesh's area-weighted vertex
            normals, or a point cloud's estimated from its ``n_neighbors`` nearest points (which
            cannot tell apart two sheets closer than the point spacing, e.g. the two lips).
        cut_facing: a point cloud with given ``normals``: its Laplacian and gradients leave out
            the neighbour pairs that are joined across open space (two sheets closer than the
            neighbourhood, such as the lips; :mod:`meshtalk.geometry.cloud`). Meshes, and clouds
            without given normals (whose estimated normals cannot tell the sheets apart), ignore it.
        cut_rule: which pairs the cut leaves out: ``"full"`` (the three tests of
            :mod:`meshtalk.geometry.cloud`) or ``"opposed"`` (only pairs whose normals point apart).

    Returns:
        :class:`SpectralOperators` (float32).

    Raises:
        MeshtalkError: unusable input (see :func:`meshtalk.geometry.io.validate_mesh`) or a
            surface too large for this machine's memory (with the size to decimate to).
    """
    settings = OperatorSettings(
        k=int(k), laplacian=laplacian, eigen_method=eigen_method, tol=float(tol),
        n_neighbors=int(n_neighbors), mollify_factor=float(mollify_factor),
        cut_facing=bool(cut_facing and normals is not None and (faces is None or len(faces) == 0)),
        cut_rule=str(cut_rule),
    )
    verts = np.ascontiguousarray(verts, dtype=np.float64)
    faces = None if faces is None or len(faces) == 0 else np.ascontiguousarray(faces, dtype=np.int64)
    if verts.ndim == 2:
        check_memory(len(verts), settings.k, name=name)  # refuse a huge scan before any heavy work
    # fatal checks only here; what is merely reported is logged beside the eigensolve
    validate_mesh(verts, faces, name=name, topology=False)
    if normals is not None:
        normals = check_normals(normals, len(verts), name)
    store = None
    if cache is not None and cache is not False:
        from meshtalk.geometry.cache import OperatorCache

        store = cache if isinstance(cache, OperatorCache) else OperatorCache(None if cache is True else Path(cache))
        hit = store.load(verts, faces, settings, normals=normals)
        if hit is not None:
            return hit.to(device)
    ops = _compute(verts, faces, settings, device=device, name=name, normals=normals)
    if store is not None:
        store.save(verts, faces, settings, ops, normals=normals)
    return ops.to(device)


def _compute(verts, faces, settings: OperatorSettings, *, device, name, normals=None) -> SpectralOperators:
    n = len(verts)
    t0 = time.perf_counter()
    used = np.ones(n, bool)
    if faces is not None:
        repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
        faces = faces[~repeated]
        used = np.zeros(n, bool)
        used[faces.ravel()] = True
    nearest = None
    v, f = verts, faces
    if not used.all():
        from scipy.spatial import cKDTree

        idx_used = np.flatnonzero(used)
        remap = np.full(n, -1, dtype=np.int64)
        remap[idx_used] = np.arange(len(idx_used))
        v, f = verts[idx_used], remap[faces]
        _, nearest = cKDTree(v).query(verts[~used])
        log.info("%s: %d vertices are not used by any face; they follow their nearest surface vertex",
                 name, int((~used).sum()))
        if len(v) < 4:
            raise MeshtalkError(f"{name}: only {len(v)} vertices belong to faces; a surface needs at least 4")
    edges, counts = edge_face_counts(f) if f is not None else (None, None)
    kind = settings.laplacian if settings.laplacian != "auto" else choose_laplacian(v, f, edge_counts=counts)
    cut_rows = None            # a cut cloud's neighbour lists, shared by its Laplacian and gradients
    if f is None and settings.cut_facing:
        cut_rows = cloud_neighbors(v, settings.n_neighbors, normals=normals, cut_facing=True,
                                   cut_rule=settings.cut_rule)
    L, mass, kind = laplacian_and_mass(
        v, f, kind=kind, n_neighbors=settings.n_neighbors, mollify_factor=settings.mollify_factor,
        normals=normals, cut_facing=settings.cut_facing, neighbors=cut_rows, cut_rule=settings.cut_rule,
    )
    if not np.all(mass > 0):
        # isolated points of a cloud or slivers: give them a tiny positive area
        floor = 1e-8 * float(mass.sum()) / len(mass)
        mass = np.maximum(mass, floor)
    t_lap = time.perf_counter()
    k = min(settings.k, len(v))

    def frames_and_gradients():
        if log.isEnabledFor(logging.INFO):
            for problem in inspect_mesh(verts, faces).problems():
                log.info("%s: %s", name, problem)
        if f is None:
            nrm = point_cloud_normals(v, settings.n_neighbors) if normals is None else normals
            src, dst = knn_neighbors(v, settings.n_neighbors) if cut_rows is None else neighbor_pairs(cut_rows)
        else:
            nrm = mesh_vertex_normals(v, f) if normals is None else normals[used]
            src, dst = mesh_neighbors(len(v), f, edges=edges)
        frames = tangent_frames(nrm)
        return (frames, *gradient_operators(v, frames, src, dst))

    # Frames and gradients (numpy, mostly outside the GIL) run beside the eigensolve, whose
    # sparse factorisation and solves keep only one core busy.
    with ThreadPoolExecutor(1) as pool:
        side = pool.submit(frames_and_gradients)
        basis = laplacian_eigenbasis(L, mass, k, method=settings.eigen_method, tol=settings.tol, device=device)
        t_eig = time.perf_counter()
        frames, gx, gy = side.result()
    evecs = basis.evecs.cpu().numpy()
    if nearest is not None:
        mass, L, evecs, gx, gy, frames = _extend_passengers(n, used, nearest, mass, L, evecs, gx, gy, frames)
    t_end = time.perf_counter()
    log.info(
        "%s: operators V=%d k=%d (%s Laplacian %.2fs, %s eigensolve %.2fs, then %.2fs)",
        name, n, k, kind, t_lap - t0, basis.method, t_eig - t_lap, t_end - t_eig,
    )
    f32 = torch.float32
    return SpectralOperators(
        mass=torch.from_numpy(np.asarray(mass)).to(f32),
        L=scipy_to_torch_csr(L),
        evals=basis.evals.cpu().to(f32),
        evecs=torch.from_numpy(evecs).to(f32),
        grad_x=scipy_to_torch_csr(gx),
        grad_y=scipy_to_torch_csr(gy),
        frames=torch.from_numpy(frames).to(f32),
        residuals=basis.residuals.cpu().to(f32),
        laplacian=kind,
        eigen_method=basis.method,
    )
