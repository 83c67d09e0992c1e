"""Input checks shared by the metric modules (private).

Every public metric validates its arrays here once, at the boundary, and computes in float64.
"""

from __future__ import annotations

import warnings

import numpy as np

from meshtalk.errors import MeshtalkError


class SequenceLengthWarning(UserWarning):
    """Prediction and ground truth have different frame counts; both were truncated."""


class NonFiniteFrameWarning(UserWarning):
    """Frames holding NaN or inf were left out of a metric (and reported)."""


def _shape(x: object) -> str:
    return str(getattr(x, "shape", type(x).__name__))


def as_motion(x: object, name: str, *, n_vertices: int | None = None) -> np.ndarray:
    """Return a float64 ``(T, V, 3)`` copy of a vertex sequence.

    Args:
        x: ``(T, V, 3)`` or ``(T, V*3)`` (the FaceFormer ``vertices_npy`` layout) array.
        name: what to call the array in error messages.
        n_vertices: expected V, if known; needed to reshape ambiguous input.

    Returns:
        ``(T, V, 3)`` float64 array (NaN/inf are kept; see :func:`nonfinite_frames`).

    Raises:
        MeshtalkError: on any other shape or a non-numeric dtype.
    """
    try:
        a = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic array-likes
        raise MeshtalkError(f"{name}: cannot read as an array ({exc})") from None
    if a.dtype.kind not in "fiu":
        raise MeshtalkError(f"{name}: expected a numeric vertex array, got dtype {a.dtype}")
    if a.ndim == 2 and a.shape[1] % 3 == 0 and a.shape[1] > 0:
        a = a.reshape(a.shape[0], -1, 3)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] == 0 or a.shape[1] == 0:
        raise MeshtalkError(
            f"{name}: expected vertex positions of shape (T, V, 3) or (T, V*3) with T, V > 0, "
            f"got {_shape(a)}"
        )
    if n_vertices is not None and a.shape[1] != n_vertices:
        raise MeshtalkError(f"{name}: expected {n_vertices} vertices per frame, got {a.shape[1]}")
    return a.astype(np.float64, copy=True)


def as_curve(x: object, name: str) -> np.ndarray:
    """Return a finite float64 time series of shape ``(T, k)`` (1-D input becomes ``(T, 1)``).

    Raises:
        MeshtalkError: on an empty series, more than two dimensions, or NaN/inf.
    """
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise MeshtalkError(f"{name}: expected a numeric time series, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise MeshtalkError(f"{name}: expected a time series of shape (T,) or (T, k) with T > 0, got {_shape(a)}")
    a = a.astype(np.float64, copy=True)
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        idx = np.flatnonzero(bad)
        raise MeshtalkError(
            f"{name}: {idx.size} of {a.shape[0]} samples are NaN/inf (first at index {idx[0]})"
        )
    return a


def nonfinite_frames(motion: np.ndarray) -> np.ndarray:
    """``(T,)`` bool: frames of a ``(T, V, 3)`` array that hold any NaN or inf."""
    return ~np.isfinite(motion).reshape(motion.shape[0], -1).all(axis=1)


def truncate_pair(pred: np.ndarray, gt: np.ndarray, label: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Cut two sequences to the shorter length, warning when they differ.

    This is the convention of every published evaluation script (FaceFormer, CodeTalker, ScanTalk).
    """
    n_p, n_g = pred.shape[0], gt.shape[0]
    if n_p != n_g:
        where = f"{label}: " if label else ""
        warnings.warn(
            f"{where}prediction has {n_p} frames and ground truth {n_g}; both truncated to {min(n_p, n_g)}",
            SequenceLengthWarning,
            stacklevel=3,
        )
        n = min(n_p, n_g)
        return pred[:n], gt[:n]
    return pred, gt


def check_same_vertices(pred: np.ndarray, gt: np.ndarray, what: str) -> None:
    """Raise the one-line error for registered metrics on meshes of different vertex counts."""
    if pred.shape[1] != gt.shape[1]:
        raise MeshtalkError(
            f"{what} needs prediction and ground truth on the same meshing, but the prediction has "
            f"{pred.shape[1]} vertices and the ground truth {gt.shape[1]}; use the correspondence-free "
            "metrics instead (chamfer/hausdorff/kernel distances, lip curves: "
            "meshtalk evaluate --unregistered)"
        )


def handle_nonfinite(
    pred: np.ndarray, gt: np.ndarray, nan_policy: str, label: str = ""
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``nan_policy`` to frames holding NaN/inf in either sequence.

    Returns:
        ``(pred_kept, gt_kept, dropped_frame_indices)``.

    Raises:
        MeshtalkError: with ``nan_policy='raise'`` when any frame is non-finite, naming the frames.
    """
    if nan_policy not in ("raise", "omit"):
        raise MeshtalkError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    bad = nonfinite_frames(pred) | nonfinite_frames(gt)
    idx = np.flatnonzero(bad)
    if idx.size == 0:
        return pred, gt, idx
    where = f"{label}: " if label else ""
    first = ", ".join(str(i) for i in idx[:5]) + (", ..." if idx.size > 5 else "")
    if nan_policy == "raise":
        raise MeshtalkError(
            f"{where}{idx.size} of {bad.size} frames hold NaN/inf (frames {first}); "
            "fix the data or pass nan_policy='omit' to leave them out and report them"
        )
    warnings.warn(
        f"{where}left out {idx.size} of {bad.size} frames holding NaN/inf (frames {first})",
        NonFiniteFrameWarning,
        stacklevel=3,
    )
    return pred[~bad], gt[~bad], idx
