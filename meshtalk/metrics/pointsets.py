"""Correspondence-free distances between point sets or meshes, chunked and device-agnostic.

Point sets ``x: (N, 3)`` and ``y: (M, 3)`` (numpy arrays or torch tensors on any device). The
pairwise work is done in blocks of at most ``max_block`` query×reference pairs, so 100k-point
frames run in bounded memory (about ``8·max_block`` bytes per block in float64) on CPU and CUDA.

Return types follow the input: numpy in → Python ``float``; a tensor in → a 0-dim tensor on that
device (differentiable where stated, e.g. a Chamfer training loss). Computation is float64 unless
``dtype`` says otherwise.

* Chamfer: ``CD(x,y) = mean_i min_j ||x_i - y_j||² + mean_j min_i ||x_i - y_j||²`` (squared by
  default; the sum of the two directional means, as PyTorch3D's ``chamfer_distance``).
* Hausdorff: ``HD(x,y) = max{max_i min_j ||x_i - y_j||, max_j min_i ||x_i - y_j||}``.
* Kernel (varifold) distance: ``||μ - ν||`` in the RKHS of ``k``, where a mesh is the measure
  ``μ = Σ_f a_f δ_(c_f, n_f)`` over faces (area a, centre c, unit normal n) and
  ``k((c,n),(c',n')) = exp(-||c-c'||²/σ²) · (n·n')²`` (unoriented, "binet") or ``· (n·n')``
  (oriented "current"); a point set is ``μ = (1/N) Σ_i δ_(x_i)`` with the Gaussian alone (a
  maximum mean discrepancy). ``||μ-ν||² = <μ,μ> - 2<μ,ν> + <ν,ν>``.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass

import numpy as np
import torch

from meshtalk.errors import MeshtalkError

log = logging.getLogger(__name__)

__all__ = [
    "chamfer_distance",
    "frame_distances",
    "hausdorff_distance",
    "kernel_distance",
    "knn",
    "nearest",
    "FrameDistances",
]

#: Default largest number of query×reference pairs held at once (8M pairs ≈ 64 MiB in float64).
DEFAULT_MAX_BLOCK = 1 << 23


def _to_tensor(x: object, name: str, device, dtype) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x
    else:
        a = np.asarray(x)
        if a.dtype.kind not in "fiu":
            raise MeshtalkError(f"{name}: expected a numeric (N, 3) array, got dtype {a.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(a))
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise MeshtalkError(f"{name}: expected points of shape (N, D) with N > 0, got {tuple(t.shape)}")
    t = t.to(device=device if device is not None else t.device, dtype=dtype)
    if not bool(torch.isfinite(t.detach()).all()):
        raise MeshtalkError(f"{name}: contains NaN or inf")
    return t


def _pytorch3d_available() -> bool:
    return importlib.util.find_spec("pytorch3d") is not None


def _knn_index_torch(q: torch.Tensor, r: torch.Tensor, k: int, max_block: int) -> torch.Tensor:
    n, m = q.shape[0], r.shape[0]
    r_chunk = min(m, max(k, max_block // 64))
    q_chunk = max(1, min(n, max_block // r_chunk))
    r_sq = (r * r).sum(dim=1)
    out = torch.empty((n, k), dtype=torch.long, device=q.device)
    for qs in range(0, n, q_chunk):
        qb = q[qs : qs + q_chunk]
        q_sq = (qb * qb).sum(dim=1, keepdim=True)
        best_d = None
        best_i = None
        for rs in range(0, m, r_chunk):
            rb = r[rs : rs + r_chunk]
            d = torch.addmm(q_sq + r_sq[rs : rs + r_chunk][None, :], qb, rb.T, beta=1.0, alpha=-2.0)
            kk = min(k, rb.shape[0])
            if kk == 1:
                dv, di = torch.min(d, dim=1, keepdim=True)
            else:
                dv, di = torch.topk(d, kk, dim=1, largest=False)
            di = di + rs
            if best_d is None:
                best_d, best_i = dv, di
            else:
                cd = torch.cat([best_d, dv], dim=1)
                ci = torch.cat([best_i, di], dim=1)
                best_d, sel = torch.topk(cd, min(k, cd.shape[1]), dim=1, largest=False)
                best_i = torch.gather(ci, 1, sel)
            del d
        out[qs : qs + q_chunk] = best_i
    return out


def _knn_index_kdtree(q: torch.Tensor, r: torch.Tensor, k: int) -> torch.Tensor:
    from scipy.spatial import cKDTree

    tree = cKDTree(r.detach().cpu().numpy())
    _, idx = tree.query(q.detach().cpu().numpy(), k=k)
    idx = np.asarray(idx).reshape(q.shape[0], k)
    return torch.from_numpy(idx.astype(np.int64)).to(q.device)


def _knn_index_pytorch3d(q: torch.Tensor, r: torch.Tensor, k: int) -> torch.Tensor:
    from pytorch3d.ops import knn_points  # optional backend

    res = knn_points(q[None].float(), r[None].float(), K=k)
    return res.idx[0]


def knn(
    query: object,
    ref: object,
    k: int = 1,
    *,
    backend: str = "auto",
    max_block: int = DEFAULT_MAX_BLOCK,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """k nearest reference points of every query point, in bounded memory.

    The neighbour search runs without gradients; the returned squared distances are recomputed
    from the gathered points, so they are differentiable w.r.t. both ``query`` and ``ref``.

    Args:
        query: ``(N, D)`` array or tensor.
        ref: ``(M, D)`` array or tensor, ``M >= k``.
        k: neighbours per query point.
        backend: ``'torch'`` (chunked brute force on the input's device), ``'kdtree'`` (scipy,
            CPU), ``'pytorch3d'`` (optional, if installed) or ``'auto'`` (kdtree for CPU tensors
            that need no gradient... and for all CPU input; pytorch3d on CUDA when importable;
            otherwise torch).
        max_block: largest number of query×reference pairs held at once by the torch backend.
        device: move inputs there first (default: the device of ``query``; numpy → CPU).
        dtype: computation dtype (float64 default).

    Returns:
        ``(sq_dist, idx)``: ``(N, k)`` squared distances (ascending) and ``(N, k)`` int64 indices
        into ``ref``, on the computation device.

    Raises:
        MeshtalkError: bad shapes, NaN/inf, ``k`` out of range, or an unavailable backend.
    """
    q = _to_tensor(query, "query", device, dtype)
    r = _to_tensor(ref, "ref", q.device, dtype)
    if q.shape[1] != r.shape[1]:
        raise MeshtalkError(f"knn: query has dimension {q.shape[1]} but ref has {r.shape[1]}")
    if not (1 <= k <= r.shape[0]):
        raise MeshtalkError(f"knn: k must be in [1, {r.shape[0]}], got {k}")
    if backend == "auto":
        if q.device.type == "cpu":
            backend = "kdtree"
        elif _pytorch3d_available():
            backend = "pytorch3d"
        else:
            backend = "torch"
    with torch.no_grad():
        if backend == "torch":
            idx = _knn_index_torch(q.detach(), r.detach(), k, max(int(max_block), 1))
        elif backend == "kdtree":
            idx = _knn_index_kdtree(q, r, k)
        elif backend == "pytorch3d":
            if not _pytorch3d_available():
                raise MeshtalkError("knn backend 'pytorch3d' needs the package pytorch3d; use backend='torch'")
            idx = _knn_index_pytorch3d(q.detach(), r.detach(), k)
        else:
            raise MeshtalkError(f"knn: unknown backend {backend!r}; use 'auto', 'torch', 'kdtree' or 'pytorch3d'")
    diff = q[:, None, :] - r[idx]  # (N, k, D)
    sq = (diff * diff).sum(dim=2)
    sq, order = torch.sort(sq, dim=1)
    return sq, torch.gather(idx, 1, order)


def nearest(
    query: object,
    ref: object,
    *,
    backend: str = "auto",
    max_block: int = DEFAULT_MAX_BLOCK,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest reference point of every query point.

    Args:
        query: ``(N, D)``.
        ref: ``(M, D)``.
        backend, max_block, device, dtype: as :func:`knn`.

    Returns:
        ``(sq_dist, idx)``: ``(N,)`` squared distances (differentiable) and ``(N,)`` int64 indices.
    """
    sq, idx = knn(query, ref, 1, backend=backend, max_block=max_block, device=device, dtype=dtype)
    return sq[:, 0], idx[:, 0]


