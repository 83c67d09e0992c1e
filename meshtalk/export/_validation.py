"""Checks done once at the public boundary of :mod:`meshtalk.export`.

Every writer validates its arrays here before opening any file, so that a bad array never
leaves a partly written file behind and NaN/inf never reach disk.
"""

from __future__ import annotations

import math

import numpy as np

from meshtalk.errors import MeshtalkError

#: Largest magnitude that survives the cast to float32 (every format stores float32).
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_finite(arr: np.ndarray, name: str, per_frame: bool) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        if per_frame:
            frames = np.unique(np.nonzero(bad)[0])
            raise MeshtalkError(f"{name} contains NaN or inf in {len(frames)} frame(s), "
                                f"first at frame {frames[0]}; nothing was written")
        raise MeshtalkError(f"{name} contains NaN or inf; nothing was written")
    if arr.size and float(np.abs(arr).max()) > _FLOAT32_MAX:
        raise MeshtalkError(f"{name} has values beyond the float32 range; nothing was written")


def check_motion(motion: np.ndarray, num_verts: int | None = None, *, name: str = "motion") -> np.ndarray:
    """Validate a motion sequence.

    Args:
        motion: (T, V, 3), or (T, V*3) as FaceFormer-style models write it; any real dtype.
        num_verts: the V it must have (that of the neutral mesh), or None.
        name: how error messages call the array.

    Returns:
        (T, V, 3) float64 (a view when the input already is float64).

    Raises:
        MeshtalkError: not numeric, wrong shape, T or V zero, V mismatch, NaN/inf.
    """
    arr = np.asarray(motion)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise MeshtalkError(f"{name} must be a real array, got dtype {arr.dtype}")
    if arr.ndim == 2 and arr.shape[1] % 3 == 0:
        arr = arr.reshape(arr.shape[0], -1, 3)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise MeshtalkError(f"{name} must be (T, V, 3) or (T, V*3), got shape {np.shape(motion)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MeshtalkError(f"{name} is empty: shape {arr.shape}")
    if num_verts is not None and arr.shape[1] != num_verts:
        raise MeshtalkError(f"{name} has {arr.shape[1]} vertices per frame but the mesh has "
                            f"{num_verts}; they must share the mesh's vertex order")
    arr = arr.astype(np.float64, copy=False)
    _check_finite(arr, name, per_frame=True)
    return arr


def check_verts(verts: np.ndarray, *, name: str = "neutral_verts") -> np.ndarray:
    """Validate vertex positions.

    Args:
        verts: (V, 3) real.

    Returns:
        (V, 3) float64.

    Raises:
        MeshtalkError: wrong shape, empty, NaN/inf.
    """
    arr = np.asarray(verts)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise MeshtalkError(f"{name} must be a real array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
        raise MeshtalkError(f"{name} must be (V, 3) with V > 0, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    _check_finite(arr, name, per_frame=False)
    return arr


def check_faces(faces: np.ndarray, num_verts: int, *, name: str = "faces") -> np.ndarray:
    """Validate triangles.

    Args:
        faces: (F, 3) integer indices into V vertices (0-based).
        num_verts: V.

    Returns:
        (F, 3) int64.

    Raises:
        MeshtalkError: not integer, wrong shape, no triangles, index out of range.
    """
    arr = np.asarray(faces)
    if not np.issubdtype(arr.dtype, np.integer):
        raise MeshtalkError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
        raise MeshtalkError(f"{name} must be (F, 3) with F > 0, got shape {arr.shape}")
    arr = arr.astype(np.int64, copy=False)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= num_verts:
        raise MeshtalkError(f"{name} index out of range: got [{lo}, {hi}] for {num_verts} vertices")
    return arr


def check_fps(fps: float) -> float:
    """Validate a frame rate.

    Returns:
        ``fps`` as float.

    Raises:
        MeshtalkError: not a finite positive number.
    """
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise MeshtalkError(f"fps must be a number, got {fps!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise MeshtalkError(f"fps must be a finite positive number, got {fps!r}")
    return value


def check_start(start: float) -> float:
    """Validate a start frame (finite, any sign)."""
    try:
        value = float(start)
    except (TypeError, ValueError):
        raise MeshtalkError(f"start frame must be a number, got {start!r}") from None
    if not math.isfinite(value):
        raise MeshtalkError(f"start frame must be finite, got {start!r}")
    return value
