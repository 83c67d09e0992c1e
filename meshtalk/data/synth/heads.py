"""Procedural neutral heads: a signed distance function, mouth landmarks and a template mesh.

Every head is the zero level set of a smooth signed distance function (SDF) built from
ellipsoids, round cones and a capsule, blended with smooth unions: cranium, face, cheeks, brow,
eye sockets with eyeballs, nose with alae, a muzzle, upper and lower lips with a thin mouth slit
between them, chin, jaw, ears and a neck cut flat at the bottom. Parameters (scale, width, face
length, nose, lips, mouth width, chin, jaw width, ...) are drawn from a seed, so every seed gives a
distinct head.

Conventions (all heads):
    * metric units (metres), the size of an adult head (about 0.19 m front to back);
    * the face looks along +Z, up is +Y, the subject's left is +X (right-handed);
    * the SDF is negative inside, positive outside;
    * geometry is computed in float64.

A head carries its mouth landmarks (:class:`MouthLandmarks`) and a registered template mesh
(~6k vertices by default). All heads share one template topology, as in a registered dataset
(VOCASET, BIWI): the average head is meshed by marching cubes in a space warped so that the
mouth gets about 2.5x the vertex density of the cranium (as FLAME does), projected onto the zero
level set and relaxed; :func:`track_surface` then carries that mesh onto each head by blending
the shape parameters step by step, so vertex ``i`` is the same anatomical point on every head.
Any other meshing of the same surface comes from :func:`mesh_sdf` (see also
:mod:`meshtalk.data.synth.scans`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.special import erf

from meshtalk.errors import MeshtalkError, MissingExtraError

__all__ = [
    "Head",
    "HeadParams",
    "MouthLandmarks",
    "head_sdf",
    "make_head",
    "make_heads",
    "mesh_sdf",
    "clear_mouth_line",
    "cut_mouth",
    "project_to_surface",
    "track_surface",
]

log = logging.getLogger(__name__)

#: Default vertex count of a head's registered template.
TEMPLATE_VERTICES = 6000


# ----------------------------------------------------------------------------------------------
# parameters and landmarks


@dataclass(frozen=True)
class HeadParams:
    """Shape parameters of a procedural head; 1.0 is the average for every ratio.

    Attributes:
        scale: overall size factor (metres scale with it).
        width: cranium and face width ratio.
        height: cranium height ratio.
        depth: cranium front-to-back ratio.
        face_length: vertical length of the lower face (mouth and chin lower for > 1).
        nose_length: how far the nose tip projects.
        nose_width: width of the nose and alae.
        lip_thickness: vertical and forward fullness of the lips.
        mouth_width: half-width of the mouth slit relative to 0.024 m.
        chin: chin prominence.
        jaw_width: width of the mandible.
        cheek: cheek fullness.
        ears: ear size.
    """

    scale: float = 1.0
    width: float = 1.0
    height: float = 1.0
    depth: float = 1.0
    face_length: float = 1.0
    nose_length: float = 1.0
    nose_width: float = 1.0
    lip_thickness: float = 1.0
    mouth_width: float = 1.0
    chin: float = 1.0
    jaw_width: float = 1.0
    cheek: float = 1.0
    ears: float = 1.0

    @classmethod
    def sample(cls, seed: int) -> HeadParams:
        """Draw a head's parameters from ``seed`` (a non-negative int); deterministic."""
        rng = np.random.default_rng([int(seed), 0x4EAD])

        def u(lo: float, hi: float) -> float:
            return float(np.round(rng.uniform(lo, hi), 4))

        return cls(
            scale=u(0.9, 1.1),
            width=u(0.92, 1.08),
            height=u(0.93, 1.07),
            depth=u(0.94, 1.06),
            face_length=u(0.9, 1.1),
            nose_length=u(0.8, 1.25),
            nose_width=u(0.85, 1.2),
            lip_thickness=u(0.8, 1.25),
            mouth_width=u(0.88, 1.12),
            chin=u(0.8, 1.25),
            jaw_width=u(0.9, 1.12),
            cheek=u(0.85, 1.2),
            ears=u(0.8, 1.2),
        )


