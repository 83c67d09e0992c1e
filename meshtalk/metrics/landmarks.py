"""Lip landmarks on any topology, and region-mask transfer between meshings.

A neutral head or face is given as vertices ``(V, 3)`` with optional faces ``(F, 3)`` (without
faces it is a point cloud). In a *face frame* — axes ``lateral`` (the subject's left), ``up`` and
``forward`` (out of the face) — the front of the face is a height field ``z(x, y)``; the landmarks
are read from that height field, so they depend on the surface and not on how it is meshed:

0. Only surface that faces forward counts (normals oriented away from the shape's centroid, so
   neither the triangles' winding nor a point cloud's lack of normals matters): the back of the
   head seen through an open mouth, or the walls of a thin mouth slit, do not enter the height
   field. Meshes are sampled uniformly by area (never by vertex), so the density of a meshing
   does not weigh in.
1. The nose tip is the front-most point of the smoothed height field.
2. Where the front surface is missing between samples (an open mouth; a mesh's boundary edges in
   front of the face, e.g. the lip contour of a template with its mouth cut open), the height
   field is lowered by ``0.02·W`` (``W`` the lateral extent of the shape): an open mouth then reads
   as a valley of bounded depth, like closed lips, whatever lies behind it.
3. The lip line is the deepest horizontal *notch* ``min(z(y - a), z(y + a)) - z(y)``
   (``a = 0.05·W``) between ``0.08·W`` and ``0.42·W`` below the nose tip — a step such as the
   underside of the nose, low on one side only, is not a notch — followed sideways along the
   ridge of the vertical concavity ``κ = ∂²z/∂y²`` (Gaussian derivative, scale ``0.012·W``).
4. The mouth corners are where ``κ`` along the lip line (smoothed over ``0.008·W``) falls to
   ``corner_threshold`` (default 50 %) of its median over the middle ``±0.1·W``, going outwards
   from the nose's column, located to sub-cell precision.
5. The upper and lower lip midpoints lie on the surface at ``± lip_offset · mouth width``
   (default 0.12) above and below the lip line, half-way between the corners.
6. Points are put back on the surface: the closest point on the mesh, or for a point cloud the
   projection onto the plane fitted to the 16 nearest points.

The orientation comes from the user (``orientation=(up, forward)`` or a :class:`FaceFrame`), the
dataset convention (``'canonical'``: +y up, +z forward, as FLAME/VOCA, BIWI and Multiface in the
FaceFormer layout), or the face's own geometry (``'auto'``: reflection symmetry gives the lateral
axis, the nose the forward axis, the lip line below the nose the up sign — a heuristic; give the
axes when it matters). All computation is float64.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from meshtalk.errors import MeshtalkError
from meshtalk.metrics.masks import RegionMask

log = logging.getLogger(__name__)

__all__ = [
    "FaceFrame",
    "LipLandmarks",
    "LANDMARK_NAMES",
    "closest_points_on_mesh",
    "estimate_face_frame",
    "find_lip_landmarks",
    "lip_region_mask",
    "transfer_region_mask",
]

#: Order of :attr:`LipLandmarks.positions` rows.
LANDMARK_NAMES = ("right_corner", "left_corner", "upper_lip", "lower_lip", "stomion")


# ----------------------------------------------------------------------------------------------
# input handling and surface helpers


def _as_vertices(vertices: object) -> np.ndarray:
    v = np.asarray(vertices)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 4 or v.dtype.kind not in "fiu":
        raise MeshtalkError(f"vertices: expected a (V, 3) numeric array with V >= 4, got shape {v.shape}")
    v = v.astype(np.float64)
    if not np.isfinite(v).all():
        raise MeshtalkError("vertices: contain NaN or inf")
    return v


def _as_faces(faces: object | None, n_vertices: int) -> np.ndarray | None:
    if faces is None:
        return None
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0 or f.dtype.kind not in "iu":
        raise MeshtalkError(f"faces: expected a (F, 3) integer array, got shape {f.shape} dtype {f.dtype}")
    if f.min() < 0 or f.max() >= n_vertices:
        raise MeshtalkError(f"faces: index out of range for {n_vertices} vertices")
    return f.astype(np.int64)


def _closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray):
    """Closest points on triangles (a, b, c) to points p, all ``(N, 3)``; Ericson's regions.

    Returns ``(q (N, 3), bary (N, 3))``.
    """
    ab, ac, ap = b - a, c - a, p - a
    d1 = np.einsum("ij,ij->i", ab, ap)
    d2 = np.einsum("ij,ij->i", ac, ap)
    bp = p - b
    d3 = np.einsum("ij,ij->i", ab, bp)
    d4 = np.einsum("ij,ij->i", ac, bp)
    cp = p - c
    d5 = np.einsum("ij,ij->i", ab, cp)
    d6 = np.einsum("ij,ij->i", ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    n = p.shape[0]
    bary = np.zeros((n, 3))
    done = np.zeros(n, dtype=bool)

    def assign(mask, w):
        nonlocal done
        m = mask & ~done
        bary[m] = w[m]
        done |= m

    one, zero = np.ones(n), np.zeros(n)
    assign((d1 <= 0) & (d2 <= 0), np.stack([one, zero, zero], 1))
    assign((d3 >= 0) & (d4 <= d3), np.stack([zero, one, zero], 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        v = d1 / (d1 - d3)
        assign((vc <= 0) & (d1 >= 0) & (d3 <= 0), np.stack([1 - v, v, zero], 1))
        assign((d6 >= 0) & (d5 <= d6), np.stack([zero, zero, one], 1))
        w = d2 / (d2 - d6)
        assign((vb <= 0) & (d2 >= 0) & (d6 <= 0), np.stack([1 - w, zero, w], 1))
        w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        assign((va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0), np.stack([zero, 1 - w, w], 1))
        denom = va + vb + vc
        denom = np.where(np.abs(denom) > 0, denom, 1.0)
        v = vb / denom
        w = vc / denom
        assign(np.ones(n, dtype=bool), np.stack([1 - v - w, v, w], 1))
    bary = np.nan_to_num(bary, nan=1.0 / 3.0)
    q = bary[:, :1] * a + bary[:, 1:2] * b + bary[:, 2:] * c
    return q, bary


def closest_points_on_mesh(
    points: object, vertices: object, faces: object, *, k: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest point on a triangle mesh for each query point.

    Candidate triangles are the ``k`` with the nearest centroids plus those around the nearest
    vertex; exact for reasonably shaped meshes (an approximation for extreme slivers).

    Args:
        points: ``(N, 3)`` query points.
        vertices: ``(V, 3)`` mesh vertices.
        faces: ``(F, 3)`` triangles.
        k: candidate triangles by centroid.

    Returns:
        ``(closest (N, 3), face_index (N,), barycentric (N, 3))``.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    v = _as_vertices(vertices)
    f = _as_faces(faces, v.shape[0])
    cent = v[f].mean(axis=1)
    kk = min(k, f.shape[0])
    _, cand = cKDTree(cent).query(p, k=kk)
    cand = np.asarray(cand).reshape(p.shape[0], kk)
    # faces around the nearest vertex (up to 12 of them)
    _, nv = cKDTree(v).query(p, k=1)
    order = np.argsort(f.ravel(), kind="stable")
    owner = order // 3
    starts = np.searchsorted(f.ravel()[order], nv)
    ring = np.stack([owner[np.minimum(starts + i, owner.size - 1)] for i in range(12)], axis=1)
    valid = f.ravel()[order][np.minimum(starts[:, None] + np.arange(12), owner.size - 1)] == nv[:, None]
    ring = np.where(valid, ring, cand[:, :1])
    cand = np.concatenate([cand, ring], axis=1)
    n, c = cand.shape
    rep = np.repeat(p, c, axis=0)
    tri = f[cand.ravel()]
    q, bary = _closest_on_triangles(rep, v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]])
    d = np.sum((q - rep) ** 2, axis=1).reshape(n, c)
    best = np.argmin(d, axis=1)
    sel = np.arange(n) * c + best
    return q[sel], cand[np.arange(n), best], bary[sel]


# ----------------------------------------------------------------------------------------------
# face frame


@dataclass(frozen=True, eq=False)
class FaceFrame:
    """An orthonormal frame attached to a face.

    Attributes:
        origin: ``(3,)`` origin (any point; the centroid for estimated frames).
        lateral: ``(3,)`` unit axis towards the subject's left (``up × forward``).
        up: ``(3,)`` unit axis from chin to forehead.
        forward: ``(3,)`` unit axis out of the face (the viewing direction is ``-forward``).
    """

    origin: np.ndarray
    lateral: np.ndarray
    up: np.ndarray
    forward: np.ndarray

    @classmethod
    def from_axes(cls, up: object, forward: object, origin: object = (0.0, 0.0, 0.0)) -> "FaceFrame":
        """Frame from ``up`` and ``forward`` vectors (orthonormalised; forward is kept exactly).

        Raises:
            MeshtalkError: zero or parallel vectors.
        """
        u = np.asarray(up, dtype=np.float64).reshape(3)
        fwd = np.asarray(forward, dtype=np.float64).reshape(3)
        nf = np.linalg.norm(fwd)
        if not np.isfinite(nf) or nf == 0:
            raise MeshtalkError(f"orientation: forward vector {fwd} has no direction")
        fwd = fwd / nf
        u = u - (u @ fwd) * fwd
        nu = np.linalg.norm(u)
        if not np.isfinite(nu) or nu < 1e-9:
            raise MeshtalkError("orientation: up and forward are parallel or up is zero")
        u = u / nu
        lat = np.cross(u, fwd)
        return cls(np.asarray(origin, dtype=np.float64).reshape(3), lat, u, fwd)

    @property
    def rotation(self) -> np.ndarray:
        """``(3, 3)`` rows lateral, up, forward: ``local = (world - origin) @ rotation.T``."""
        return np.stack([self.lateral, self.up, self.forward])

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """``(N, 3)`` world → ``(N, 3)`` local (x lateral, y up, z forward)."""
        return (np.asarray(points, dtype=np.float64) - self.origin) @ self.rotation.T

    def to_world(self, local: np.ndarray) -> np.ndarray:
        """``(N, 3)`` local → ``(N, 3)`` world."""
        return np.asarray(local, dtype=np.float64) @ self.rotation + self.origin


#: Surface samples whose outward normal has a forward component below this are not part of the
#: front height field (the back of the head seen through the mouth, the walls of a mouth slit).
_FACING = 0.25


@dataclass(frozen=True, eq=False)
class _Surface:
    """Samples of a surface with outward unit normals, in world or face-frame coordinates.

    ``normals`` are oriented away from the shape's centroid, so the orientation of the triangles
    (or a point cloud without normals) does not matter; ``spacing`` is the typical distance between
    neighbouring samples (the resolution the surface is known at).
    """

    points: np.ndarray
    normals: np.ndarray
    spacing: float

    def in_frame(self, frame: "FaceFrame") -> "_Surface":
        return _Surface(frame.to_local(self.points), self.normals @ frame.rotation.T, self.spacing)

    def facing(self) -> np.ndarray:
        """Points ``(N', 3)`` that face forward (``+z`` of the frame they are in)."""
        return self.points[self.normals[:, 2] > _FACING]


def _orient_away(normals: np.ndarray, points: np.ndarray, centre: np.ndarray) -> np.ndarray:
    flip = np.einsum("ij,ij->i", normals, points - centre) < 0
    return np.where(flip[:, None], -normals, normals)


def _cloud_surface(v: np.ndarray) -> _Surface:
    """A point cloud: normals from the 12 nearest points (PCA), spacing from the nearest one."""
    k = min(12, v.shape[0])
    tree = cKDTree(v)
    d, nb = tree.query(v, k=k)
    nbr = v[nb] - v[nb].mean(axis=1, keepdims=True)
    _, vecs = np.linalg.eigh(np.einsum("nki,nkj->nij", nbr, nbr))
    normals = _orient_away(vecs[:, :, 0], v, v.mean(axis=0))
    return _Surface(v, normals, float(np.median(d[:, 1])))


def _mesh_surface(v: np.ndarray, f: np.ndarray, density: float, rng: np.random.Generator) -> _Surface:
    """Area-proportional samples of the triangles ``f`` (about ``density`` per unit area)."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    n = np.cross(b - a, c - a)
    area2 = np.linalg.norm(n, axis=1)
    counts = rng.poisson(0.5 * area2 * density)
    idx = np.repeat(np.arange(f.shape[0]), counts)
    r1 = np.sqrt(rng.random(idx.size))
    r2 = rng.random(idx.size)
    w0, w1, w2 = 1 - r1, r1 * (1 - r2), r1 * r2
    pts = w0[:, None] * a[idx] + w1[:, None] * b[idx] + w2[:, None] * c[idx]
    unit = n / np.maximum(area2, 1e-300)[:, None]
    normals = _orient_away(unit, (a + b + c) / 3.0, v.mean(axis=0))[idx]
    return _Surface(pts, normals, 1.0 / np.sqrt(max(density, 1e-300)))


def _sample_surface(v: np.ndarray, f: np.ndarray | None, n: int, seed: int) -> _Surface:
    """About ``n`` samples of a mesh's surface, or the points of a point cloud."""
    if f is None:
        return _cloud_surface(v)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    total = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum()
    if total <= 0:
        raise MeshtalkError("mesh has zero surface area")
    return _mesh_surface(v, f, n / total, np.random.default_rng(seed))


def estimate_face_frame(vertices: object, faces: object | None = None, *, seed: int = 0) -> FaceFrame:
    """Estimate a face frame from the shape itself (heuristic).

    The lateral axis is the principal axis whose mirror plane (through the centroid) maps the
    surface best onto itself; forward points from the centroid to the nose, found as the largest
    outward deviation from a fitted ellipsoid near the mirror plane; the up sign puts the lip line
    (the strongest horizontal valley near the nose) below the nose. A mesh is read through uniform
    area samples only (its vertices would weigh densely meshed regions, such as a template's
    face, more), so the estimate does not depend on the meshing.

    Args:
        vertices: ``(V, 3)`` neutral vertices or points.
        faces: ``(F, 3)`` triangles, or ``None`` for a point cloud.
        seed: seed of the surface sampling.

    Returns:
        A :class:`FaceFrame` with its origin at the surface centroid.
    """
    v = _as_vertices(vertices)
    f = _as_faces(faces, v.shape[0])
    surface = _sample_surface(v, f, 60000, seed)
    pts = surface.points
    centre = pts.mean(axis=0)
    x = pts - centre
    _, vecs = np.linalg.eigh(x.T @ x)
    axes = vecs.T  # rows: principal axes, ascending variance
    sub = x[np.random.default_rng(seed).choice(x.shape[0], min(x.shape[0], 20000), replace=False)]
    tree = cKDTree(x)
    scores = []
    for ax in axes:
        # the mean of the worst 1 % of mirror distances: small features (nose, mouth) decide it
        mirrored = sub - 2.0 * np.outer(sub @ ax, ax)
        d, _ = tree.query(mirrored, k=1)
        scores.append(float(np.mean(np.sort(d)[-max(1, d.size // 100) :])))
    li = int(np.argmin(scores))
    lateral = axes[li]
    others = [axes[i] for i in range(3) if i != li]
    # ellipsoid fit in the principal frame: α x² + β y² + γ z² = 1
    loc = x @ axes.T
    coef, *_ = np.linalg.lstsq(loc**2, np.ones(loc.shape[0]), rcond=None)
    coef = np.abs(coef)
    resid = np.sqrt((loc**2) @ coef) - 1.0
    width = np.ptp(x @ lateral)
    near_mid = np.abs(x @ lateral) < 0.05 * width
    if not near_mid.any():
        raise MeshtalkError("estimate_face_frame: no surface near the mirror plane; give the orientation")
    tip = x[near_mid][np.argmax(resid[near_mid])]
    cands = [s * o for o in others for s in (1.0, -1.0)]
    forward = max(cands, key=lambda d: float(d @ tip))
    up0 = np.cross(forward, lateral)
    best = None
    for sign in (1.0, -1.0):
        frame = FaceFrame.from_axes(sign * up0, forward, centre)
        try:
            strength = _lip_valley_strength(surface, frame)
        except MeshtalkError:
            strength = -np.inf
        if best is None or strength > best[0]:
            best = (strength, frame)
    log.debug("estimate_face_frame: mirror scores %s, lip valley strength %.3g", scores, best[0])
    return best[1]


# ----------------------------------------------------------------------------------------------
# height field and landmarks


@dataclass
class _HeightField:
    x0: float
    y0: float
    h: float
    z: np.ndarray  # (ny, nx), smoothed surface height
    kappa: np.ndarray  # (ny, nx), ∂²z/∂y² of the gap-marked height (Gaussian derivative)
    notch: np.ndarray  # (ny, nx), depth below the lower of the two points ±0.05·W above/below

    def xy(self, ix: np.ndarray, iy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.x0 + np.asarray(ix) * self.h, self.y0 + np.asarray(iy) * self.h

    def sample(self, arr: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        coords = np.stack([(np.asarray(y) - self.y0) / self.h, (np.asarray(x) - self.x0) / self.h])
        return ndimage.map_coordinates(arr, coords.reshape(2, -1), order=1, mode="nearest").reshape(np.shape(x))


def _height_field(
    local: np.ndarray,
    box: tuple[float, float, float, float],
    h: float,
    width: float,
    spacing: float,
    boundary: np.ndarray | None = None,
) -> _HeightField:
    """The front surface ``z(x, y)`` over ``box`` from forward-facing samples ``(N, 3)``.

    Cells hold the front-most sample; the surface between samples is their Gaussian-weighted
    average (normalised convolution at ``max(0.004·W, spacing)``), so a sparse point cloud and a
    densely sampled mesh give the same surface. Where the surface is missing — a gap between the
    lips of a mesh whose mouth is cut open, or a slit too thin to face forward — coverage drops;
    such cells are lowered by ``0.02·W`` (a bounded valley), so an open mouth reads as the same
    lip-line valley as closed lips, whatever the depth seen through it. ``boundary`` ``(M, 3)``
    are points along the mesh's boundary edges: cells they cross in front of the face are gaps
    too (the lip contour of a mouth cut open, even where the lips hide it from the front).
    """
    x0, x1, y0, y1 = box
    nx = int(np.ceil((x1 - x0) / h)) + 1
    ny = int(np.ceil((y1 - y0) / h)) + 1
    ix = np.round((local[:, 0] - x0) / h).astype(np.int64)
    iy = np.round((local[:, 1] - y0) / h).astype(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    if inside.sum() < 16:
        raise MeshtalkError("lip landmarks: too few surface points in front of the face; check the orientation")
    z = np.full(ny * nx, -np.inf)
    np.maximum.at(z, iy[inside] * nx + ix[inside], local[inside, 2])
    z = z.reshape(ny, nx)
    occupied = np.isfinite(z)
    s_z = max(1.0, max(0.004 * width, spacing) / h)
    s_cov = max(s_z, 2.5 * spacing / h)
    occ = occupied.astype(np.float64)
    zero = np.where(occupied, z, 0.0)
    den = ndimage.gaussian_filter(occ, s_z, mode="constant")
    num = ndimage.gaussian_filter(zero, s_z, mode="constant")
    ok = den > 1e-3
    if not ok.any():
        raise MeshtalkError("lip landmarks: empty height field; check the orientation")
    zs = np.where(ok, num / np.where(ok, den, 1.0), 0.0)
    if not ok.all():
        _, (ii, jj) = ndimage.distance_transform_edt(~ok, return_indices=True)
        zs = zs[ii, jj]
    coverage = ndimage.gaussian_filter(occ, s_cov, mode="nearest")
    ref = float(np.median(coverage[occupied]))
    gap = np.clip(1.0 - coverage / (0.5 * ref), 0.0, 1.0)
    if boundary is not None and boundary.shape[0]:
        bx = np.round((boundary[:, 0] - x0) / h).astype(np.int64)
        by = np.round((boundary[:, 1] - y0) / h).astype(np.int64)
        keep = (bx >= 0) & (bx < nx) & (by >= 0) & (by < ny)
        bx, by = bx[keep], by[keep]
        keep = boundary[keep, 2] >= zs[by, bx] - 0.05 * width
        edge = np.zeros((ny, nx))
        edge[by[keep], bx[keep]] = 1.0
        gap = np.maximum(gap, ndimage.maximum_filter(edge, size=3))
    marked = zs - 0.02 * width * gap
    s_k = max(1.5, 0.012 * width / h, 1.5 * spacing / h)
    kappa = ndimage.gaussian_filter(marked, sigma=s_k, order=(2, 0), mode="nearest") / (h * h)
    a = max(1, int(round(0.05 * width / h)))
    padded = np.pad(marked, ((a, a), (0, 0)), mode="edge")
    notch = np.minimum(padded[: -2 * a], padded[2 * a :]) - marked
    return _HeightField(x0, y0, h, zs, kappa, notch)


def _front_points(pts_local: np.ndarray, width: float) -> np.ndarray:
    """Keep points near the front-most surface (drop surfaces hidden behind the face)."""
    h = width / 60.0
    ix = np.floor(pts_local[:, 0] / h).astype(np.int64)
    iy = np.floor(pts_local[:, 1] / h).astype(np.int64)
    key = (ix - ix.min()) * (iy.max() - iy.min() + 1) + (iy - iy.min())
    zmax = np.full(key.max() + 1, -np.inf)
    np.maximum.at(zmax, key, pts_local[:, 2])
    return pts_local[pts_local[:, 2] >= zmax[key] - 0.08 * width]


def _nose_tip(front: np.ndarray, width: float, spacing: float) -> np.ndarray:
    lo = front[:, :2].min(axis=0)
    hi = front[:, :2].max(axis=0)
    hf = _height_field(front, (lo[0], hi[0], lo[1], hi[1]), width / 100.0, width, spacing)
    iy, ix = np.unravel_index(np.argmax(hf.z), hf.z.shape)
    x, y = hf.xy(ix, iy)
    return np.array([x, y, hf.z[iy, ix]])


def _mouth_field(
    front: np.ndarray, nose: np.ndarray, width: float, h: float, spacing: float, boundary: np.ndarray | None = None
) -> _HeightField:
    box = (nose[0] - 0.42 * width, nose[0] + 0.42 * width, nose[1] - 0.5 * width, nose[1] - 0.02 * width)
    return _height_field(front, box, h, width, spacing, boundary)


def _boundary_points(v: np.ndarray, f: np.ndarray, step: float) -> np.ndarray:
    """Points ``(M, 3)`` every ``step`` along the boundary edges (edges of one triangle) of a mesh."""
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    b = uniq[counts == 1]
    if b.shape[0] == 0:
        return np.zeros((0, 3))
    a, c = v[b[:, 0]], v[b[:, 1]]
    n = np.maximum(1, np.ceil(np.linalg.norm(c - a, axis=1) / step)).astype(np.int64)
    idx = np.repeat(np.arange(b.shape[0]), n + 1)
    t = np.concatenate([np.linspace(0.0, 1.0, k + 1) for k in n])
    return a[idx] + t[:, None] * (c[idx] - a[idx])


def _lip_valley_strength(surface: _Surface, frame: FaceFrame) -> float:
    loc = surface.in_frame(frame)
    width = float(np.ptp(loc.points[:, 0]))
    front = _front_points(loc.facing(), width)
    nose = _nose_tip(front, width, loc.spacing)
    hf = _mouth_field(front, nose, width, width / 120.0, loc.spacing)
    col = int(round((nose[0] - hf.x0) / hf.h))
    y = hf.y0 + np.arange(hf.z.shape[0]) * hf.h
    win = (y <= nose[1] - 0.08 * width) & (y >= nose[1] - 0.42 * width)
    if not win.any():
        raise MeshtalkError("no mouth window")
    return float(np.max(hf.kappa[win, col]) * width)


@dataclass(frozen=True, eq=False)
class LipLandmarks:
    """Lip landmarks of one neutral mesh or point cloud.

    Attributes:
        positions: ``(5, 3)`` world positions on the surface, rows in :data:`LANDMARK_NAMES`
            order: the subject's right and left mouth corners, the upper and lower lip midpoints,
            and the stomion (lip-line midpoint).
        vertex_indices: ``(5,)`` nearest vertex of each landmark (for tracking registered motion).
        mouth_width: distance between the corners, data units.
        lip_line: ``(K, 3)`` world points along the lip line between the corners.
        frame: the face frame used.
        nose_tip: ``(3,)`` world position of the nose tip found.
    """

    positions: np.ndarray
    vertex_indices: np.ndarray
    mouth_width: float
    lip_line: np.ndarray
    frame: FaceFrame
    nose_tip: np.ndarray

    def __getitem__(self, name: str) -> np.ndarray:
        """Position ``(3,)`` of the named landmark."""
        return self.positions[LANDMARK_NAMES.index(name)]

    def index(self, name: str) -> int:
        """Nearest vertex index of the named landmark."""
        return int(self.vertex_indices[LANDMARK_NAMES.index(name)])


def _resolve_frame(orientation: object, v: np.ndarray, f: np.ndarray | None, seed: int) -> FaceFrame:
    if isinstance(orientation, FaceFrame):
        return orientation
    if isinstance(orientation, str):
        if orientation == "canonical":
            return FaceFrame.from_axes((0, 1, 0), (0, 0, 1), v.mean(axis=0))
        if orientation == "auto":
            return estimate_face_frame(v, f, seed=seed)
        raise MeshtalkError(f"orientation must be 'canonical', 'auto', (up, forward) or a FaceFrame, got {orientation!r}")
    try:
        up, fwd = orientation  # type: ignore[misc]
    except (TypeError, ValueError):
        raise MeshtalkError(f"orientation must be 'canonical', 'auto', (up, forward) or a FaceFrame, got {orientation!r}") from None
    return FaceFrame.from_axes(up, fwd, v.mean(axis=0))


def _project_to_surface(q: np.ndarray, v: np.ndarray, f: np.ndarray | None) -> np.ndarray:
    if f is not None:
        return closest_points_on_mesh(q, v, f)[0]
    k = min(16, v.shape[0])
    _, nb = cKDTree(v).query(q, k=k)
    out = np.empty_like(q)
    for i in range(q.shape[0]):
        nbr = v[nb[i]]
        c = nbr.mean(axis=0)
        _, vecs = np.linalg.eigh((nbr - c).T @ (nbr - c))
        n = vecs[:, 0]
        out[i] = q[i] - ((q[i] - c) @ n) * n
    return out


def find_lip_landmarks(
    vertices: object,
    faces: object | None = None,
    *,
    orientation: object = "canonical",
    lip_offset: float = 0.12,
    corner_threshold: float = 0.5,
    resolution: int = 240,
    seed: int = 0,
) -> LipLandmarks:
    """Find mouth corners, upper/lower lip midpoints and the lip line on any neutral face.

    Works on meshes of any topology and density and on point clouds (the algorithm reads a
    height field of the surface; see the module docstring). The face must be in a neutral,
    closed- or slightly-open-mouth pose.

    Args:
        vertices: ``(V, 3)`` neutral vertices, or points of a point cloud.
        faces: ``(F, 3)`` triangles; ``None`` for a point cloud.
        orientation: ``'canonical'`` (+y up, +z forward), ``'auto'`` (from the geometry),
            ``(up, forward)`` vectors, or a :class:`FaceFrame`.
        lip_offset: distance of the upper/lower lip points from the lip line, as a fraction of the
            mouth width.
        corner_threshold: a corner is where the lip-line concavity drops to this fraction of its
            central value.
        resolution: height-field cells across the lateral extent of the shape.
        seed: seed of the surface sampling (results are deterministic for a given seed).

    Returns:
        :class:`LipLandmarks`.

    Raises:
        MeshtalkError: bad input, or no lip line found (wrong orientation, no face in front).
    """
    v = _as_vertices(vertices)
    f = _as_faces(faces, v.shape[0])
    if not (0 < corner_threshold < 1):
        raise MeshtalkError(f"corner_threshold must be in (0, 1), got {corner_threshold}")
    frame = _resolve_frame(orientation, v, f, seed)
    local_v = frame.to_local(v)
    width = float(np.ptp(local_v[:, 0]))
    if width <= 0:
        raise MeshtalkError("lip landmarks: the shape has no lateral extent in the given orientation")
    h = width / float(resolution)
    rng = np.random.default_rng(seed)
    if f is None:
        surface = _cloud_surface(local_v)
        front = _front_points(surface.facing(), width)
        nose = _nose_tip(front, width, surface.spacing)
    else:
        coarse = _mesh_surface(local_v, f, 4.0 / (width / 100.0) ** 2, rng)
        nose0 = _nose_tip(_front_points(coarse.facing(), width), width, coarse.spacing)
        # dense samples on the triangles around the mouth, so the height field is meshing-independent
        cent = local_v[f].mean(axis=1)
        near = (
            (np.abs(cent[:, 0] - nose0[0]) < 0.5 * width)
            & (cent[:, 1] < nose0[1] + 0.05 * width)
            & (cent[:, 1] > nose0[1] - 0.6 * width)
        )
        surface = _mesh_surface(local_v, f[near], 6.0 / (h * h), rng)
        front = _front_points(np.concatenate([surface.facing(), coarse.facing()]), width)
        nose = _nose_tip(front, width, coarse.spacing)
    boundary = None if f is None else _boundary_points(local_v, f, 0.5 * h)
    hf = _mouth_field(front, nose, width, h, surface.spacing, boundary)
    ny, nx = hf.kappa.shape
    ys = hf.y0 + np.arange(ny) * hf.h
    c0 = int(round((nose[0] - hf.x0) / hf.h))
    win = np.flatnonzero((ys <= nose[1] - 0.08 * width) & (ys >= nose[1] - 0.42 * width))
    if win.size < 3:
        raise MeshtalkError("lip landmarks: no room below the nose for a mouth; check the orientation")
    band = slice(max(c0 - 1, 0), min(c0 + 2, nx))
    # the lip line is the deepest notch below the nose (a step such as the nose's underside is
    # not a notch: the surface is low on one side only), located on the ridge of concavity
    iy0 = int(win[np.argmax(hf.notch[win, band].mean(axis=1))])
    reach = max(2, int(round(0.02 * width / hf.h)))

    def ridge_y(col: int, iy_prev: float) -> tuple[float, float]:
        lo = max(int(round(iy_prev)) - reach, 1)
        hi = min(int(round(iy_prev)) + reach, ny - 2)
        seg = hf.kappa[lo : hi + 1, col]
        j = int(np.argmax(seg)) + lo
        k0, k1, k2 = hf.kappa[j - 1, col], hf.kappa[j, col], hf.kappa[j + 1, col]
        den = k0 - 2 * k1 + k2
        off = 0.5 * (k0 - k2) / den if den < 0 else 0.0
        return j + float(np.clip(off, -0.5, 0.5)), float(k1)

    iy_c, d_c = ridge_y(c0, iy0)
    if not d_c > 0:
        raise MeshtalkError("lip landmarks: no lip line (concave valley) below the nose; check the orientation")
    # follow the valley sideways across the whole field, then read the corners off its depth
    # profile: where the (lightly smoothed) concavity falls to corner_threshold of its median over
    # the middle of the mouth, going outwards
    line: dict[int, float] = {c0: iy_c}
    strength: dict[int, float] = {c0: d_c}
    for step in (-1, 1):
        col, iy_prev = c0, iy_c
        while 1 <= col + step < nx - 1:
            col += step
            iy_prev, strength[col] = ridge_y(col, iy_prev)
            line[col] = iy_prev
    cols = np.array(sorted(line))
    rows = np.array([line[c] for c in cols])
    prof = ndimage.gaussian_filter1d(np.array([strength[c] for c in cols]), max(1.0, 0.008 * width / hf.h), mode="nearest")
    mid = np.abs(cols - c0) <= 0.1 * width / hf.h
    d_ref = float(np.median(prof[mid]))
    if not d_ref > 0:
        raise MeshtalkError("lip landmarks: no lip line (concave valley) below the nose; check the orientation")
    i0 = int(np.flatnonzero(mid)[np.argmax(prof[mid])])  # the valley's strongest column near the middle
    level = corner_threshold * d_ref
    corners = {}
    for step in (-1, 1):
        i = i0
        while 0 <= i + step < cols.size and prof[i + step] >= level:
            i += step
        if not 0 <= i + step < cols.size:
            raise MeshtalkError("lip landmarks: the lip line runs off the face; check the orientation")
        frac = (prof[i] - level) / max(prof[i] - prof[i + step], 1e-300)
        corners[step] = (cols[i] + step * frac, rows[i] + (rows[i + step] - rows[i]) * frac)
    keep = (cols > corners[-1][0]) & (cols < corners[1][0])
    cols, rows = cols[keep], rows[keep]
    (xl_c, yl_c), (xr_c, yr_c) = corners[1], corners[-1]  # +x is the subject's left
    x_left, y_left = hf.xy(xl_c, yl_c)
    x_right, y_right = hf.xy(xr_c, yr_c)
    x_mid = 0.5 * (x_left + x_right)
    all_cols = np.concatenate([[xr_c], cols, [xl_c]])
    all_rows = np.concatenate([[yr_c], rows, [yl_c]])
    col_mid = (x_mid - hf.x0) / hf.h
    y_mid = hf.y0 + hf.h * float(np.interp(col_mid, all_cols, all_rows))
    right_xy = np.array([x_right, y_right])
    left_xy = np.array([x_left, y_left])
    width_est = float(np.linalg.norm(left_xy - right_xy))
    off = lip_offset * width_est
    xy = np.array([right_xy, left_xy, [x_mid, y_mid + off], [x_mid, y_mid - off], [x_mid, y_mid]])
    z = hf.sample(hf.z, xy[:, 0], xy[:, 1])
    local_pts = np.column_stack([xy, z])
    world = _project_to_surface(frame.to_world(local_pts), v, f)
    lx, ly = hf.xy(all_cols, all_rows)
    line_world = frame.to_world(np.column_stack([lx, ly, hf.sample(hf.z, lx, ly)]))
    _, vidx = cKDTree(v).query(world, k=1)
    return LipLandmarks(
        positions=world,
        vertex_indices=np.asarray(vidx, dtype=np.int64),
        mouth_width=float(np.linalg.norm(world[0] - world[1])),
        lip_line=line_world,
        frame=frame,
        nose_tip=frame.to_world(nose[None])[0],
    )


def lip_region_mask(
    vertices: object,
    landmarks: LipLandmarks,
    *,
    margin: float = 0.15,
    height: float = 0.35,
    depth: float = 0.15,
    name: str = "lips-auto",
) -> RegionMask:
    """Vertices of the lip region around automatically found landmarks.

    A vertex belongs to the region when, in the face frame, it lies between the corners widened
    by ``margin · width`` on each side, within ``height · width`` above or below the lip line, and
    no deeper than ``depth · width`` behind the front surface at the stomion.

    Args:
        vertices: ``(V, 3)`` vertices of the mesh the landmarks were found on (or any mesh in the
            same pose and frame).
        landmarks: from :func:`find_lip_landmarks`.
        margin, height, depth: region size as fractions of the mouth width.
        name: mask name printed in reports.

    Returns:
        A :class:`RegionMask` whose source records the parameters.
    """
    v = _as_vertices(vertices)
    frame = landmarks.frame
    loc = frame.to_local(v)
    line = frame.to_local(landmarks.lip_line)
    w = landmarks.mouth_width
    order = np.argsort(line[:, 0])
    y_line = np.interp(loc[:, 0], line[order, 0], line[order, 1])
    x_lo, x_hi = line[:, 0].min() - margin * w, line[:, 0].max() + margin * w
    z_ref = frame.to_local(landmarks["stomion"][None])[0, 2]
    inside = (
        (loc[:, 0] >= x_lo)
        & (loc[:, 0] <= x_hi)
        & (np.abs(loc[:, 1] - y_line) <= height * w)
        & (loc[:, 2] >= z_ref - depth * w)
    )
    idx = np.flatnonzero(inside)
    if idx.size == 0:
        raise MeshtalkError("lip region: no vertex inside the region; are these the landmarks of this mesh?")
    src = f"automatic (lip landmarks, width {w:.4g}; margin {margin}, height {height}, depth {depth})"
    return RegionMask(name=name, indices=idx, source=src, n_vertices=v.shape[0])


def transfer_region_mask(
    mask: RegionMask,
    source_vertices: object,
    source_faces: object | None,
    target_vertices: object,
    *,
    max_distance: float | None = None,
    name: str | None = None,
) -> RegionMask:
    """Transfer a vertex mask to another meshing of the same surface by nearest surface point.

    Each target vertex is projected onto the source surface (closest point on its triangles, or
    nearest source vertex without faces) and belongs to the mask when the barycentric weight of
    the source mask there is at least 1/2 (for a point: when the nearest vertex is in the mask).

    Args:
        mask: mask on the source meshing.
        source_vertices: ``(V, 3)`` source vertices (same pose and frame as the target).
        source_faces: ``(F, 3)`` source triangles or ``None``.
        target_vertices: ``(V', 3)`` target vertices.
        max_distance: target vertices farther than this from the source surface are left out.
        name: name of the new mask (default: the source name).

    Returns:
        A :class:`RegionMask` on the target meshing; its source names the original mask.

    Raises:
        MeshtalkError: bad input, or no target vertex selected.
    """
    sv = _as_vertices(source_vertices)
    tv = _as_vertices(target_vertices)
    mask.check(sv.shape[0], "mask transfer")
    member = mask.as_bool(sv.shape[0]).astype(np.float64)
    sf = _as_faces(source_faces, sv.shape[0])
    if sf is None:
        dist, nv = cKDTree(sv).query(tv, k=1)
        weight = member[nv]
    else:
        q, fi, bary = closest_points_on_mesh(tv, sv, sf)
        dist = np.linalg.norm(q - tv, axis=1)
        weight = np.einsum("ij,ij->i", member[sf[fi]], bary)
    keep = weight >= 0.5 - 1e-12
    if max_distance is not None:
        keep &= dist <= max_distance
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise MeshtalkError(f"mask transfer: no target vertex lies on the source region {mask.describe()}")
    src = f"transferred from {mask.describe()} on {sv.shape[0]} v by nearest surface point"
    return RegionMask(name=name or mask.name, indices=idx, source=src, n_vertices=tv.shape[0])
