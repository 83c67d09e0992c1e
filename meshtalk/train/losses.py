"""Training losses: registered (vertex MSE, temporal velocity, lip-weighted) and unregistered
(point-to-surface through local quadric fits, or plain Chamfer).

All motion tensors are (T, V, 3) for one sequence; the velocity loss differences along time
(axis 0), not along the vertex index.
"""

from __future__ import annotations

import torch

from meshtalk.train.surface_distance import local_quadric_residual


def vertex_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared vertex error ``mean over (t, v, xyz) of (pred - target)^2``.

    Args:
        pred: (T, V, 3) predicted positions.
        target: (T, V, 3) ground truth in the same vertex order.
    """
    _check_same(pred, target)
    return torch.mean((pred - target) ** 2)


def velocity_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between frame-to-frame velocities: ``mean((dp/dt - dg/dt)^2)`` over time steps.

    Args:
        pred: (T, V, 3).
        target: (T, V, 3).

    Returns:
        A scalar; zero when T < 2.
    """
    _check_same(pred, target)
    if pred.shape[0] < 2:
        return pred.sum() * 0.0
    return torch.mean(((pred[1:] - pred[:-1]) - (target[1:] - target[:-1])) ** 2)


def lip_weighted_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Vertex MSE weighted per vertex (e.g. 1 on the lips, 0 elsewhere).

    Args:
        pred: (T, V, 3).
        target: (T, V, 3).
        weights: (V,) non-negative vertex weights.

    Returns:
        ``sum_v w_v mean_{t,xyz}(err^2) / sum_v w_v``.
    """
    _check_same(pred, target)
    if weights.shape != pred.shape[1:2]:
        raise ValueError(f"weights must be (V,) = ({pred.shape[1]},), got {tuple(weights.shape)}")
    per_vertex = ((pred - target) ** 2).mean(dim=(0, 2))
    return (per_vertex * weights).sum() / weights.sum().clamp(min=1e-12)


def _point_target_lengths(pred: torch.Tensor, target: torch.Tensor, target_lengths, *, min_points: int) -> torch.Tensor:
    """Check a (T, V, 3) prediction against (T, P, 3) padded target points; return the (T,) valid
    point counts (default: all P), each in ``[min_points, P]``."""
    if pred.dim() != 3 or target.dim() != 3 or pred.shape[0] != target.shape[0]:
        raise ValueError(f"pred (T, V, 3) and target (T, P, 3) need the same T; got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    n_frames, n_tgt = target.shape[0], target.shape[1]
    if target_lengths is None:
        return torch.full((n_frames,), n_tgt, dtype=torch.long, device=pred.device)
    target_lengths = torch.as_tensor(target_lengths, device=pred.device).long()
    if target_lengths.shape != (n_frames,) or bool((target_lengths < min_points).any()) \
            or bool((target_lengths > n_tgt).any()):
        raise ValueError(f"target_lengths must be (T,) = ({n_frames},) with values in [{min_points}, {n_tgt}]")
    return target_lengths


def chamfer_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    target_lengths: torch.Tensor | None = None,
    *,
    frame_chunk: int = 8,
    point_chunk: int = 4096,
) -> torch.Tensor:
    """Per-frame symmetric Chamfer distance (squared), averaged over frames.

    For each frame t with predicted points P_t and target points Q_t (only the first
    ``target_lengths[t]`` rows of ``target[t]`` are points; the rest is padding and is never
    used): ``mean_{p in P_t} min_q |p - q|^2 + mean_{q in Q_t} min_p |p - q|^2``.
    Memory is bounded by chunking frames and predicted points: at most
    ``frame_chunk * point_chunk * P`` distances exist at once.

    Args:
        pred: (T, V, 3) predicted positions.
        target: (T, P, 3) target points, padded along P.
        target_lengths: (T,) valid points per target frame (default: all P).
        frame_chunk: frames per chunk.
        point_chunk: predicted points per chunk.

    Returns:
        Scalar loss.
    """
    target_lengths = _point_target_lengths(pred, target, target_lengths, min_points=1)
    n_frames, n_pred, n_tgt = pred.shape[0], pred.shape[1], target.shape[1]
    total = pred.new_zeros(())
    for f0 in range(0, n_frames, frame_chunk):
        p = pred[f0:f0 + frame_chunk]
        q = target[f0:f0 + frame_chunk]
        lens = target_lengths[f0:f0 + frame_chunk]
        valid = torch.arange(n_tgt, device=pred.device)[None] < lens[:, None]      # (t, P)
        max_len = int(lens.max())
        q, valid = q[:, :max_len], valid[:, :max_len]
        q_min = torch.full(q.shape[:2], float("inf"), device=pred.device, dtype=pred.dtype)
        p_term = pred.new_zeros(())
        for v0 in range(0, n_pred, point_chunk):
            pc = p[:, v0:v0 + point_chunk]
            d = torch.cdist(pc, q).pow(2)                                            # (t, v, P)
            d = d.masked_fill(~valid[:, None, :], float("inf"))
            p_term = p_term + d.min(dim=2).values.sum()
            q_min = torch.minimum(q_min, d.min(dim=1).values)
        p_term = p_term / n_pred
        q_term = (q_min.masked_fill(~valid, 0.0).sum(dim=1) / lens.to(pred.dtype)).sum()
        total = total + p_term + q_term
    return total / n_frames


def surface_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    target_lengths: torch.Tensor | None = None,
    *,
    k: int = 8,
    reverse: float = 0.0,
    reference: torch.Tensor | None = None,
    frame_chunk: int = 8,
    point_chunk: int = 4096,
) -> torch.Tensor:
    """Per-frame squared point-to-surface distance between a predicted mesh and target points.

    The forward term is ``mean_v r_v^2`` with ``r_v`` the height of predicted vertex v above the
    target surface, reconstructed around it by a local quadric fit of its ``k`` nearest target
    points (:func:`~meshtalk.train.surface_distance.local_quadric_residual`). Unlike Chamfer, it
    is (to third order in the sample spacing) zero when the prediction lies on the target surface,
    however differently the two are sampled. The optional reverse term does the same for the target
    points against the surface of the predicted vertices, so that no part of the target is left
    uncovered. Only the first ``target_lengths[t]`` rows of ``target[t]`` are points.

    Args:
        pred: (T, V, 3) predicted positions.
        target: (T, P, 3) target points, padded along P.
        target_lengths: (T,) valid points per target frame (default: all P).
        k: samples per local surface fit.
        reverse: weight of the target -> prediction term.
        reference: (V,) residuals of the undeformed template against the neutral target (same
            sampling as ``target``), subtracted from the forward residuals to cancel what is left of
            the sampling bias; None for no correction.
        frame_chunk: frames per chunk.
        point_chunk: query points per chunk of the neighbour search (at most
            ``frame_chunk * point_chunk * P`` distances exist at once).

    Returns:
        Scalar loss, averaged over frames.

    Raises:
        ValueError: shapes disagree or a length is out of range.
    """
    target_lengths = _point_target_lengths(pred, target, target_lengths, min_points=3)
    n_frames, n_pred, n_tgt = pred.shape[0], pred.shape[1], target.shape[1]
    if reference is not None and reference.shape != (n_pred,):
        raise ValueError(f"reference must be (V,) = ({n_pred},), got {tuple(reference.shape)}")
    total = pred.new_zeros(())
    for f0 in range(0, n_frames, frame_chunk):
        p = pred[f0:f0 + frame_chunk]
        lens = target_lengths[f0:f0 + frame_chunk]
        q = target[f0:f0 + frame_chunk, : int(lens.max())]
        r = local_quadric_residual(p, q, lens, k=k, point_chunk=point_chunk)         # (t, V)
        if reference is not None:
            r = r - reference[None].to(r)
        total = total + r.pow(2).mean(dim=1).sum()
        if reverse:
            own = torch.full((p.shape[0],), n_pred, dtype=torch.long, device=pred.device)
            rq = local_quadric_residual(q, p, own, k=k, point_chunk=point_chunk)      # (t, P)
            valid = torch.arange(q.shape[1], device=pred.device)[None] < lens[:, None]
            per_frame = (rq.pow(2) * valid).sum(dim=1) / lens.to(rq.dtype)
            total = total + reverse * per_frame.sum()
    return total / n_frames


def _check_same(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape or pred.dim() != 3:
        raise ValueError(f"pred and target must both be (T, V, 3); got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