@dataclass(frozen=True)
class MouthLandmarks:
    """Mouth landmarks of a head, on (or, for the hinge, inside) its surface, in metres.

    Attributes:
        left_corner: (3,) left mouth corner (subject's left, +X).
        right_corner: (3,) right mouth corner.
        upper_lip: (3,) upper lip midpoint, on the upper edge of the mouth slit.
        lower_lip: (3,) lower lip midpoint, on the lower edge of the mouth slit.
        hinge_left: (3,) left end of the jaw hinge axis (temporomandibular joint), inside.
        hinge_right: (3,) right end of the jaw hinge axis.
    """

    left_corner: np.ndarray
    right_corner: np.ndarray
    upper_lip: np.ndarray
    lower_lip: np.ndarray
    hinge_left: np.ndarray
    hinge_right: np.ndarray

    @property
    def hinge_axis(self) -> np.ndarray:
        """(3,) unit axis of the jaw hinge, from right to left (≈ +X)."""
        axis = self.hinge_left - self.hinge_right
        return axis / np.linalg.norm(axis)

    @property
    def hinge_center(self) -> np.ndarray:
        """(3,) midpoint of the hinge axis."""
        return 0.5 * (self.hinge_left + self.hinge_right)

    @property
    def mouth_center(self) -> np.ndarray:
        """(3,) midpoint of the upper and lower lip midpoints (front of the mouth slit)."""
        return 0.5 * (self.upper_lip + self.lower_lip)

    @property
    def rest_gap(self) -> float:
        """Distance between the lip midpoints on the neutral head, in metres."""
        return float(np.linalg.norm(self.upper_lip - self.lower_lip))

    def as_dict(self) -> dict[str, list[float]]:
        """Landmarks as plain lists (for JSON)."""
        return {f.name: [float(c) for c in getattr(self, f.name)] for f in dataclasses.fields(self)}