def _wrap(value: torch.Tensor, *inputs: object):
    if any(isinstance(x, torch.Tensor) for x in inputs):
        return value
    return float(value.item())


def chamfer_distance(
    x: object,
    y: object,
    *,
    squared: bool = True,
    backend: str = "auto",
    max_block: int = DEFAULT_MAX_BLOCK,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
):
    """Symmetric Chamfer distance between two point sets.

    ``CD = mean_i min_j ||x_i - y_j||^p + mean_j min_i ||x_i - y_j||^p`` with p = 2 (default,
    ``squared=True``) or p = 1.

    Args:
        x: ``(N, 3)`` points (array or tensor).
        y: ``(M, 3)`` points.
        squared: squared (default) or plain nearest-neighbour distances.
        backend, max_block, device, dtype: as :func:`knn`.

    Returns:
        float for numpy input; a differentiable 0-dim tensor for tensor input.
    """
    dxy, _ = nearest(x, y, backend=backend, max_block=max_block, device=device, dtype=dtype)
    dyx, _ = nearest(y, x, backend=backend, max_block=max_block, device=dxy.device, dtype=dtype)
    if not squared:
        dxy, dyx = dxy.clamp_min(0).sqrt(), dyx.clamp_min(0).sqrt()
    return _wrap(dxy.mean() + dyx.mean(), x, y)


