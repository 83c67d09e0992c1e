"""Point-to-surface distance to a sampled surface through local quadric fits (moving least squares).

Chamfer between two meshings of one surface is not zero: a vertex of one meshing is at a
tangential distance of about half the other's spacing ``h`` from its nearest sample, and the
surface curves away over that distance by about ``curvature * h^2 / 8`` along the normal. On a
coarse template that bias exceeds speech motion. Here the surface near a query point is
reconstructed from its ``k`` nearest samples as a height field ``z = q(x, y)`` (a quadratic in the
tangent coordinates of a weighted-PCA frame), and the residual is the query's height above it.
A quadric reproduces the surface to third order, so the residual of a point lying on the surface
is ``O(h^3)`` whatever the two samplings, and it measures only the normal offset (sliding along the
surface costs nothing; the trainer's tangential term handles that).

The neighbour selection, the weights and the frame (centroid, normal, tangents) depend on the
samples only and are held constant for differentiation; the quadric coefficients are a
differentiable least-squares solve, so gradients reach both the query points (exactly) and the
samples (exactly where the samples are fitted exactly, e.g. on a plane; to first order in the fit
residual elsewhere).
"""

from __future__ import annotations

import torch

#: Coefficients of the quadric height field ``[1, x, y, x^2, xy, y^2]``.
_N_QUADRIC = 6


def knn_masked(
    queries: torch.Tensor,
    points: torch.Tensor,
    lengths: torch.Tensor,
    k: int,
    *,
    point_chunk: int = 4096,
) -> torch.Tensor:
    """Indices of the ``k`` nearest valid points of every query (no gradient).

    Args:
        queries: (B, N, 3).
        points: (B, P, 3), padded; only the first ``lengths[b]`` rows of batch b are points.
        lengths: (B,) valid points per batch (each >= k).
        k: neighbours per query.
        point_chunk: queries per chunk; at most ``B * point_chunk * P`` distances exist at once.

    Returns:
        (B, N, k) int64 indices into ``points``, nearest first; padding is never returned.
    """
    n_pts = points.shape[1]
    valid = torch.arange(n_pts, device=points.device)[None] < lengths[:, None]      # (B, P)
    out = []
    with torch.no_grad():
        for s in range(0, queries.shape[1], point_chunk):
            d = torch.cdist(queries[:, s:s + point_chunk].detach(), points.detach())   # (B, n, P)
            d = d.masked_fill(~valid[:, None, :], float("inf"))
            out.append(d.topk(k, dim=2, largest=False).indices)
    return torch.cat(out, dim=1)


def local_quadric_residual(
    queries: torch.Tensor,
    points: torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    k: int = 12,
    point_chunk: int = 4096,
) -> torch.Tensor:
    """Signed height of each query above the surface sampled by ``points``.

    For each query the ``k`` nearest valid samples define a frame (weighted centroid ``c``, PCA
    normal ``n``, tangents ``t1, t2``; weights ``exp(-2 d^2 / d_k^2)`` with ``d`` the distance to
    the nearest sample and ``d_k`` its largest value) and a weighted least-squares quadric ``z = q(x, y)`` in that frame. The residual
    is ``(x - c).n - q((x - c).t1, (x - c).t2)``; its sign follows the PCA normal, so use it squared.

    Args:
        queries: (B, N, 3) points whose distance to the surface is wanted.
        points: (B, P, 3) surface samples, padded along P.
        lengths: (B,) valid samples per batch (default: all P). Padding never enters a fit.
        k: samples per local fit (a plane is fitted when fewer than 6 are available).
        point_chunk: queries per chunk (bounds the memory of the neighbour search).

    Returns:
        (B, N) residuals, differentiable w.r.t. ``queries`` and ``points``.

    Raises:
        ValueError: shapes disagree, ``k < 3`` or a batch has fewer than 3 valid samples.
    """
    if queries.dim() != 3 or points.dim() != 3 or queries.shape[-1] != 3 or points.shape[-1] != 3 \
            or queries.shape[0] != points.shape[0]:
        raise ValueError(f"queries (B, N, 3) and points (B, P, 3) need the same B; got "
                         f"{tuple(queries.shape)} and {tuple(points.shape)}")
    b, n_pts = points.shape[:2]
    if lengths is None:
        lengths = torch.full((b,), n_pts, dtype=torch.long, device=points.device)
    lengths = torch.as_tensor(lengths, device=points.device).long()
    if lengths.shape != (b,) or bool((lengths > n_pts).any()):
        raise ValueError(f"lengths must be (B,) = ({b},) with values <= {n_pts}")
    k = min(int(k), int(lengths.min()))
    if k < 3:
        raise ValueError(f"a local surface fit needs at least 3 samples; got k={k}")
    idx = knn_masked(queries, points, lengths, k, point_chunk=point_chunk)           # (B, N, k)
    return _quadric_height(queries, _gather(points, idx))


