"""Mouth and jaw motion as a smooth displacement field in R³ around a head's mouth landmarks.

The field is defined at every point of space, not on a mesh, so one articulation moves every
meshing of a head the same way: the registered template, a 100k-vertex scan, a point cloud.

Components (all in the head's mouth frame, see :class:`MouthFrame`):
    * **jaw**: rotation by ``jaw * max_jaw_angle`` about the hinge axis, applied to points below
      the occlusal plane (the plane through the hinge axis and the mouth slit), with a blend
      across it that is sharp at the lips (so the lips part) and wide on the cheeks; along the
      slit, from the lip front to 18 mm inside, the dividing surface is the slit's own plane, so
      each wall of the slit moves with its own lip on a meshing that resolves it;
    * **lips**: the upper lip rises by a share of the opening, the lower lip follows the jaw and
      is corrected so that the lip midpoints end ``lip_aperture * max_lip_aperture`` farther
      apart (straight up) than on the neutral head. The midpoints sit on the two rims of the mouth slit, ``rest_gap``
      (1–2 mm) apart on the neutral head: ``lip_aperture = 0`` keeps the lips in contact as on
      the neutral head, also when the jaw is open (/p b m/), so silence is the neutral face;
    * **protrusion**: lips forward, mouth corners drawn in (rounding);
    * **spread**: mouth corners out, slightly back and up;
    * soft, compactly supported falloff to cheeks, chin and throat; the upper face (above the
      nose base) and everything behind the jaw hinge do not move at all.

The displacement is linear in a small set of per-point basis fields (:meth:`MouthField.basis`),
with per-frame coefficients (:meth:`MouthField.coefficients`), so evaluating many frames is one
matrix product. Everything is computed in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from meshtalk.data.synth.heads import Head, _check_points
from meshtalk.errors import MeshtalkError

__all__ = [
    "ArticulationLike",
    "MotionParams",
    "MouthField",
    "MouthFrame",
    "articulation_array",
    "displace",
    "lip_opening",
    "rest_articulation",
]

#: Column order of an articulation array.
CHANNELS = ("jaw", "lip_aperture", "protrusion", "spread")


class ArticulationLike(Protocol):
    """Anything with per-frame curves ``jaw``, ``lip_aperture``, ``protrusion``, ``spread``: (T,).

    :class:`meshtalk.data.synth.articulation.Articulation` is one.
    """

    jaw: Any
    lip_aperture: Any
    protrusion: Any
    spread: Any


@dataclass(frozen=True)
class MotionParams:
    """Amplitudes of the field, for a head of scale 1 (lengths scale with the head).

    Attributes:
        max_jaw_angle: jaw rotation at ``jaw = 1``, radians.
        max_lip_aperture: lip-midpoint distance at ``lip_aperture = 1``, metres.
        upper_lip_share: share of a lip opening taken by the upper lip (rest by the lower).
        max_protrusion: forward lip motion at ``protrusion = 1``, metres.
        rounding: mouth-corner draw-in at ``protrusion = 1``, fraction of the mouth half-width.
        max_spread: corner motion at ``spread = 1``, metres.
    """

    max_jaw_angle: float = 0.2
    max_lip_aperture: float = 0.022
    upper_lip_share: float = 0.25
    max_protrusion: float = 0.007
    rounding: float = 0.25
    max_spread: float = 0.006


def articulation_array(articulation: ArticulationLike | np.ndarray | dict) -> np.ndarray:
    """Articulation curves as a (T, 4) float64 array, columns :data:`CHANNELS`.

    Args:
        articulation: an object with attributes (or a dict with keys) ``jaw``, ``lip_aperture``,
            ``protrusion``, ``spread``, each (T,) or a scalar; or an array (T, 4) or (4,).
            Nominal ranges: jaw 0..1 (closed..wide), lip_aperture 0..1 (0 = lips closed),
            protrusion 0..1, spread -1..1.

    Returns:
        (T, 4) float64.

    Raises:
        MeshtalkError: on a wrong shape, mismatched lengths or non-finite values.
    """
    if isinstance(articulation, np.ndarray) or isinstance(articulation, (list, tuple)):
        arr = np.asarray(articulation, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise MeshtalkError(f"articulation array must have shape (T, 4), got {arr.shape}")
    else:
        get = articulation.get if isinstance(articulation, dict) else (
            lambda k: getattr(articulation, k, None))
        cols = []
        for key in CHANNELS:
            value = get(key)
            if value is None:
                raise MeshtalkError(f"articulation has no '{key}' curve")
            cols.append(np.atleast_1d(np.asarray(value, dtype=np.float64)))
        lengths = {len(c) for c in cols}
        if len(lengths) != 1 or any(c.ndim != 1 for c in cols):
            raise MeshtalkError(
                f"articulation curves must be 1-D of one length, got shapes "
                f"{[c.shape for c in cols]}")
        arr = np.stack(cols, axis=1)
    if not np.isfinite(arr).all():
        raise MeshtalkError("articulation curves contain NaN or infinite values")
    return arr


def _smoothstep(t: np.ndarray) -> np.ndarray:
    """Quintic step, C²: 0 for t ≤ 0, 1 for t ≥ 1."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * t * (t * (6.0 * t - 15.0) + 10.0)


