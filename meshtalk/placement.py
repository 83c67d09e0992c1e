"""Automatic placement of a scan into a model's canonical frame, and its exact inverse.

A talking-head model is trained on heads in one *canonical frame*: up is +Y, the face looks
towards +Z, the bounding box (in that orientation) is centred on the origin and its diagonal is
:data:`CANONICAL_DIAGONAL` units long. A user's scan can be in any units, orientation and
position; :func:`estimate_placement` finds the similarity transform

    canonical = scale * (x - center) @ rotation.T

(``rotation`` rows: the scan's lateral, up and forward axes in its own coordinates) and
:class:`Placement` applies it and its exact inverse to points, displacements and whole motions,
so the animation comes back in the user's coordinates and vertex order.

Orientation: ``up`` and ``front`` given by the user win; otherwise the face frame is estimated from
the geometry (:func:`meshtalk.metrics.landmarks.estimate_face_frame`: mirror symmetry for the
lateral axis, the nose for forward, the lip line below the nose for the up sign) and snapped to
the nearest coordinate axes when it is within :data:`SNAP_DEGREES` of them (scans are usually
axis-aligned, and the estimate is a heuristic). Scale: the bounding-box diagonal in the face
frame, or ``metres_per_unit`` given by the user. All computation is in float64.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from meshtalk.errors import MeshtalkError

logger = logging.getLogger(__name__)

#: Bounding-box diagonal of a placed mesh, in canonical units.
CANONICAL_DIAGONAL = 4.0
#: An estimated orientation within this many degrees of the coordinate axes is snapped to them.
SNAP_DEGREES = 20.0
#: Per-axis extent ratio (placed / training) beyond which a warning is given.
PROPORTION_TOLERANCE = 0.35

_AXIS_NAMES = {"+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0), "-y": (0, -1, 0),
               "+z": (0, 0, 1), "-z": (0, 0, -1)}


def parse_axis(value: str | Sequence[float] | None) -> np.ndarray | None:
    """An axis from ``"+y"``, ``"-z"``, ``"x"``, ``"0,1,0"`` or a 3-sequence (normalised).

    Raises:
        MeshtalkError: unknown name, wrong length, zero or non-finite vector.
    """
    if value is None:
        return None
    if isinstance(value, str):
        key = value.strip().lower()
        if key in ("x", "y", "z"):
            key = "+" + key
        if key in _AXIS_NAMES:
            vec = np.asarray(_AXIS_NAMES[key], np.float64)
        else:
            try:
                vec = np.asarray([float(t) for t in key.replace(" ", ",").split(",") if t], np.float64)
            except ValueError:
                raise MeshtalkError(
                    f"axis {value!r}: use +x, -x, +y, -y, +z, -z or three numbers like 0,1,0"
                ) from None
    else:
        vec = np.asarray(value, np.float64).ravel()
    if vec.shape != (3,) or not np.all(np.isfinite(vec)) or np.linalg.norm(vec) == 0:
        raise MeshtalkError(f"axis {value!r}: need a non-zero 3-vector (e.g. +y or 0,1,0)")
    return vec / np.linalg.norm(vec)


@dataclass(frozen=True)
class Placement:
    """A similarity transform from a scan's coordinates into the canonical frame.

    ``canonical = scale * (x - center) @ rotation.T``; the inverse is
    ``x = (canonical / scale) @ rotation + center``. Displacements only rotate and scale.

    Attributes:
        rotation: (3, 3) orthonormal, det +1; rows are the scan's lateral, up and forward axes
            expressed in the scan's coordinates.
        scale: canonical units per scan unit (> 0).
        center: (3,) the scan point that maps to the canonical origin.
        notes: how each part was found (for logs and the CLI summary).
        warnings: problems found (scan far from the training data), each with its fix.
    """

    rotation: np.ndarray
    scale: float
    center: np.ndarray
    notes: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        r = np.asarray(self.rotation, np.float64)
        c = np.asarray(self.center, np.float64).reshape(-1)
        if r.shape != (3, 3) or not np.allclose(r @ r.T, np.eye(3), atol=1e-9) or np.linalg.det(r) < 0:
            raise MeshtalkError(f"placement rotation must be a proper 3x3 rotation, got {r.tolist()}")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise MeshtalkError(f"placement scale must be positive and finite, got {self.scale}")
        if c.shape != (3,) or not np.all(np.isfinite(c)):
            raise MeshtalkError(f"placement center must be a finite 3-vector, got {c.tolist()}")
        object.__setattr__(self, "rotation", r)
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "scale", float(self.scale))

    @classmethod
    def identity(cls) -> "Placement":
        """The transform that leaves points where they are."""
        return cls(np.eye(3), 1.0, np.zeros(3))

    def to_canonical(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) scan points -> (..., 3) canonical points (float64)."""
        p = np.asarray(points, np.float64)
        return self.scale * ((p - self.center) @ self.rotation.T)

    def from_canonical(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) canonical points -> (..., 3) scan points (float64); exact inverse."""
        p = np.asarray(points, np.float64)
        return (p / self.scale) @ self.rotation + self.center

    def vectors_to_canonical(self, vectors: np.ndarray) -> np.ndarray:
        """(..., 3) displacements in scan units -> canonical units (rotation and scale only)."""
        return self.scale * (np.asarray(vectors, np.float64) @ self.rotation.T)

    def vectors_from_canonical(self, vectors: np.ndarray) -> np.ndarray:
        """(..., 3) canonical displacements -> scan units; exact inverse."""
        return (np.asarray(vectors, np.float64) / self.scale) @ self.rotation

    def describe(self) -> str:
        """One line: orientation (where the scan's up and front point) and scale."""
        names = {tuple(v): k for k, v in _AXIS_NAMES.items()}
        def axis(v):
            r = tuple(int(x) for x in np.round(v)) if np.allclose(np.abs(v).max(), 1.0) else None
            return names.get(r) or "(" + ", ".join(f"{x:.3f}" for x in v) + ")"
        return (f"up {axis(self.rotation[1])}, front {axis(self.rotation[2])}, "
                f"scale x{self.scale:.4g}, centre {np.round(self.center, 6).tolist()}")


def _snap(frame_axes: np.ndarray) -> np.ndarray | None:
    """Nearest signed-permutation rotation to ``frame_axes`` if within :data:`SNAP_DEGREES`."""
    snapped = np.zeros((3, 3))
    for i, row in enumerate(frame_axes):
        j = int(np.argmax(np.abs(row)))
        snapped[i, j] = np.sign(row[j])
    if abs(np.linalg.det(snapped) - 1.0) > 1e-9:
        return None
    cos = np.clip(np.sum(snapped * frame_axes, axis=1), -1.0, 1.0)
    if np.degrees(np.arccos(cos)).max() > SNAP_DEGREES:
        return None
    return snapped


def _rotation(up: np.ndarray, front: np.ndarray) -> np.ndarray:
    front = front / np.linalg.norm(front)
    up = up - (up @ front) * front
    n = np.linalg.norm(up)
    if n < 1e-6:
        raise MeshtalkError("--up and --front are parallel; give two perpendicular directions")
    up = up / n
    lateral = np.cross(up, front)
    return np.stack([lateral, up, front])


def estimate_placement(
    verts: np.ndarray,
    faces: np.ndarray | None = None,
    *,
    up: str | Sequence[float] | None = None,
    front: str | Sequence[float] | None = None,
    metres_per_unit: float | None = None,
    canonical_per_metre: float | None = None,
    reference_extent: Sequence[float] | None = None,
) -> Placement:
    """Find the transform that puts a neutral scan into the canonical frame.

    Args:
        verts: (V, 3) neutral vertices in the user's coordinates.
        faces: (F, 3) triangles, or None for a point cloud (used by the orientation estimate).
        up: the scan's up direction (``"+y"``, ``"0,0,1"``, ...); estimated when None.
        front: the direction the face looks at; estimated when None.
        metres_per_unit: the scan's unit in metres (0.001 for millimetres) to set the scale from
            the units instead of the bounding box; needs ``canonical_per_metre``.
        canonical_per_metre: canonical units per metre of the model's training heads.
        reference_extent: (3,) mean canonical bounding-box extent of the training heads; the
            placed scan is compared with it and a warning with the fix is given when far off.

    Returns:
        The :class:`Placement` (float64).

    Raises:
        MeshtalkError: bad vertices, degenerate geometry or bad overrides.
    """
    v = np.asarray(verts, np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) < 4:
        raise MeshtalkError(f"mesh vertices must have shape (V, 3) with V >= 4, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise MeshtalkError("mesh vertices contain NaN or infinite values")
    notes: list[str] = []
    warnings: list[str] = []
    up_v, front_v = parse_axis(up), parse_axis(front)
    if up_v is not None and front_v is not None:
        rotation = _rotation(up_v, front_v)
        notes.append("orientation from --up/--front")
    else:
        from meshtalk.metrics.landmarks import estimate_face_frame

        try:
            frame = estimate_face_frame(v, faces)
            est = np.stack([frame.lateral, frame.up, frame.forward])
        except MeshtalkError as exc:
            raise MeshtalkError(f"cannot estimate the face orientation ({exc}); give --up and --front") from None
        if up_v is not None:
            f_est = est[2] - (est[2] @ up_v) * up_v
            rotation = _rotation(up_v, f_est if np.linalg.norm(f_est) > 1e-6 else est[2])
            notes.append("up from --up, front estimated")
        elif front_v is not None:
            rotation = _rotation(est[1], front_v) if abs(est[1] @ front_v) < 0.99 else _rotation(est[0], front_v)
            notes.append("front from --front, up estimated")
        else:
            snapped = _snap(est)
            flipped = False
            if snapped is not None and (snapped[1] @ ([0, -1, 0]) == 1 or snapped[1] @ ([0, 0, -1]) == 1):
                # the up sign is the weakest part of the estimate (a lip-valley cue that coarse
                # meshes can fool); an axis-aligned scan is +y- or +z-up, not stored upside down
                snapped = _rotation(-snapped[1], snapped[2])
                flipped = True
            rotation = snapped if snapped is not None else _rotation(est[1], est[2])
            notes.append("orientation estimated" + (" (snapped to the axes)" if snapped is not None else "")
                         + (" with the up sign of the axes" if flipped else ""))
            if snapped is None:
                warnings.append(
                    "the scan is not axis-aligned; its orientation was estimated from the geometry "
                    "(check the result, or pass --up and --front, e.g. --up +y --front +z)")
    local = v @ rotation.T
    lo, hi = local.min(0), local.max(0)
    diag = float(np.linalg.norm(hi - lo))
    if diag <= 0:
        raise MeshtalkError("mesh has zero extent (all vertices coincide)")
    if metres_per_unit is not None:
        if not (np.isfinite(metres_per_unit) and metres_per_unit > 0):
            raise MeshtalkError(f"--scale must be a positive number (metres per mesh unit), got {metres_per_unit}")
        if canonical_per_metre is None:
            raise MeshtalkError("this model does not record its units; leave --scale out (automatic)")
        scale = float(metres_per_unit) * float(canonical_per_metre)
        notes.append(f"scale from --scale ({metres_per_unit:g} m per unit)")
    else:
        scale = CANONICAL_DIAGONAL / diag
        notes.append("scale from the bounding box")
    center = ((lo + hi) / 2.0) @ rotation
    placement = Placement(rotation, scale, center, tuple(notes))
    if reference_extent is not None:
        warnings.extend(_compare_extent(scale * (hi - lo), np.asarray(reference_extent, np.float64),
                                        metres_per_unit is not None))
    for w in warnings:
        logger.warning(w)
    return Placement(placement.rotation, placement.scale, placement.center, tuple(notes), tuple(warnings))


def _compare_extent(extent: np.ndarray, ref: np.ndarray, user_scale: bool) -> list[str]:
    msgs = []
    if ref[1] > ref[2] and extent[2] > extent[1]:
        msgs.append(
            "the placed scan is deeper (front to back) than tall, unlike the training heads: the "
            "estimated orientation is probably wrong; give it with --up and --front (e.g. --up +y "
            "--front +z for a scan that is y-up and looks along +z)")
        return msgs
    ratio = extent / np.maximum(ref, 1e-12)
    size = float(np.linalg.norm(extent) / max(np.linalg.norm(ref), 1e-12))
    if user_scale and (size > 2.0 or size < 0.5):
        msgs.append(f"with --scale the scan is {size:.3g}x the size of the training heads; check the "
                    f"units (--scale 0.001 for millimetres, 0.01 for centimetres) or leave --scale out")
    elif np.any(np.abs(ratio / max(size, 1e-12) - 1.0) > PROPORTION_TOLERANCE):
        msgs.append(
            f"the placed scan's proportions (lateral, up, front) {np.round(extent, 2).tolist()} are far "
            f"from the training heads' {np.round(ref, 2).tolist()}: a face-only or cropped scan, extra "
            f"body parts, or a wrong orientation; check the orientation (--up/--front) and crop the "
            f"scan to the head, or set its units with --scale")
    return msgs