def hausdorff_distance(
    x: object,
    y: object,
    *,
    backend: str = "auto",
    max_block: int = DEFAULT_MAX_BLOCK,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
):
    """Symmetric Hausdorff distance ``max{max_i min_j ||x_i-y_j||, max_j min_i ||x_i-y_j||}``.

    Args:
        x: ``(N, 3)`` points.
        y: ``(M, 3)`` points.
        backend, max_block, device, dtype: as :func:`knn`.

    Returns:
        float for numpy input, 0-dim tensor for tensor input (data units, not squared).
    """
    dxy, _ = nearest(x, y, backend=backend, max_block=max_block, device=device, dtype=dtype)
    dyx, _ = nearest(y, x, backend=backend, max_block=max_block, device=dxy.device, dtype=dtype)
    return _wrap(torch.maximum(dxy.max(), dyx.max()).clamp_min(0).sqrt(), x, y)


def _faces_tensor(faces: object, n_vertices: int, name: str, device) -> torch.Tensor:
    f = faces if isinstance(faces, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(faces))
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0 or f.dtype.is_floating_point:
        raise MeshtalkError(f"{name}: expected integer faces of shape (F, 3), got {tuple(f.shape)} {f.dtype}")
    if int(f.min()) < 0 or int(f.max()) >= n_vertices:
        raise MeshtalkError(f"{name}: face index out of range for {n_vertices} vertices")
    return f.to(device=device, dtype=torch.long)


def _measure(v: torch.Tensor, faces: torch.Tensor | None):
    """(centres (P,3), unit normals (P,3) or None, weights (P,))."""
    if faces is None:
        w = torch.full((v.shape[0],), 1.0 / v.shape[0], dtype=v.dtype, device=v.device)
        return v, None, w
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    cross = torch.linalg.cross(b - a, c - a, dim=1)
    dbl_area = cross.norm(dim=1)
    keep = dbl_area > 0
    centres = (a + b + c)[keep] / 3.0
    normals = cross[keep] / dbl_area[keep, None]
    return centres, normals, 0.5 * dbl_area[keep]