@dataclass(frozen=True, eq=False)
class Head:
    """A neutral head: its SDF parameters, mouth landmarks and registered template mesh.

    Attributes:
        name: identifier, e.g. ``"head007"``.
        seed: the seed its parameters were drawn from (``-1`` if given explicitly).
        params: shape parameters.
        landmarks: mouth landmarks.
        verts: (V, 3) float64 template vertex positions, metres.
        faces: (F, 3) int64 template triangles, counter-clockwise seen from outside; the only
            boundary is the lip line (the mouth is open to the inside of the head).
    """

    name: str
    seed: int
    params: HeadParams
    landmarks: MouthLandmarks
    verts: np.ndarray
    faces: np.ndarray

    def sdf(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (approximate, exact zero set) of ``points: (N, 3)`` → (N,)."""
        return head_sdf(points, self.params)

    def lip_midpoints(self, offset: float = 0.12) -> np.ndarray:
        """The upper and lower lip midpoints as :mod:`meshtalk.metrics.landmarks` defines them.

        The front surface points ``offset`` mouth widths (corner to corner) above and below the
        mouth centre, at its lateral position — the points whose distance is the mouth-opening
        curve of ``meshtalk.metrics`` (default ``lip_offset`` 0.12). The landmarks' own
        ``upper_lip``/``lower_lip`` are instead on the rims of the slit.

        Returns:
            (2, 3) upper, lower, metres.
        """
        lm = self.landmarks
        c = lm.mouth_center
        dy = offset * float(np.linalg.norm(lm.left_corner - lm.right_corner))
        front = 0.2 * self.params.scale
        origins = np.array([[c[0], c[1] + dy, front], [c[0], c[1] - dy, front]])
        return _rays_to_surface(origins, np.tile([0.0, 0.0, -1.0], (2, 1)), self.params)


# ----------------------------------------------------------------------------------------------
# SDF primitives (float64, vectorised over points (N, 3))


def _norm(q: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", q, q))


def _ellipsoid(p: np.ndarray, center, radii) -> np.ndarray:
    radii = np.asarray(radii, dtype=np.float64)
    q = (p - np.asarray(center)) / radii
    k0 = _norm(q)
    k1 = _norm(q / radii)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def _round_cone(p: np.ndarray, a, b, ra: float, rb: float) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    ba = np.asarray(b, dtype=np.float64) - a
    pa = p - a
    t = np.clip(pa @ ba / (ba @ ba), 0.0, 1.0)
    return _norm(pa - t[:, None] * ba) - (ra + t * (rb - ra))


def _slab(p: np.ndarray, center, radii_xz, half_thickness: float) -> np.ndarray:
    """A horizontal elliptic disc (radii in x and z) inflated by ``half_thickness``."""
    q = p - np.asarray(center)
    rx, rz = radii_xz
    e = q[:, [0, 2]] / np.array([rx, rz])
    k0 = np.hypot(e[:, 0], e[:, 1])
    k1 = np.hypot(e[:, 0] / rx, e[:, 1] / rz)
    planar = k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)
    w0, w1 = planar, np.abs(q[:, 1])
    outside = np.hypot(np.maximum(w0, 0.0), np.maximum(w1, 0.0))
    return outside + np.minimum(np.maximum(w0, w1), 0.0) - half_thickness


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _smax(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    return -_smin(-a, -b, k)


def _mirror(p: np.ndarray) -> np.ndarray:
    q = p.copy()
    q[:, 0] = np.abs(q[:, 0])
    return q


# Unit-scale layout (before ``scale``): head centre near the origin, mouth at y ≈ -0.056.
_MOUTH_Y = -0.056
_SLIT_HALF_HEIGHT = 0.0005
_SLIT_DEPTH = 0.022


def _layout(params: HeadParams) -> dict[str, float]:
    fl = params.face_length
    mouth_y = _MOUTH_Y * fl
    return {
        "mouth_y": mouth_y,
        "lip_z": 0.093,  # front of the lips (before lip thickness)
        "mouth_hw": 0.024 * params.mouth_width,
        "chin_y": mouth_y - 0.036 * fl,
        "hinge_y": mouth_y + 0.052,
        "hinge_z": -0.012 * params.depth,
        "hinge_x": 0.052 * params.jaw_width * params.width,
    }


def _head_sdf_unit(p: np.ndarray, hp: HeadParams) -> np.ndarray:
    lay = _layout(hp)
    w, fl = hp.width, hp.face_length
    my, hw, lt = lay["mouth_y"], lay["mouth_hw"], hp.lip_thickness
    m = _mirror(p)

    cranium = _ellipsoid(p, (0.0, 0.028, -0.018 * hp.depth),
                         (0.074 * w, 0.088 * hp.height, 0.098 * hp.depth))
    face = _ellipsoid(p, (0.0, -0.018 * fl, 0.022), (0.062 * w, 0.074 * fl, 0.068))
    jaw = _ellipsoid(p, (0.0, my - 0.008 * fl, 0.030),
                     (0.054 * w * hp.jaw_width, 0.036 * fl, 0.058))
    d = _smin(cranium, face, 0.03)
    d = _smin(d, jaw, 0.025)
    chin = _ellipsoid(p, (0.0, lay["chin_y"] + 0.004, 0.074 + 0.006 * (hp.chin - 1.0)),
                      (0.021 * hp.chin, 0.016, 0.018 * hp.chin))
    d = _smin(d, chin, 0.014)
    cheeks = _ellipsoid(m, (0.040 * w, -0.010, 0.052),
                        (0.026 * hp.cheek, 0.024, 0.030 * hp.cheek))
    d = _smin(d, cheeks, 0.018)
    brow = _ellipsoid(p, (0.0, 0.046, 0.062), (0.058 * w, 0.016, 0.030))
    d = _smin(d, brow, 0.015)
    muzzle = _ellipsoid(p, (0.0, my + 0.006, 0.066), (0.036, 0.034 * fl, 0.026))
    d = _smin(d, muzzle, 0.014)

    # eye sockets and eyeballs
    socket = _ellipsoid(m, (0.032 * w, 0.024, 0.086), (0.019, 0.012, 0.020))
    d = _smax(d, -socket, 0.006)
    eyeball = _ellipsoid(m, (0.032 * w, 0.0235, 0.0665), (0.0125, 0.0125, 0.0125))
    d = _smin(d, eyeball, 0.002)

    # nose: bridge → tip, plus alae
    tip = (0.0, -0.009, 0.092 + 0.014 * hp.nose_length)
    nose = _round_cone(p, (0.0, 0.024, 0.082), tip, 0.0062 * hp.nose_width,
                       0.0100 * hp.nose_width)
    d = _smin(d, nose, 0.008)
    nose_base = _ellipsoid(p, (0.0, -0.008, 0.084), (0.013 * hp.nose_width, 0.016, 0.012))
    d = _smin(d, nose_base, 0.006)
    alae = _ellipsoid(m, (0.011 * hp.nose_width, -0.016, 0.092),
                      (0.0085 * hp.nose_width, 0.0075, 0.009))
    d = _smin(d, alae, 0.005)

    # lips and the mouth slit between them
    lip_z = lay["lip_z"] + 0.004 * (lt - 1.0)
    upper = _ellipsoid(p, (0.0, my + 0.0062 * lt, lip_z - 0.009), (hw * 1.02, 0.0082 * lt, 0.011))
    lower = _ellipsoid(p, (0.0, my - 0.0068 * lt, lip_z - 0.010), (hw * 0.94, 0.0092 * lt, 0.011))
    d = _smin(d, upper, 0.005)
    d = _smin(d, lower, 0.005)
    slit = _slab(p, (0.0, my, lip_z + 0.004), (hw - _SLIT_HALF_HEIGHT, _SLIT_DEPTH + 0.004),
                 _SLIT_HALF_HEIGHT)
    d = _smax(d, -slit, 0.0006)

    # ears
    e = hp.ears
    ear = _ellipsoid(m, (0.074 * w, 0.006, -0.012), (0.010, 0.028 * e, 0.017 * e))
    d = _smin(d, ear, 0.006)

    # neck, cut flat at the bottom
    neck = _round_cone(p, (0.0, -0.05, -0.022), (0.0, -0.19, -0.03), 0.054 * w, 0.058 * w)
    d = _smin(d, neck, 0.03)
    d = _smax(d, -(p[:, 1] + 0.16), 0.008)
    return d


def _check_points(points: np.ndarray, name: str = "points") -> np.ndarray:
    arr = np.asarray(points)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise MeshtalkError(f"{name} must have shape (N, 3), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise MeshtalkError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise MeshtalkError(f"{name} contains NaN or infinite values")
    return arr


def head_sdf(points: np.ndarray, params: HeadParams, *, chunk: int = 262144) -> np.ndarray:
    """Signed distance of points to the head surface (negative inside).

    The value is a smooth bound of the Euclidean distance, exact on the zero level set.

    Args:
        points: (N, 3) positions in metres.
        params: head shape parameters.
        chunk: points evaluated at a time (bounds memory).

    Returns:
        (N,) float64 signed distances, metres.

    Raises:
        MeshtalkError: if ``points`` is not a finite (N, 3) array.
    """
    pts = _check_points(points)
    out = np.empty(len(pts), dtype=np.float64)
    s = params.scale
    for i in range(0, len(pts), chunk):
        out[i:i + chunk] = s * _head_sdf_unit(pts[i:i + chunk] / s, params)
    return out


def _sdf_gradient(points: np.ndarray, params: HeadParams, eps: float = 2e-5,
                  values: np.ndarray | None = None) -> np.ndarray:
    """Central differences, or forward differences from ``values`` = f(points) when given."""
    offsets = np.eye(3) * eps
    grad = np.empty_like(points)
    for k in range(3):
        if values is None:
            grad[:, k] = (head_sdf(points + offsets[k], params)
                          - head_sdf(points - offsets[k], params)) / (2.0 * eps)
        else:
            grad[:, k] = (head_sdf(points + offsets[k], params) - values) / eps
    return grad


def project_to_surface(points: np.ndarray, params: HeadParams, *, iterations: int = 3
                       ) -> np.ndarray:
    """Newton-project points onto the head's zero level set.

    Args:
        points: (N, 3) positions near the surface, metres.
        params: head shape parameters.
        iterations: Newton steps ``x ← x − f(x) ∇f / |∇f|²``.

    Returns:
        (N, 3) float64 projected positions.
    """
    x = _check_points(points).copy()
    f = head_sdf(x, params)
    tol = 1e-10 * params.scale
    for _ in range(iterations):
        idx = np.flatnonzero(np.abs(f) > tol)
        if len(idx) == 0:
            break
        xi, fi = x[idx], f[idx]
        g = _sdf_gradient(xi, params, eps=1e-6 * params.scale, values=fi)
        g2 = np.maximum(np.einsum("ij,ij->i", g, g), 1e-6)
        step = (fi / g2)[:, None] * g
        # never move more than 2 mm per step: a safeguard near thin features
        norm = np.linalg.norm(step, axis=1, keepdims=True)
        step *= np.minimum(1.0, 0.002 * params.scale / np.maximum(norm, 1e-12))
        # damped: halve the step where it does not reduce |f| (the SDF is only a bound)
        todo = np.arange(len(idx))
        for _halving in range(6):
            f_new = head_sdf(xi[todo] - step[todo], params)
            ok = np.abs(f_new) < np.abs(fi[todo])
            xi[todo[ok]] -= step[todo[ok]]
            fi[todo[ok]] = f_new[ok]
            todo = todo[~ok]
            if len(todo) == 0:
                break
            step[todo] *= 0.5
        x[idx], f[idx] = xi, fi
    return x


def _rays_to_surface(origins: np.ndarray, directions: np.ndarray, params: HeadParams,
                     t_max: float = 0.3) -> np.ndarray:
    """First crossings of the surface along rays from outside points (march, then bisection).

    Args:
        origins: (R, 3) ray origins outside the head.
        directions: (R, 3) unit directions.
        params: head shape parameters.
        t_max: ray length, metres.

    Returns:
        (R, 3) surface points.
    """
    ts = np.linspace(0.0, t_max, 401)
    pts = origins[:, None] + ts[None, :, None] * directions[:, None]
    f = head_sdf(pts.reshape(-1, 3), params).reshape(len(origins), len(ts))
    inside = f < 0
    if not inside.any(axis=1).all():  # pragma: no cover - geometry guarantees a hit
        raise RuntimeError("landmark ray missed the head")
    first = np.argmax(inside, axis=1)
    lo, hi = ts[first - 1], ts[first]
    for _ in range(32):
        mid = 0.5 * (lo + hi)
        outside = head_sdf(origins + mid[:, None] * directions, params) > 0
        lo = np.where(outside, mid, lo)
        hi = np.where(outside, hi, mid)
    return origins + (0.5 * (lo + hi))[:, None] * directions


def _landmarks(params: HeadParams) -> MouthLandmarks:
    s = params.scale
    lay = _layout(params)
    my = lay["mouth_y"] * s
    edge = _RIM * s
    front = 0.2 * s
    corner_x = lay["mouth_hw"] * s * 0.97
    origins = np.array([[corner_x, my, front], [-corner_x, my, front], [0.0, my + edge, front],
                        [0.0, my - edge, front]])
    hits = _rays_to_surface(origins, np.tile([0.0, 0.0, -1.0], (4, 1)), params)
    hinge = np.array([lay["hinge_x"], lay["hinge_y"], lay["hinge_z"]]) * s
    return MouthLandmarks(
        left_corner=hits[0],
        right_corner=hits[1],
        upper_lip=hits[2],
        lower_lip=hits[3],
        hinge_left=hinge,
        hinge_right=hinge * np.array([-1.0, 1.0, 1.0]),
    )


@functools.lru_cache(maxsize=64)
def _feature_points(params: HeadParams) -> np.ndarray:
    """(K, 3) anatomical surface points found by the same rays on every head (for tracking)."""
    s, w, lay = params.scale, params.width, _layout(params)
    my, hw = lay["mouth_y"], lay["mouth_hw"]
    edge = _RIM
    front, side = 0.3, 0.3
    rays = [  # (origin in unit layout, direction)
        ((0.0, my + edge, front), (0, 0, -1)), ((0.0, my - edge, front), (0, 0, -1)),
        ((0.0, my + 0.008 * params.lip_thickness, front), (0, 0, -1)),
        ((0.0, my - 0.009 * params.lip_thickness, front), (0, 0, -1)),
        ((0.0, -0.009, front), (0, 0, -1)),          # nose tip
        ((0.0, 0.024, front), (0, 0, -1)),           # nose bridge
        ((0.0, 0.05, front), (0, 0, -1)),            # brow
        ((0.0, 0.085, front), (0, 0, -1)),           # forehead
        ((0.0, lay["chin_y"], front), (0, 0, -1)),   # chin
        ((0.0, 0.3, -0.018 * params.depth), (0, -1, 0)),  # crown
        ((0.0, 0.028, -front), (0, 0, 1)),           # back of the head
        ((0.0, -0.12, front), (0, 0, -1)), ((0.0, -0.12, -front), (0, 0, 1)),  # neck
    ]
    for sx in (1.0, -1.0):
        rays += [
            ((sx * hw * 0.97, my, front), (0, 0, -1)),                   # mouth corner
            ((sx * 0.016, my + 0.004, front), (0, 0, -1)),                # upper lip, side
            ((sx * 0.016, my - 0.005, front), (0, 0, -1)),                # lower lip, side
            ((sx * 0.032 * w, 0.0235, front), (0, 0, -1)),                # eye
            ((sx * 0.011, -0.016, front), (0, 0, -1)),                    # ala
            ((sx * 0.042 * w, -0.01, front), (0, 0, -1)),                 # cheek
            ((sx * 0.03 * w, my - 0.02, front), (0, 0, -1)),              # jaw, front
            ((sx * side, 0.006, -0.012), (-sx, 0, 0)),                    # ear
            ((sx * side, 0.06, 0.0), (-sx, 0, 0)),                        # temple
            ((sx * side, my - 0.01, 0.0), (-sx, 0, 0)),                   # jaw angle
            ((sx * side, -0.12, -0.025), (-sx, 0, 0)),                    # neck side
        ]
    origins = np.array([o for o, _ in rays], dtype=np.float64) * s
    directions = np.array([d for _, d in rays], dtype=np.float64)
    points = _rays_to_surface(origins, directions, params, t_max=0.45 * s)
    points.flags.writeable = False  # cached
    return points


# ----------------------------------------------------------------------------------------------
# meshing


@dataclass(frozen=True)
class _RadialWarp:
    """World ← grid map ``x = c + (u − c) ρ(r)/r`` that packs grid cells around ``c``.

    ``ρ'(r) = 1 − β exp(−r²/R²)``: near ``c`` one grid step covers ``1 − β`` of a world step,
    so the vertex density there is ``1 / (1 − β)²`` times the density far away.
    """

    center: np.ndarray
    beta: float
    radius: float

    @property
    def max_shift(self) -> float:
        return self.beta * self.radius * math.sqrt(math.pi) / 2.0

    def __call__(self, u: np.ndarray) -> np.ndarray:
        if self.beta == 0.0:
            return u
        d = u - self.center
        r = np.linalg.norm(d, axis=1)
        rr = np.maximum(r, 1e-12)
        factor = np.where(r > 1e-9 * self.radius,
                          1.0 - self.max_shift * erf(rr / self.radius) / rr,
                          1.0 - self.beta)
        return self.center + d * factor[:, None]


def _marching_cubes(params: HeadParams, step: float, warp: _RadialWarp
                    ) -> tuple[np.ndarray, np.ndarray]:
    try:
        from skimage.measure import marching_cubes
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError("scikit-image", "synth", "meshing a synthetic head") from exc
    s = params.scale
    lo = np.array([-0.105, -0.175, -0.135]) * s - warp.max_shift
    hi = np.array([0.105, 0.135, 0.14]) * s + warp.max_shift
    # Coarse pass: the exact SDF on a grid 4x coarser; the fine grid evaluates the SDF only
    # where the nearest coarse value says the surface may be near (the SDF is 1-Lipschitz and
    # the warp contracts distances).
    ratio = 4
    n = np.ceil((hi - lo) / step).astype(int) + 1
    n = ((n - 1 + ratio - 1) // ratio) * ratio + 1
    nc = (n - 1) // ratio + 1
    axes_c = [lo[k] + step * ratio * np.arange(nc[k]) for k in range(3)]
    gc = np.stack(np.meshgrid(*axes_c, indexing="ij"), axis=-1).reshape(-1, 3)
    fc = head_sdf(warp(gc), params).reshape(tuple(nc))
    nearest = [np.rint(np.arange(n[k]) / ratio).astype(int) for k in range(3)]
    vol = fc[np.ix_(*nearest)]
    band = step * ratio * math.sqrt(3.0) / 2.0 + 2.0 * step
    active = np.nonzero(np.abs(vol) <= band)
    pts = np.stack([lo[k] + step * active[k] for k in range(3)], axis=1)
    vol = np.where(vol > 0, np.maximum(vol - band + 2.0 * step, 2.0 * step),
                   np.minimum(vol + band - 2.0 * step, -2.0 * step)).astype(np.float32)
    vol[active] = head_sdf(warp(pts), params)
    verts, faces, _, _ = marching_cubes(vol, level=0.0, spacing=(step, step, step),
                                        allow_degenerate=False)
    verts = warp(verts.astype(np.float64) + lo)
    return verts, faces.astype(np.int64)


def _largest_component(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nv = len(verts)
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    adj = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(nv, nv))
    _, labels = connected_components(adj, directed=False)
    counts = np.bincount(labels[faces[:, 0]], minlength=labels.max() + 1)
    keep_label = int(np.argmax(counts))
    keep_faces = faces[labels[faces[:, 0]] == keep_label]
    used = np.unique(keep_faces)
    remap = np.full(nv, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return verts[used], remap[keep_faces]


def _orient_outward(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = verts[faces]
    signed_volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()
    return faces if signed_volume > 0 else faces[:, ::-1].copy()


#: Height of the lip rims (and the lip landmarks) above / below the mouth line, unit layout.
_RIM = _SLIT_HALF_HEIGHT + 0.0003


def clear_mouth_line(points: np.ndarray, params: HeadParams) -> np.ndarray:
    """Move points off the mouth line onto the lip rims, so every point is on one lip.

    A meshing that does not resolve the thin mouth slit puts vertices right on the line where
    the lips part; their motion would be ambiguous (half up, half down) and the opened mouth
    jagged. Points within the slit's footprint and closer than the rim height (0.8 mm) to the
    line are moved vertically to the rim of their side, then projected onto the surface (they
    land on the lip front or on the slit's wall, both at least ``_SLIT_HALF_HEIGHT`` from the
    line). Other points are returned unchanged.

    Args:
        points: (N, 3) points on the head's surface, metres.
        params: head shape parameters.

    Returns:
        (N, 3) float64 points.
    """
    x = _check_points(points).copy()
    s, lay = params.scale, _layout(params)
    q = x / s
    slit_z = lay["lip_z"] + 0.004 * (params.lip_thickness - 1.0) + 0.004
    footprint = ((q[:, 0] / lay["mouth_hw"]) ** 2
                 + ((q[:, 2] - slit_z) / (_SLIT_DEPTH + 0.004)) ** 2) <= 1.1
    v = q[:, 1] - lay["mouth_y"]
    near = np.flatnonzero(footprint & (np.abs(v) < _RIM))
    if len(near):
        side = np.where(v[near] >= 0.0, 1.0, -1.0)
        x[near, 1] = (lay["mouth_y"] + side * _RIM) * s
        x[near] = project_to_surface(x[near], params, iterations=8)
    return x


def cut_mouth(verts: np.ndarray, faces: np.ndarray, params: HeadParams) -> np.ndarray:
    """Open the mouth: drop the triangles that bridge the two lips across the mouth slit.

    Call after :func:`clear_mouth_line`, so that every vertex near the slit is on one lip. The
    result has one boundary loop, the lip line (as FLAME and BIWI templates have), so opening
    the mouth parts the lips instead of stretching a membrane.

    Args:
        verts: (V, 3) vertex positions, metres.
        faces: (F, 3) triangles.
        params: head shape parameters.

    Returns:
        (F', 3) int64 kept triangles (vertices are unchanged).
    """
    s, lay = params.scale, _layout(params)
    q = np.asarray(verts, dtype=np.float64) / s
    slit_z = lay["lip_z"] + 0.004 * (params.lip_thickness - 1.0) + 0.004
    above = q[:, 1] > lay["mouth_y"]
    tri_above = above[faces]
    bridging = tri_above.any(axis=1) & ~tri_above.all(axis=1)
    c = q[faces].mean(axis=1)
    footprint = ((c[:, 0] / lay["mouth_hw"]) ** 2
                 + ((c[:, 2] - slit_z) / (_SLIT_DEPTH + 0.004)) ** 2) <= 1.1
    near_line = np.abs(c[:, 1] - lay["mouth_y"]) < 0.006
    return faces[~(bridging & footprint & near_line)]


def _vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = verts[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = np.zeros_like(verts)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-20)


def _relax(verts: np.ndarray, faces: np.ndarray, params: HeadParams, iterations: int,
           weight: float = 0.5) -> np.ndarray:
    """Tangential umbrella smoothing, each step projected back onto the surface."""
    nv = len(verts)
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    adj = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(nv, nv)).tocsr()
    adj = ((adj + adj.T) > 0).astype(np.float64)
    deg = np.asarray(adj.sum(axis=1)).ravel()
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    boundary = np.zeros(nv, dtype=bool)
    boundary[unique[counts == 1].ravel()] = True
    x = verts
    for _ in range(iterations):
        n = _vertex_normals(x, faces)
        delta = adj @ x / deg[:, None] - x
        delta[boundary] = 0.0
        delta -= np.einsum("ij,ij->i", delta, n)[:, None] * n
        x = project_to_surface(x + weight * delta, params, iterations=2)
    return project_to_surface(x, params, iterations=4) if iterations else x


def mesh_sdf(params: HeadParams, target_vertices: int, *, face_density: float = 1.0,
             relax_iterations: int = 3, tolerance: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """Mesh a head's surface by marching cubes at the resolution that gives ``target_vertices``.

    Args:
        params: head shape parameters.
        target_vertices: wanted vertex count (the result is within ``tolerance`` of it, or the
            closest of three tries).
        face_density: vertex density around the mouth relative to the cranium (1 = uniform,
            isotropic meshing; 3 = a registered-template-like density).
        relax_iterations: tangential smoothing steps (0 keeps the marching-cubes vertices,
            projected onto the surface).
        tolerance: relative vertex-count tolerance.

    Returns:
        verts: (V, 3) float64 positions on the zero level set, metres.
        faces: (F, 3) int64 triangles, outward counter-clockwise; one component whose only
        boundary is the lip line (see :func:`cut_mouth`).

    Raises:
        MeshtalkError: if ``target_vertices`` or ``face_density`` is out of range.

    Note:
        Where the grid spacing is close to the 1 mm mouth slit (about 1.7 mm: ~60k vertices on
        the test head, ~30k on some larger heads), the lower lip's wall inside the slit can come
        out above the mouth line, and :func:`clear_mouth_line` then snaps it onto the upper wall:
        a zero-thickness fin facing up inside the slit, which the head's field moves with the
        upper lip. Registered templates have a few such vertices (6-15). Kept as is, so that
        corpora stay byte-identical; ``docs/model_card.md`` (known limits) has the figures.
    """
    if not 200 <= int(target_vertices) <= 2_000_000:
        raise MeshtalkError(f"target_vertices must be in [200, 2000000], got {target_vertices}")
    if not 1.0 <= face_density <= 16.0:
        raise MeshtalkError(f"face_density must be in [1, 16], got {face_density}")
    s = params.scale
    beta = 1.0 - 1.0 / math.sqrt(face_density)
    lay = _layout(params)
    warp = _RadialWarp(center=np.array([0.0, lay["mouth_y"] + 0.01, 0.08]) * s, beta=beta,
                       radius=0.08 * s)
    # Marching cubes gives ≈ 1.6 vertices per grid-cell area of surface; head area ≈ 0.115 s².
    area = 0.115 * s * s * (1.0 + 0.8 * beta)
    step = math.sqrt(1.6 * area / target_vertices)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(3):
        verts, faces = _marching_cubes(params, step, warp)
        verts, faces = _largest_component(verts, faces)
        err = len(verts) / target_vertices - 1.0
        if best is None or abs(err) < abs(best[0]):
            best = (err, verts, faces)
        if abs(err) <= tolerance:
            break
        step *= math.sqrt(len(verts) / target_vertices)
    _, verts, faces = best
    faces = _orient_outward(verts, faces)
    verts = project_to_surface(verts, params, iterations=6)
    if relax_iterations:
        verts = _relax(verts, faces, params, relax_iterations)
    verts = clear_mouth_line(verts, params)
    verts, faces = _largest_component(verts, cut_mouth(verts, faces, params))
    log.debug("meshed head: %d vertices, %d faces (target %d)", len(verts), len(faces),
              target_vertices)
    return verts, faces


# ----------------------------------------------------------------------------------------------
# heads


@functools.lru_cache(maxsize=4)
def _canonical_template(template_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """The template of the average head; every head's template is this mesh moved onto it."""
    return mesh_sdf(HeadParams(), template_vertices, face_density=6.0)


def _interpolate(a: HeadParams, b: HeadParams, t: float) -> HeadParams:
    return HeadParams(**{f.name: (1.0 - t) * getattr(a, f.name) + t * getattr(b, f.name)
                         for f in dataclasses.fields(HeadParams)})


def track_surface(verts: np.ndarray, source: HeadParams, target: HeadParams, *,
                  steps: int = 4) -> np.ndarray:
    """Carry points on one head's surface onto another's, following the shape continuously.

    The parameters are blended from ``source`` to ``target`` in ``steps`` steps; at each, the
    points move with ~35 anatomical feature points (lips, corners, nose, eyes, chin, ears, crown,
    neck; found by the same rays on every head) through a thin-plate spline, then are
    Newton-projected onto the blended surface, so vertex ``i`` stays the same anatomical point.

    Args:
        verts: (V, 3) points on the ``source`` surface.
        source: parameters of the head they lie on.
        target: parameters of the head to carry them to.
        steps: blending steps.

    Returns:
        (V, 3) float64 points on the ``target`` surface.
    """
    from scipy.interpolate import RBFInterpolator

    x = _check_points(verts, "verts").copy()
    prev_points = _feature_points(source)
    for i in range(1, int(steps) + 1):
        cur = _interpolate(source, target, i / steps)
        points = _feature_points(cur)
        # move with the features (thin-plate spline through the feature points), then onto the
        # surface along the normal
        warp = RBFInterpolator(prev_points, points - prev_points, kernel="thin_plate_spline")
        x = project_to_surface(x + warp(x), cur, iterations=4)
        prev_points = points
    return x


def make_head(seed: int = 0, *, params: HeadParams | None = None, name: str | None = None,
              template_vertices: int = TEMPLATE_VERTICES) -> Head:
    """Build one neutral head with its landmarks and registered template.

    Args:
        seed: non-negative seed of the shape parameters (ignored when ``params`` is given).
        params: explicit shape parameters (``HeadParams()`` is the average head).
        name: identifier; default ``f"head{seed:03d}"``.
        template_vertices: vertex count of the template (±8%).

    Returns:
        The head; deterministic in its arguments.

    Raises:
        MeshtalkError: if ``seed`` is negative.
    """
    if params is None:
        if int(seed) < 0:
            raise MeshtalkError(f"head seed must be non-negative, got {seed}")
        params = HeadParams.sample(int(seed))
    else:
        seed = -1
    canon_verts, faces = _canonical_template(int(template_vertices))
    verts = track_surface(canon_verts, HeadParams(), params)
    verts = clear_mouth_line(_relax(verts, faces, params, 1), params)
    return Head(
        name=name if name is not None else f"head{max(int(seed), 0):03d}",
        seed=int(seed),
        params=params,
        landmarks=_landmarks(params),
        verts=verts,
        faces=faces,
    )


def make_heads(count: int, *, seed: int = 0, template_vertices: int = TEMPLATE_VERTICES
               ) -> list[Head]:
    """Build ``count`` distinct heads named ``head000``… from seeds ``seed, seed+1, …``.

    Args:
        count: number of heads (≥ 1).
        seed: first seed.
        template_vertices: vertex count of each template.

    Returns:
        A list of ``count`` heads.
    """
    if int(count) < 1:
        raise MeshtalkError(f"head count must be at least 1, got {count}")
    return [make_head(seed + i, name=f"head{i:03d}", template_vertices=template_vertices)
            for i in range(int(count))]
