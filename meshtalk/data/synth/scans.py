"""Scan-like meshings of a procedural head: the topologies a speech-driven model must survive.

For one head, every function here returns a :class:`Scan`: vertices (and faces, except for point
clouds) of the same neutral surface meshed another way, with a provenance record. Because the
motion of :mod:`meshtalk.data.synth.motion` is a field in R³, each scan gets exact targets:
``scan.verts + displace(scan.verts, head, articulation)``.

Kinds:
    * ``remesh``: isotropic marching-cubes meshing at any resolution (≈2k to 200k vertices),
      projected onto the surface and relaxed;

Every kind except ``noise`` keeps its points off the mouth line
(:func:`~meshtalk.data.synth.heads.clear_mouth_line`), so each point belongs to one lip. A noisy
scan's vertices carry the motion of their clean surface points (:attr:`Scan.motion_points`):
noise is a measurement error, and a vertex that noise pushes across the mouth line still belongs
to its own lip.
    * ``decimate``: quadric-error decimation of a fine remeshing (anisotropic, curvature-adaptive);
    * ``subdivide``: midpoint subdivision of the template, new vertices projected onto the surface;
    * ``noise``: Gaussian noise on the vertex positions;
    * ``holes``: small discs of faces cut out (real boundary edges), away from the lips;
    * ``pointcloud``: area-uniform surface samples with SDF normals, no faces;
    * ``permute``: the template with its vertices in a random order.

All positions are float64 metres; faces int64, outward counter-clockwise.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from meshtalk.data.synth.heads import (
    Head,
    _largest_component,
    _sdf_gradient,
    _vertex_normals,
    clear_mouth_line,
    mesh_sdf,
    project_to_surface,
)
from meshtalk.errors import MeshtalkError, MissingExtraError

__all__ = [
    "Scan",
    "SCAN_SUITE",
    "cut_holes",
    "decimate",
    "make_scan",
    "make_scans",
    "add_noise",
    "permute",
    "point_cloud",
    "remesh",
    "subdivide",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Scan:
    """One meshing of a head's neutral surface.

    Attributes:
        name: short identifier, e.g. ``"remesh_100k"``.
        verts: (V, 3) float64 positions, metres.
        faces: (F, 3) int64 triangles; (0, 3) for a point cloud.
        normals: (V, 3) float64 unit outward normals (SDF gradient for point clouds, area-weighted
            face normals otherwise).
        provenance: JSON-ready record: head, kind, parameters, seed, seconds taken.
        motion_points: (V, 3) float64 or None: the positions whose motion under the head's
            displacement field each vertex carries, when they differ from ``verts`` (a noisy
            scan: the clean surface points); see :attr:`motion_source`.
    """

    name: str
    verts: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    provenance: dict = field(default_factory=dict)
    motion_points: np.ndarray | None = None

    @property
    def is_point_cloud(self) -> bool:
        """Whether the scan has no faces."""
        return len(self.faces) == 0

    @property
    def motion_source(self) -> np.ndarray:
        """(V, 3) where to evaluate the field for the vertices' exact motion:
        ``verts + displace(motion_source, ...)``."""
        return self.verts if self.motion_points is None else self.motion_points


def _scan(head: Head, name: str, kind: str, verts: np.ndarray, faces: np.ndarray, t0: float,
          normals: np.ndarray | None = None, motion_points: np.ndarray | None = None, **params) -> Scan:
    if normals is None:
        normals = _vertex_normals(verts, faces)
    provenance = {"head": head.name, "kind": kind, "vertices": int(len(verts)),
                  "faces": int(len(faces)), **params,
                  "seconds": round(time.perf_counter() - t0, 3)}
    return Scan(name=name, verts=verts, faces=faces, normals=normals, provenance=provenance,
                motion_points=motion_points)


def _count_name(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 else str(n)


def remesh(head: Head, target_vertices: int, *, relax_iterations: int = 2) -> Scan:
    """Isotropic remeshing of the head's surface (marching cubes at a matching resolution).

    Args:
        head: the head.
        target_vertices: wanted vertex count (result within ±8%).
        relax_iterations: tangential smoothing steps.

    Returns:
        The scan, named ``remesh_<n>k``.
    """
    t0 = time.perf_counter()
    verts, faces = mesh_sdf(head.params, target_vertices, face_density=1.0,
                            relax_iterations=relax_iterations)
    return _scan(head, f"remesh_{_count_name(target_vertices)}", "remesh", verts, faces, t0,
                 target_vertices=int(target_vertices))


def decimate(head: Head, target_vertices: int, *, source_vertices: int | None = None) -> Scan:
    """Quadric-error decimation of a fine isotropic remeshing down to ``target_vertices``.

    Args:
        head: the head.
        target_vertices: wanted vertex count (±15%).
        source_vertices: vertex count of the remeshing decimated (default 5× the target).

    Returns:
        The scan, named ``decimate_<n>k``.

    Raises:
        MissingExtraError: without the ``fast-simplification`` package.
    """
    source = int(source_vertices or 5 * target_vertices)
    if source <= target_vertices:
        raise MeshtalkError(
            f"source_vertices ({source}) must exceed target_vertices ({target_vertices})")
    try:
        import fast_simplification
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError("fast-simplification", "synth", "decimating a head") from exc
    t0 = time.perf_counter()
    verts, faces = mesh_sdf(head.params, source, face_density=1.0, relax_iterations=0)
    # a closed mesh has F ≈ 2V: ask for the face count that gives the vertex target
    reduction = 1.0 - min(1.0, 2.0 * target_vertices / len(faces))
    out_v, out_f = fast_simplification.simplify(verts.astype(np.float64), faces.astype(np.int32),
                                                target_reduction=reduction)
    out_v, out_f = _largest_component(np.asarray(out_v, dtype=np.float64),
                                      np.asarray(out_f, dtype=np.int64))
    out_v = clear_mouth_line(out_v, head.params)
    return _scan(head, f"decimate_{_count_name(target_vertices)}", "decimate", out_v, out_f, t0,
                 target_vertices=int(target_vertices), source_vertices=int(len(verts)))


def _midpoint_subdivide(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(edges, axis=1)
    unique, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    mid = len(verts) + inverse.reshape(3, -1).T  # (F, 3): midpoints of edges 01, 12, 20
    new_verts = np.concatenate([verts, 0.5 * (verts[unique[:, 0]] + verts[unique[:, 1]])])
    a, b, c = faces.T
    ab, bc, ca = mid.T
    new_faces = np.concatenate([np.stack([a, ab, ca], 1), np.stack([ab, b, bc], 1),
                                np.stack([ca, bc, c], 1), np.stack([ab, bc, ca], 1)])
    return new_verts, new_faces


def subdivide(head: Head, levels: int = 1, *, project: bool = True) -> Scan:
    """Midpoint subdivision of the head's template (×4 faces per level).

    Args:
        head: the head.
        levels: 1..3.
        project: move the new vertices onto the surface (otherwise they stay on the flat
            triangles, within the template's chordal error).

    Returns:
        The scan, named ``subdivide_<levels>``; the first ``len(head.verts)`` vertices are the
        template's, in order.
    """
    if not 1 <= int(levels) <= 3:
        raise MeshtalkError(f"subdivision levels must be 1..3, got {levels}")
    t0 = time.perf_counter()
    verts, faces = head.verts, head.faces
    for _ in range(int(levels)):
        verts, faces = _midpoint_subdivide(verts, faces)
    if project:
        n0 = len(head.verts)
        new = clear_mouth_line(project_to_surface(verts[n0:], head.params, iterations=8),
                               head.params)
        verts = np.concatenate([head.verts, new])
    return _scan(head, f"subdivide_{int(levels)}", "subdivide", verts, faces, t0,
                 levels=int(levels), projected=bool(project))


def add_noise(head: Head, sigma: float = 0.0003, *, seed: int = 0,
              base: Scan | None = None) -> Scan:
    """Gaussian noise (isotropic, ``sigma`` metres per axis) on the template or on ``base``.

    Args:
        head: the head.
        sigma: standard deviation per coordinate, metres (0 < sigma ≤ 5 mm).
        seed: noise seed.
        base: scan to perturb (default the template).

    Returns:
        The scan, named ``noise_<sigma in µm>um``.
    """
    if not 0.0 < sigma <= 0.005:
        raise MeshtalkError(f"noise sigma must be in (0, 0.005] metres, got {sigma}")
    t0 = time.perf_counter()
    verts = head.verts if base is None else base.verts
    faces = head.faces if base is None else base.faces
    rng = np.random.default_rng([int(seed), 0x5CA7])
    noisy = verts + sigma * rng.standard_normal(verts.shape)
    clean = verts if base is None else base.motion_source
    return _scan(head, f"noise_{int(round(sigma * 1e6))}um", "noise", noisy, faces, t0,
                 motion_points=clean, sigma=float(sigma), seed=int(seed),
                 base=("template" if base is None else base.name))


def cut_holes(head: Head, count: int = 4, radius: float = 0.006, *, seed: int = 0,
              base: Scan | None = None, keep_clear: float = 0.03) -> Scan:
    """Cut ``count`` small holes: remove the faces within ``radius`` of random centres.

    Centres are drawn among the vertices farther than ``keep_clear`` from the mouth, so the lips
    and their landmarks stay whole (as a scanner would see them).

    Args:
        head: the head.
        count: number of holes (1..64).
        radius: hole radius, metres.
        seed: seed of the centres.
        base: scan to cut (default the template).
        keep_clear: no hole centre nearer than this to the mouth centre, metres.

    Returns:
        The scan, named ``holes_<count>``; vertices left without faces are dropped.
    """
    if not 1 <= int(count) <= 64:
        raise MeshtalkError(f"hole count must be 1..64, got {count}")
    if not 0.0 < radius <= 0.03:
        raise MeshtalkError(f"hole radius must be in (0, 0.03] metres, got {radius}")
    t0 = time.perf_counter()
    verts = head.verts if base is None else base.verts
    faces = head.faces if base is None else base.faces
    rng = np.random.default_rng([int(seed), 0x401E])
    clear = np.linalg.norm(verts - head.landmarks.mouth_center, axis=1) > keep_clear + radius
    candidates = np.flatnonzero(clear)
    centres = verts[rng.choice(candidates, size=int(count), replace=False)]
    centroids = verts[faces].mean(axis=1)
    cut = np.zeros(len(faces), dtype=bool)
    for c in centres:
        cut |= np.linalg.norm(centroids - c, axis=1) < radius
    kept = faces[~cut]
    used = np.unique(kept)
    remap = np.full(len(verts), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    moving = None if base is None or base.motion_points is None else base.motion_points[used]
    return _scan(head, f"holes_{int(count)}", "holes", verts[used], remap[kept], t0, motion_points=moving,
                 count=int(count), radius=float(radius), seed=int(seed),
                 centres=[[round(float(x), 6) for x in c] for c in centres],
                 base=("template" if base is None else base.name))


def point_cloud(head: Head, count: int = 20000, *, seed: int = 0) -> Scan:
    """Area-uniform samples of the surface with outward unit normals (SDF gradient), no faces.

    Args:
        head: the head.
        count: number of points (≥ 100).
        seed: sampling seed.

    Returns:
        The scan, named ``pointcloud_<n>k``; ``faces`` is (0, 3).
    """
    if int(count) < 100:
        raise MeshtalkError(f"point cloud size must be at least 100, got {count}")
    t0 = time.perf_counter()
    rng = np.random.default_rng([int(seed), 0xC10D])
    verts, faces = head.verts, head.faces
    tri = verts[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    pick = rng.choice(len(faces), size=int(count), p=area / area.sum())
    r1, r2 = rng.uniform(size=(2, int(count)))
    s1 = np.sqrt(r1)
    bary = np.stack([1.0 - s1, s1 * (1.0 - r2), s1 * r2], axis=1)
    pts = np.einsum("nk,nkd->nd", bary, tri[pick])
    pts = clear_mouth_line(project_to_surface(pts, head.params), head.params)
    grad = _sdf_gradient(pts, head.params)
    normals = grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)
    return _scan(head, f"pointcloud_{_count_name(int(count))}", "pointcloud", pts,
                 np.zeros((0, 3), dtype=np.int64), t0, normals=normals, count=int(count),
                 seed=int(seed))


def permute(head: Head, *, seed: int = 0, base: Scan | None = None) -> Scan:
    """The template (or ``base``) with its vertices in a random order; faces re-indexed.

    Args:
        head: the head.
        seed: permutation seed.
        base: scan to permute (default the template).

    Returns:
        The scan, named ``permute``; ``provenance["order"]`` is not stored (it is large), but
        ``verts == source_verts[order]`` for ``order = np.random.default_rng([seed, 0x9E4]).
        permutation(V)``.
    """
    t0 = time.perf_counter()
    verts = head.verts if base is None else base.verts
    faces = head.faces if base is None else base.faces
    order = np.random.default_rng([int(seed), 0x9E4]).permutation(len(verts))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    moving = None if base is None or base.motion_points is None else base.motion_points[order]
    return _scan(head, "permute", "permute", verts[order], inverse[faces], t0, motion_points=moving, seed=int(seed),
                 base=("template" if base is None else base.name))


#: The standard suite: (kind, keyword arguments) per scan.
SCAN_SUITE: tuple[tuple[str, dict], ...] = (
    ("remesh", {"target_vertices": 2000}),
    ("remesh", {"target_vertices": 8000}),
    ("remesh", {"target_vertices": 25000}),
    ("remesh", {"target_vertices": 100000}),
    ("decimate", {"target_vertices": 4000}),
    ("subdivide", {"levels": 1}),
    ("noise", {"sigma": 0.0003}),
    ("holes", {"count": 4}),
    ("pointcloud", {"count": 20000}),
    ("permute", {}),
)

_MAKERS = {
    "remesh": remesh,
    "decimate": decimate,
    "subdivide": subdivide,
    "noise": add_noise,
    "holes": cut_holes,
    "pointcloud": point_cloud,
    "permute": permute,
}


def make_scan(head: Head, kind: str, **kwargs) -> Scan:
    """Make one scan of ``head`` by kind name (see the module docstring).

    Raises:
        MeshtalkError: on an unknown kind.
    """
    if kind not in _MAKERS:
        raise MeshtalkError(f"unknown scan kind {kind!r}; known: {', '.join(_MAKERS)}")
    return _MAKERS[kind](head, **kwargs)


def make_scans(head: Head, suite: tuple[tuple[str, dict], ...] = SCAN_SUITE, *, seed: int = 0
               ) -> list[Scan]:
    """Make every scan of ``suite`` for ``head``; seeded kinds get ``seed``.

    Returns:
        One :class:`Scan` per entry, in order.
    """
    scans = []
    for kind, kwargs in suite:
        kw = dict(kwargs)
        if kind in ("noise", "holes", "pointcloud", "permute"):
            kw.setdefault("seed", seed)
        scans.append(make_scan(head, kind, **kw))
        log.info("scan %s of %s: %d vertices in %.2f s", scans[-1].name, head.name,
                 len(scans[-1].verts), scans[-1].provenance["seconds"])
    return scans