def _kernel_sum(c1, n1, w1, c2, n2, w2, sigma: float, kind: str, max_block: int) -> torch.Tensor:
    total = torch.zeros((), dtype=c1.dtype, device=c1.device)
    m = c2.shape[0]
    r_chunk = min(m, max(1, max_block // 64))
    q_chunk = max(1, min(c1.shape[0], max_block // r_chunk))
    inv = 1.0 / (sigma * sigma)
    sq2 = (c2 * c2).sum(1)
    for qs in range(0, c1.shape[0], q_chunk):
        cq = c1[qs : qs + q_chunk]
        sq1 = (cq * cq).sum(1, keepdim=True)
        for rs in range(0, m, r_chunk):
            cr = c2[rs : rs + r_chunk]
            d2 = torch.addmm(sq1 + sq2[rs : rs + r_chunk][None, :], cq, cr.T, beta=1.0, alpha=-2.0).clamp_min(0)
            k = torch.exp(-d2 * inv)
            if n1 is not None:
                dot = n1[qs : qs + q_chunk] @ n2[rs : rs + r_chunk].T
                k = k * (dot * dot if kind == "binet" else dot)
            total = total + w1[qs : qs + q_chunk] @ k @ w2[rs : rs + r_chunk]
    return total


def kernel_distance(
    x: object,
    y: object,
    *,
    sigma: float,
    faces_x: object | None = None,
    faces_y: object | None = None,
    kind: str = "binet",
    max_block: int = DEFAULT_MAX_BLOCK,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
):
    """Kernel (varifold-type) distance between two meshes or two point sets.

    With faces, each mesh is the varifold ``Σ_f a_f δ_(c_f, n_f)`` and the kernel is
    ``exp(-||c-c'||²/σ²)·(n·n')²`` (``kind='binet'``, orientation-free) or ``·(n·n')``
    (``kind='current'``). Without faces, each set is the uniform probability measure on its points
    and the kernel is the Gaussian alone (maximum mean discrepancy). The pairwise sums are chunked
    (O(N·M) time, bounded memory).

    Args:
        x: ``(N, 3)`` vertices or points.
        y: ``(M, 3)`` vertices or points.
        sigma: kernel width in data units (> 0); about the scale of detail that should count.
        faces_x: ``(F, 3)`` faces of ``x`` or ``None``.
        faces_y: ``(G, 3)`` faces of ``y`` or ``None`` (give both or neither).
        kind: ``'binet'`` or ``'current'`` (meshes only).
        max_block, device, dtype: as :func:`knn`.

    Returns:
        ``sqrt(max(0, <μ,μ> - 2<μ,ν> + <ν,ν>))``: float for numpy input, 0-dim tensor otherwise.
        With faces the unit is area (data units²); without, it is dimensionless.
    """
    if not (sigma > 0):
        raise MeshtalkError(f"kernel_distance: sigma must be > 0, got {sigma}")
    if (faces_x is None) != (faces_y is None):
        raise MeshtalkError("kernel_distance: give faces for both meshes or for neither")
    if kind not in ("binet", "current"):
        raise MeshtalkError(f"kernel_distance: kind must be 'binet' or 'current', got {kind!r}")
    vx = _to_tensor(x, "x", device, dtype)
    vy = _to_tensor(y, "y", vx.device, dtype)
    fx = None if faces_x is None else _faces_tensor(faces_x, vx.shape[0], "faces_x", vx.device)
    fy = None if faces_y is None else _faces_tensor(faces_y, vy.shape[0], "faces_y", vx.device)
    cx, nx, wx = _measure(vx, fx)
    cy, ny, wy = _measure(vy, fy)
    blk = max(int(max_block), 1)
    sxx = _kernel_sum(cx, nx, wx, cx, nx, wx, sigma, kind, blk)
    syy = _kernel_sum(cy, ny, wy, cy, ny, wy, sigma, kind, blk)
    sxy = _kernel_sum(cx, nx, wx, cy, ny, wy, sigma, kind, blk)
    return _wrap((sxx - 2.0 * sxy + syy).clamp_min(0).sqrt(), x, y)


@dataclass(frozen=True)
class FrameDistances:
    """Per-frame correspondence-free distances of two sequences (``(T,)`` arrays, data units).

    Attributes:
        chamfer: squared Chamfer per frame.
        hausdorff: Hausdorff per frame.
        kernel: kernel distance per frame, or ``None`` if not computed.
        sigma: kernel width used, or ``None``.
    """

    chamfer: np.ndarray
    hausdorff: np.ndarray
    kernel: np.ndarray | None
    sigma: float | None


def frame_distances(
    pred: object,
    gt: object,
    *,
    faces_pred: object | None = None,
    faces_gt: object | None = None,
    sigma: float | None = None,
    max_points: int | None = None,
    seed: int = 0,
    backend: str = "auto",
    max_block: int = DEFAULT_MAX_BLOCK,
    device: str | torch.device | None = None,
) -> FrameDistances:
    """Chamfer, Hausdorff and (if ``sigma``) kernel distance for every frame of two sequences.

    Args:
        pred: ``(T, N, 3)`` predicted vertices (any meshing).
        gt: ``(T, M, 3)`` ground-truth vertices (any meshing); same T (truncate first).
        faces_pred: ``(F, 3)`` faces of the prediction, for the varifold kernel (optional).
        faces_gt: ``(G, 3)`` faces of the ground truth.
        sigma: kernel width; ``None`` skips the kernel distance.
        max_points: subsample each frame to at most this many points for Chamfer/Hausdorff (same
            random subset every frame; ``None`` = all points).
        seed: RNG seed for the subsample.
        backend, max_block, device: as :func:`knn`.

    Returns:
        :class:`FrameDistances`.
    """
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    if p.ndim != 3 or g.ndim != 3 or p.shape[2] != 3 or g.shape[2] != 3 or p.shape[0] != g.shape[0]:
        raise MeshtalkError(f"frame_distances: expected (T, N, 3) and (T, M, 3) with equal T, got {p.shape} and {g.shape}")
    rng = np.random.default_rng(seed)
    sel_p = np.sort(rng.choice(p.shape[1], max_points, replace=False)) if max_points and p.shape[1] > max_points else slice(None)
    sel_g = np.sort(rng.choice(g.shape[1], max_points, replace=False)) if max_points and g.shape[1] > max_points else slice(None)
    t = p.shape[0]
    cd, hd = np.empty(t), np.empty(t)
    kd = np.empty(t) if sigma is not None else None
    for i in range(t):
        kw = dict(backend=backend, max_block=max_block, device=device)
        cd[i] = chamfer_distance(p[i][sel_p], g[i][sel_g], **kw)
        hd[i] = hausdorff_distance(p[i][sel_p], g[i][sel_g], **kw)
        if kd is not None:
            kd[i] = kernel_distance(p[i], g[i], sigma=sigma, faces_x=faces_pred, faces_y=faces_gt,
                                    max_block=max_block, device=device)
    return FrameDistances(chamfer=cd, hausdorff=hd, kernel=kd, sigma=sigma)