def _bump(t: np.ndarray, power: int = 3) -> np.ndarray:
    """Compact bump ``(1 − t²)^power`` for |t| < 1, else 0 (C^(power−1))."""
    return np.clip(1.0 - t * t, 0.0, None) ** power


@dataclass(frozen=True)
class MouthFrame:
    """Orthonormal frame at the mouth: origin at the front of the slit, x left, y up, z forward.

    x runs from the right to the left mouth corner, y is the head's up (+Y) made orthogonal to
    it, z = x × y.

    Attributes:
        origin: (3,) midpoint of the lip midpoints.
        axes: (3, 3) rows = unit x (to the left corner), y (up), z (forward).
        half_width: half the corner-to-corner distance, metres.
        corner_depth: z of the corners in the frame (negative: behind the lip front).
        hinge: (3,) hinge centre in frame coordinates.
        occlusal_normal: (3,) unit normal, in frame coordinates, of the plane through the hinge
            axis and the slit; points up.
    """

    origin: np.ndarray
    axes: np.ndarray
    half_width: float
    corner_depth: float
    hinge: np.ndarray
    occlusal_normal: np.ndarray

    @classmethod
    def of(cls, head: Head) -> MouthFrame:
        """The frame of ``head``'s landmarks."""
        lm = head.landmarks
        origin = lm.mouth_center
        ex = lm.left_corner - lm.right_corner
        half_width = 0.5 * float(np.linalg.norm(ex))
        ex = ex / (2.0 * half_width)
        ey = np.array([0.0, 1.0, 0.0])  # heads are upright (+Y up)
        ey = ey - (ey @ ex) * ex
        ey = ey / np.linalg.norm(ey)
        ez = np.cross(ex, ey)
        axes = np.stack([ex, ey, ez])
        corner_depth = float((0.5 * (lm.left_corner + lm.right_corner) - origin) @ ez)
        hinge = axes @ (lm.hinge_center - origin)
        # plane through the x axis (the slit line) and the hinge: normal ⟂ x and ⟂ hinge (y, z)
        normal = np.array([0.0, hinge[2], -hinge[1]])
        normal /= np.linalg.norm(normal)
        if normal[1] < 0:
            normal = -normal
        return cls(origin=origin, axes=axes, half_width=half_width, corner_depth=corner_depth,
                   hinge=hinge, occlusal_normal=normal)

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points → (N, 3) frame coordinates."""
        return (points - self.origin) @ self.axes.T

    def to_world_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """(..., 3) frame vectors → (..., 3) world vectors."""
        return vectors @ self.axes


#: Names of the basis fields, in the order of :meth:`MouthField.basis`.
BASIS = ("jaw_cos", "jaw_sin", "protrusion", "spread",
         "upper_x", "upper_y", "upper_z", "lower_x", "lower_y", "lower_z")


class MouthField:
    """The displacement field of one head; reuse it for many point sets and frames.

    Args:
        head: the head whose landmarks define the field.
        params: amplitudes (scaled by ``head.params.scale``).
    """

    def __init__(self, head: Head, params: MotionParams | None = None):
        self.head = head
        self.params = params if params is not None else MotionParams()
        self.frame = MouthFrame.of(head)
        self.scale = float(head.params.scale)
        lm = head.landmarks
        anchors = np.stack([lm.upper_lip, lm.lower_lip])
        self._anchor_basis = self.basis(anchors)  # (K, 2, 3)
        w_upper, w_lower = self._lip_weights(self.frame.to_local(anchors))
        # W[i, j]: weight of lip correction j at landmark i (upper, lower)
        self._anchor_weights = np.stack([w_upper, w_lower], axis=1)
        self._rest_offset = lm.upper_lip - lm.lower_lip
        self._rest_gap = float(np.linalg.norm(self._rest_offset))

    # -- spatial part ---------------------------------------------------------------------------

    def _lip_weights(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, hw = self.scale, self.frame.half_width
        u, v, n = q[:, 0], q[:, 1], q[:, 2]
        lateral = _bump(u / (1.05 * hw), power=2)
        blend = 0.0004 * s
        above = _smoothstep((v + blend) / (2.0 * blend))
        depth = _smoothstep((n + 0.03 * s) / (0.025 * s))
        upper = lateral * above * _bump(np.maximum(v, 0.0) / (0.022 * s)) * depth
        lower = lateral * (1.0 - above) * _bump(np.maximum(-v, 0.0) / (0.03 * s)) * depth
        return upper, lower

    def _region_mask(self, q: np.ndarray) -> np.ndarray:
        """1 on the lower face, 0 above the nose base, behind the hinge and down the neck."""
        s = self.scale
        v, n = q[:, 1], q[:, 2]
        hinge_n = self.frame.hinge[2]
        up = 1.0 - _smoothstep((v - 0.008 * s) / (0.016 * s))
        back = _smoothstep((n - (hinge_n - 0.015 * s)) / (0.035 * s))
        neck = _smoothstep((v + 0.095 * s) / (0.045 * s))
        return up * back * neck

    def basis(self, points: np.ndarray) -> np.ndarray:
        """Per-point basis fields, linear in the frame coefficients.

        Args:
            points: (N, 3) world positions, metres.

        Returns:
            (K, N, 3) float64 world vectors, K = len(:data:`BASIS`).
        """
        x = _check_points(points)
        fr, s, hw = self.frame, self.scale, self.frame.half_width
        q = fr.to_local(x)
        u, v, n = q[:, 0], q[:, 1], q[:, 2]
        mask = self._region_mask(q)

        # jaw: below the occlusal plane; the blend is 0.4 mm wide at the lips and along the mouth
        # slit (to 18 mm inside), 12 mm on the cheeks. Along the slit the dividing surface is the
        # slit's own plane (v = 0, where the lip weights divide too), turning into the occlusal
        # plane, which is tilted towards the hinge, away from it: the tilted plane alone cut the
        # slit's upper wall a millimetre behind the lip front, and a blend widening with depth
        # moved both walls alike, so any meshing that resolves the slit saw its inner upper lip
        # pulled down with the jaw.
        in_slit = _bump(u / (1.15 * hw)) * _smoothstep((n + 0.03 * s) / (0.012 * s))
        sigma = in_slit * v + (1.0 - in_slit) * (q @ fr.occlusal_normal)
        width = 0.0004 * s + (0.012 * s - 0.0004 * s) * (1.0 - in_slit)
        below = 1.0 - _smoothstep((sigma + width) / (2.0 * width))
        jaw_weight = (mask * below)[:, None]
        r = q - fr.hinge
        axis = np.array([1.0, 0.0, 0.0])
        r_perp = r - r[:, :1] * axis
        jaw_cos = jaw_weight * r_perp          # × (cos θ − 1)
        jaw_sin = jaw_weight * np.cross(axis, r)  # × sin θ

        # protrusion: lips forward, corners drawn in
        lips = (_bump(u / (1.35 * hw)) * _bump(v / (0.022 * s))
                * _smoothstep((n + 0.03 * s) / (0.025 * s)) * mask)
        protrusion = np.stack([-self.params.rounding * u, np.zeros_like(u),
                               np.full_like(u, self.params.max_protrusion * s)], axis=1)
        protrusion = lips[:, None] * protrusion

        # spread: corners out, a little back and up
        corner = (_bump(u / (1.7 * hw)) * _bump(v / (0.024 * s))
                  * _smoothstep((n + 0.035 * s) / (0.03 * s)) * mask)
        spread = self.params.max_spread * s * corner[:, None] * np.stack(
            [u / hw, 0.15 * np.abs(u) / hw, -0.35 * np.abs(u) / hw], axis=1)

        upper, lower = self._lip_weights(q)
        eye = np.eye(3)
        fields = [jaw_cos, jaw_sin, protrusion, spread]
        fields += [upper[:, None] * eye[k] for k in range(3)]
        fields += [lower[:, None] * eye[k] for k in range(3)]
        return fr.to_world_vectors(np.stack(fields))

    # -- temporal part --------------------------------------------------------------------------

    def coefficients(self, articulation: ArticulationLike | np.ndarray | dict) -> np.ndarray:
        """Per-frame coefficients of the basis fields.

        Args:
            articulation: curves (see :func:`articulation_array`), T frames.

        Returns:
            (T, K) float64.
        """
        a = articulation_array(articulation)
        jaw, aperture, protrusion, spread = a.T
        theta = jaw * self.params.max_jaw_angle
        base = np.stack([np.cos(theta) - 1.0, np.sin(theta), protrusion, spread,
                         *np.zeros((6, len(a)))], axis=1)
        # where the base field alone takes the two lip midpoints: (T, 2, 3)
        moved = np.einsum("tk,kij->tij", base[:, :4], self._anchor_basis[:4])
        # wanted offset upper − lower: the neutral one (lips in contact) at aperture 0, then
        # opening straight up along the frame's y axis
        opening = aperture * self.params.max_lip_aperture * self.scale
        ey = self.frame.axes[1]
        offset = self._rest_offset + opening[:, None] * ey
        change = offset - self._rest_offset
        target_upper = moved[:, 0] + self.params.upper_lip_share * change
        target_lower = target_upper - offset + self._rest_offset
        rhs = np.stack([target_upper - moved[:, 0], target_lower - moved[:, 1]], axis=1)
        corr = np.linalg.solve(self._anchor_weights, rhs)  # (T, 2, 3): upper, lower (world)
        local = corr @ self.frame.axes.T  # corrections are built along frame axes
        base[:, 4:7] = local[:, 0]
        base[:, 7:10] = local[:, 1]
        return base

    def displace(self, points: np.ndarray, articulation: ArticulationLike | np.ndarray | dict
                 ) -> np.ndarray:
        """Displacements of ``points`` for every frame.

        Args:
            points: (N, 3) world positions on (or near) the neutral head, metres.
            articulation: T frames of curves (see :func:`articulation_array`).

        Returns:
            (T, N, 3) float64 displacements; add them to ``points``.
        """
        basis = self.basis(points)
        coef = self.coefficients(articulation)
        k, n, _ = basis.shape
        return (coef @ basis.reshape(k, n * 3)).reshape(len(coef), n, 3)


def displace(points: np.ndarray, head: Head,
             articulation: ArticulationLike | np.ndarray | dict,
             params: MotionParams | None = None) -> np.ndarray:
    """Displacement field of ``head`` at ``points`` for every articulation frame.

    Args:
        points: (N, 3) world positions (any meshing of the head, or a point cloud), metres.
        head: the head.
        articulation: T frames (an ``Articulation``, a dict of curves, or a (T, 4) array with
            columns jaw, lip_aperture, protrusion, spread).
        params: field amplitudes.

    Returns:
        (T, N, 3) float64 displacements.

    Raises:
        MeshtalkError: on malformed points or curves.
    """
    return MouthField(head, params).displace(points, articulation)


def lip_opening(head: Head, articulation: ArticulationLike | np.ndarray | dict,
                params: MotionParams | None = None) -> np.ndarray:
    """Distance between the displaced lip midpoints per frame (the mouth-opening curve).

    The upper-minus-lower offset is the neutral one plus ``lip_aperture * max_lip_aperture *
    scale`` straight up, so the distance is ``rest_gap + lip_aperture * max_lip_aperture *
    scale`` to within a few micrometres (the lips' tiny neutral depth offset).

    Args:
        head: the head.
        articulation: T frames.
        params: field amplitudes.

    Returns:
        (T,) float64 metres.
    """
    lm = head.landmarks
    pts = np.stack([lm.upper_lip, lm.lower_lip])
    moved = pts[None] + displace(pts, head, articulation, params)
    return np.linalg.norm(moved[:, 0] - moved[:, 1], axis=1)


def rest_articulation(head: Head, params: MotionParams | None = None) -> np.ndarray:
    """(4,) articulation that leaves ``head`` exactly neutral: all zeros (jaw closed, lips in
    contact, no protrusion or spread)."""
    return np.zeros(4)