def _gather(points: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """(B, P, 3) points, (B, N, k) indices -> (B, N, k, 3) neighbours (differentiable)."""
    b, n, k = idx.shape
    flat = idx.reshape(b, n * k, 1).expand(-1, -1, 3)
    return torch.gather(points, 1, flat).reshape(b, n, k, 3)


def _quadric_height(x: torch.Tensor, nb: torch.Tensor) -> torch.Tensor:
    """Height of x (B, N, 3) above the weighted quadric fitted to nb (B, N, k, 3), nearest first.

    Weights and frame depend on the samples only (distances to the nearest sample), so the
    derivative with respect to ``x`` is exact wherever the neighbour set does not change.
    """
    k = nb.shape[2]
    with torch.no_grad():
        nb_d = nb.detach()
        d2 = ((nb_d - nb_d[:, :, :1]) ** 2).sum(-1)                                  # (B, N, k)
        radius2 = d2.max(dim=2, keepdim=True).values.clamp(min=1e-30)
        w = torch.exp(-2.0 * d2 / radius2)                                           # (B, N, k)
        wsum = w.sum(2, keepdim=True)
        centre = (w[..., None] * nb_d).sum(2) / wsum                                 # (B, N, 3)
        rel = nb_d - centre[:, :, None]
        cov = torch.einsum("bnk,bnki,bnkj->bnij", w, rel, rel)                       # (B, N, 3, 3)
        _, frame = torch.linalg.eigh(cov.double())                                   # ascending
        frame = frame.to(x.dtype)
        normal, t2, t1 = frame[..., 0], frame[..., 1], frame[..., 2]                 # (B, N, 3)
        scale = radius2.sqrt()                                                       # (B, N, 1)
    rel = nb - centre[:, :, None]                                                     # (B, N, k, 3)
    u = (rel * t1[:, :, None]).sum(-1) / scale
    v = (rel * t2[:, :, None]).sum(-1) / scale
    z = (rel * normal[:, :, None]).sum(-1)
    xq = x - centre
    uq = (xq * t1).sum(-1) / scale[..., 0]
    vq = (xq * t2).sum(-1) / scale[..., 0]
    zq = (xq * normal).sum(-1)
    basis = _basis(u, v, quadric=k >= _N_QUADRIC)                                    # (B, N, k, m)
    basis_q = _basis(uq, vq, quadric=k >= _N_QUADRIC)                                # (B, N, m)
    wb = basis * w[..., None]
    gram = wb.transpose(-1, -2) @ basis                                              # (B, N, m, m)
    ridge = 1e-6 * gram.diagonal(dim1=-2, dim2=-1).sum(-1).clamp(min=1e-12)
    gram = gram + ridge[..., None, None] * torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    rhs = (wb * z[..., None]).sum(2)                                                 # (B, N, m)
    coef = torch.linalg.solve(gram.double(), rhs.double()[..., None])[..., 0].to(x.dtype)
    return zq - (coef * basis_q).sum(-1)


def _basis(u: torch.Tensor, v: torch.Tensor, *, quadric: bool) -> torch.Tensor:
    one = torch.ones_like(u)
    if not quadric:
        return torch.stack([one, u, v], -1)
    return torch.stack([one, u, v, u * u, u * v, v * v], -1)
