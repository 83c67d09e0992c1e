"""Test fixtures: tiny meshes and their spectral operators.

``make_ops`` uses :func:`meshtalk.geometry.compute_operators` when the geometry core is present,
otherwise an independent numpy/scipy build of the same object (cotan Laplacian, lumped mass,
generalised eigenpairs, least-squares tangent gradients) so the model tests do not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg
import torch


@dataclass(frozen=True)
class FallbackOperators:
    mass: torch.Tensor
    L: torch.Tensor
    evals: torch.Tensor
    evecs: torch.Tensor
    grad_x: torch.Tensor
    grad_y: torch.Tensor
    frames: torch.Tensor

    def to(self, device) -> "FallbackOperators":
        return FallbackOperators(**{k: getattr(self, k).to(device) for k in self.__dataclass_fields__})


def _csr(m: sp.spmatrix) -> torch.Tensor:
    from meshtalk.geometry.operators import scipy_to_torch_csr

    return scipy_to_torch_csr(sp.csr_matrix(m, dtype=np.float32))


def fallback_operators(verts: np.ndarray, faces: np.ndarray, k: int) -> FallbackOperators:
    v = np.asarray(verts, np.float64)
    f = np.asarray(faces, np.int64)
    n = len(v)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    fn = np.cross(b - a, c - a)
    area = 0.5 * np.linalg.norm(fn, axis=1)
    rows, cols, vals = [], [], []
    for i, j, o in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        u, w = v[f[:, i]] - v[f[:, o]], v[f[:, j]] - v[f[:, o]]
        cot = (u * w).sum(1) / np.maximum(np.linalg.norm(np.cross(u, w), axis=1), 1e-12)
        rows += [f[:, i], f[:, j]]
        cols += [f[:, j], f[:, i]]
        vals += [-0.5 * cot, -0.5 * cot]
    W = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), (n, n)).tocsr()
    L = (W - sp.diags(np.asarray(W.sum(1)).ravel())).tocsr()
    mass = np.bincount(f.ravel(), np.repeat(area / 3, 3), minlength=n)
    if n <= 3000:
        evals, evecs = scipy.linalg.eigh(L.toarray(), np.diag(mass), subset_by_index=(0, min(k, n) - 1))
    else:
        evals, evecs = scipy.sparse.linalg.eigsh(L + 1e-8 * sp.eye(n), k=k, M=sp.diags(mass), sigma=-1e-6)
        order = np.argsort(evals)
        evals, evecs = evals[order], evecs[:, order]
    evals = np.clip(evals, 0, None)
    # normals and tangent frames
    normals = np.zeros_like(v)
    for i in range(3):
        np.add.at(normals, f[:, i], fn)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    ref = np.where(np.abs(normals[:, :1]) > 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    bx = ref - (ref * normals).sum(1, keepdims=True) * normals
    bx /= np.linalg.norm(bx, axis=1, keepdims=True)
    by = np.cross(normals, bx)
    # least-squares tangent gradients over the 1-ring
    E = sp.coo_matrix(W)
    src, dst = E.row, E.col
    e = v[dst] - v[src]
    ab = np.stack([(e * bx[src]).sum(1), (e * by[src]).sum(1)], 1)                 # (E, 2)
    G = np.zeros((n, 2, 2))
    np.add.at(G, src, ab[:, :, None] * ab[:, None, :])
    G += 1e-5 * np.eye(2)
    w = np.einsum("eij,ej->ei", np.linalg.inv(G)[src], ab)                       # (E, 2)
    ops = []
    for d in range(2):
        M = sp.coo_matrix((w[:, d], (src, dst)), (n, n)).tocsr()
        ops.append(M - sp.diags(np.asarray(M.sum(1)).ravel()))
    t = lambda x: torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # noqa: E731
    return FallbackOperators(mass=t(mass), L=_csr(L), evals=t(evals), evecs=t(evecs),
                             grad_x=_csr(ops[0]), grad_y=_csr(ops[1]),
                             frames=t(np.stack([bx, by, normals], 1)))


def make_ops(verts: np.ndarray, faces: np.ndarray, k: int = 32, *, cache=None):
    """Operators of a mesh: the geometry core's when available, the fallback otherwise."""
    try:
        from meshtalk.geometry import compute_operators
    except ImportError:
        return fallback_operators(verts, faces, k)
    return compute_operators(np.asarray(verts, np.float64), np.asarray(faces), k=k, cache=cache)


def ellipsoid(subdivisions: int = 3, radii=(1.0, 0.8, 0.6)) -> tuple[np.ndarray, np.ndarray]:
    """An icosphere scaled into an ellipsoid: (V, 3) float64 verts, (F, 3) faces."""
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=subdivisions)
    return np.asarray(m.vertices) * np.asarray(radii), np.asarray(m.faces)


def ellipsoid_fibonacci(n: int, radii=(1.0, 0.8, 0.6)) -> tuple[np.ndarray, np.ndarray]:
    """The same ellipsoid sampled differently: Fibonacci points, convex-hull triangulation."""
    from scipy.spatial import ConvexHull

    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5 ** 0.5) * i
    p = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], 1)
    hull = ConvexHull(p)
    faces = hull.simplices.copy()
    # orient outward
    a, b, c = p[faces[:, 0]], p[faces[:, 1]], p[faces[:, 2]]
    flip = (np.cross(b - a, c - a) * (a + b + c)).sum(1) < 0
    faces[flip] = faces[flip][:, ::-1]
    return p * np.asarray(radii), faces
