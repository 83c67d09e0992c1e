"""Mouth-opening and mouth-width curves over time from per-frame vertex positions.

Given a sequence ``verts: (T, V, 3)`` and the lip landmarks of its meshing (found once on the
neutral mesh with :func:`meshtalk.metrics.landmarks.find_lip_landmarks`, tracked by vertex index):

* opening ``o(t) = ||x_upper(t) - x_lower(t)||`` (upper and lower lip midpoints),
* width ``w(t) = ||x_left(t) - x_right(t)||`` (mouth corners),

both in data units. Each landmark may be tracked by one vertex or by a weighted average of several
(``(K,)`` indices with ``(K,)`` weights), e.g. to smooth scan noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.metrics._validation import as_motion
from meshtalk.metrics.landmarks import LipLandmarks

__all__ = ["MouthCurves", "mouth_curves", "mouth_opening_curve", "mouth_width_curve", "track_point"]


def track_point(verts: object, indices: object, weights: object | None = None) -> np.ndarray:
    """Trajectory of a point attached to vertices.

    Args:
        verts: ``(T, V, 3)`` or ``(T, V*3)`` vertex positions.
        indices: one vertex index, or ``(K,)`` indices.
        weights: ``(K,)`` non-negative weights (default uniform), normalised to sum 1.

    Returns:
        ``(T, 3)`` float64 positions.

    Raises:
        MeshtalkError: indices out of range, bad weights.
    """
    x = as_motion(verts, "verts")
    idx = np.atleast_1d(np.asarray(indices))
    if idx.dtype.kind not in "iu" or idx.ndim != 1 or idx.size == 0:
        raise MeshtalkError(f"track_point: expected integer vertex indices, got {np.asarray(indices)!r}")
    if idx.min() < 0 or idx.max() >= x.shape[1]:
        raise MeshtalkError(f"track_point: vertex index {int(idx.max())} out of range for {x.shape[1]} vertices")
    if weights is None:
        w = np.full(idx.size, 1.0 / idx.size)
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != idx.shape or (w < 0).any() or w.sum() <= 0:
            raise MeshtalkError(f"track_point: weights must be {idx.size} non-negative numbers with a positive sum")
        w = w / w.sum()
    return np.einsum("tkc,k->tc", x[:, idx, :], w)


def _indices(landmarks: LipLandmarks | Sequence[int], names: tuple[str, str]) -> tuple[int, int]:
    if isinstance(landmarks, LipLandmarks):
        return landmarks.index(names[0]), landmarks.index(names[1])
    pair = tuple(int(i) for i in landmarks)
    if len(pair) != 2:
        raise MeshtalkError(f"expected LipLandmarks or two vertex indices ({names[0]}, {names[1]}), got {landmarks!r}")
    return pair  # type: ignore[return-value]


def mouth_opening_curve(verts: object, landmarks: LipLandmarks | Sequence[int]) -> np.ndarray:
    """Mouth opening over time.

    Args:
        verts: ``(T, V, 3)`` or ``(T, V*3)`` vertex positions on the landmarks' meshing.
        landmarks: :class:`LipLandmarks`, or ``(upper_index, lower_index)``.

    Returns:
        ``(T,)`` ``||x_upper(t) - x_lower(t)||``.
    """
    up, lo = _indices(landmarks, ("upper_lip", "lower_lip"))
    return np.linalg.norm(track_point(verts, up) - track_point(verts, lo), axis=1)


def mouth_width_curve(verts: object, landmarks: LipLandmarks | Sequence[int]) -> np.ndarray:
    """Mouth width over time.

    Args:
        verts: ``(T, V, 3)`` or ``(T, V*3)`` vertex positions on the landmarks' meshing.
        landmarks: :class:`LipLandmarks`, or ``(right_corner_index, left_corner_index)``.

    Returns:
        ``(T,)`` ``||x_left(t) - x_right(t)||``.
    """
    r, left = _indices(landmarks, ("right_corner", "left_corner"))
    return np.linalg.norm(track_point(verts, left) - track_point(verts, r), axis=1)


@dataclass(frozen=True)
class MouthCurves:
    """Opening and width curves of one sequence, ``(T,)`` each, data units."""

    opening: np.ndarray
    width: np.ndarray


def mouth_curves(verts: object, landmarks: LipLandmarks) -> MouthCurves:
    """Both curves of a ``(T, V, 3)`` sequence; see :func:`mouth_opening_curve`."""
    return MouthCurves(mouth_opening_curve(verts, landmarks), mouth_width_curve(verts, landmarks))
