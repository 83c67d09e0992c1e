"""Loading meshes and point clouds without reordering vertices, and diagnosing bad scans.

Every loader returns vertices **in the order of the file**, so that anything meshtalk writes
(motion, caches, exports) matches the user's vertex order. OBJ files are parsed here (polygons are
fan-triangulated; texture/normal indices are ignored, so vertices are never split); other formats
go through trimesh with ``process=False``. A point cloud keeps the normals its file carries (PLY
``nx ny nz``, the 4th-6th columns of an xyz text file, an (N, 6) ``.npy``): a scanner's normals
tell apart surfaces closer than the point spacing, which estimated normals cannot.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.geometry.topology import (
    connected_component_labels,
    edge_face_counts,
    nonmanifold_vertex_count,
)

log = logging.getLogger(__name__)

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf")
POINT_SUFFIXES = (".xyz", ".npy", ".pts", ".txt")


@dataclasses.dataclass(frozen=True)
class Mesh:
    """A triangle mesh or a point cloud, vertices in file order.

    Attributes:
        verts: (V, 3) float64 positions.
        faces: (F, 3) int64 triangles, or None for a point cloud.
        path: where it was loaded from, if anywhere.
        normals: (V, 3) float64 unit normals a point cloud's file carries, or None.
    """

    verts: np.ndarray
    faces: np.ndarray | None = None
    path: Path | None = None
    normals: np.ndarray | None = None

    @property
    def is_point_cloud(self) -> bool:
        return self.faces is None or len(self.faces) == 0


@dataclasses.dataclass(frozen=True)
class MeshReport:
    """What is (and is wrong) with a mesh; see :func:`inspect_mesh`."""

    n_verts: int
    n_faces: int
    bounds_min: tuple[float, float, float]
    bounds_max: tuple[float, float, float]
    n_nonfinite_verts: int
    n_out_of_range_faces: int
    n_degenerate_faces: int
    n_duplicate_faces: int
    n_unreferenced_verts: int
    n_components: int
    n_boundary_edges: int
    n_nonmanifold_edges: int
    n_nonmanifold_verts: int
    surface_area: float

    @property
    def is_point_cloud(self) -> bool:
        return self.n_faces == 0

    @property
    def is_edge_manifold(self) -> bool:
        return self.n_faces > 0 and self.n_nonmanifold_edges == 0

    @property
    def is_watertight(self) -> bool:
        return self.is_edge_manifold and self.n_boundary_edges == 0

    def problems(self) -> list[str]:
        """Human-readable problems, most serious first (empty for a clean mesh)."""
        out = []
        if self.n_verts == 0:
            out.append("no vertices")
        if self.n_nonfinite_verts:
            out.append(f"{self.n_nonfinite_verts} vertices with NaN/inf coordinates")
        if self.n_out_of_range_faces:
            out.append(f"{self.n_out_of_range_faces} faces index vertices that do not exist")
        if self.n_faces == 0 and self.n_verts:
            out.append("no faces (treated as a point cloud)")
        if self.n_degenerate_faces:
            out.append(f"{self.n_degenerate_faces} degenerate (zero-area or repeated-index) faces")
        if self.n_duplicate_faces:
            out.append(f"{self.n_duplicate_faces} duplicate faces")
        if self.n_nonmanifold_edges:
            out.append(f"{self.n_nonmanifold_edges} non-manifold edges (> 2 faces)")
        if self.n_nonmanifold_verts:
            out.append(f"{self.n_nonmanifold_verts} non-manifold (bow-tie) vertices")
        if self.n_unreferenced_verts and self.n_faces:
            out.append(f"{self.n_unreferenced_verts} vertices not used by any face")
        if self.n_components > 1:
            out.append(f"{self.n_components} connected components")
        if self.n_boundary_edges:
            out.append(f"{self.n_boundary_edges} boundary edges (holes or open borders)")
        return out

    def summary(self) -> str:
        """A multi-line text summary, as printed by ``meshtalk info``."""
        lo = ", ".join(f"{x:.4g}" for x in self.bounds_min)
        hi = ", ".join(f"{x:.4g}" for x in self.bounds_max)
        ext = ", ".join(f"{b - a:.4g}" for a, b in zip(self.bounds_min, self.bounds_max))
        kind = "point cloud" if self.is_point_cloud else "triangle mesh"
        lines = [
            f"type:          {kind}",
            f"vertices:      {self.n_verts}",
            f"faces:         {self.n_faces}",
            f"bounds:        min ({lo})  max ({hi})  size ({ext})",
        ]
        if not self.is_point_cloud:
            lines += [
                f"surface area:  {self.surface_area:.6g}",
                f"components:    {self.n_components}",
                f"edge-manifold: {'yes' if self.is_edge_manifold else 'no'}"
                f" ({self.n_nonmanifold_edges} non-manifold edges)",
                f"watertight:    {'yes' if self.is_watertight else 'no'}"
                f" ({self.n_boundary_edges} boundary edges)",
            ]
        probs = self.problems()
        lines.append("problems:      " + ("none" if not probs else "; ".join(probs)))
        return "\n".join(lines)


def inspect_mesh(verts: np.ndarray, faces: np.ndarray | None, *, topology: bool = True) -> MeshReport:
    """Diagnose a mesh or point cloud.

    Args:
        verts: (V, 3) positions.
        faces: (F, 3) int triangles or None.
        topology: count duplicate faces, components, boundary and non-manifold edges and
            vertices (the costly part; 0 when False).

    Returns:
        A :class:`MeshReport`; never raises on bad content (that is what it reports).
    """
    verts = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
    n = len(verts)
    finite = np.isfinite(verts).all(axis=1)
    if finite.any():
        lo, hi = verts[finite].min(axis=0), verts[finite].max(axis=0)
    else:
        lo = hi = np.full(3, np.nan)
    faces = np.zeros((0, 3), np.int64) if faces is None else np.asarray(faces, np.int64).reshape(-1, 3)
    bad_index = ((faces < 0) | (faces >= n)).any(axis=1)
    good = faces[~bad_index]
    repeated = (good[:, 0] == good[:, 1]) | (good[:, 1] == good[:, 2]) | (good[:, 0] == good[:, 2])
    area = np.zeros(len(good))
    if len(good):
        p = np.where(np.isfinite(verts), verts, 0.0)[good]
        area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
    tiny = 1e-12 * max(float(area.mean()) if len(area) else 0.0, np.finfo(float).tiny)
    degenerate = repeated | (area <= tiny)
    n_dup = 0
    if len(good) and topology:
        srt = np.sort(good, axis=1)
        order = np.lexsort((srt[:, 2], srt[:, 1], srt[:, 0]))
        srt = srt[order]
        n_dup = int(np.count_nonzero((srt[1:] == srt[:-1]).all(axis=1)))
    used = np.zeros(n, bool)
    used[good.ravel()] = True
    counts = np.zeros(0, np.int64)
    n_comp = n_nonmanifold_verts = 0
    if topology and len(good):
        edges, counts = edge_face_counts(good[~repeated])
        if repeated.any():  # a face (a, a, b) has no manifold edge but still joins a and b
            edges = None
        n_comp, _ = connected_component_labels(n, good, edges=edges)
        n_nonmanifold_verts = nonmanifold_vertex_count(n, good[~repeated])
    return MeshReport(
        n_verts=n,
        n_faces=len(faces),
        bounds_min=tuple(float(x) for x in lo),
        bounds_max=tuple(float(x) for x in hi),
        n_nonfinite_verts=int((~finite).sum()),
        n_out_of_range_faces=int(bad_index.sum()),
        n_degenerate_faces=int(degenerate.sum()),
        n_duplicate_faces=int(n_dup),
        n_unreferenced_verts=int((~used).sum()) if len(faces) else 0,
        n_components=int(n_comp),
        n_boundary_edges=int((counts == 1).sum()),
        n_nonmanifold_edges=int((counts > 2).sum()),
        n_nonmanifold_verts=n_nonmanifold_verts,
        surface_area=float(area.sum()),
    )


def validate_mesh(verts: np.ndarray, faces: np.ndarray | None, *, name: str = "mesh",
                  topology: bool = True) -> MeshReport:
    """Raise a one-line :class:`MeshtalkError` for input no operator can be computed on.

    Fatal: no or too few vertices (< 4), NaN/inf coordinates, face indices out of range,
    a wrong array shape. Everything else is reported (see :func:`inspect_mesh`) and logged.

    Args:
        verts: (V, 3) positions.
        faces: (F, 3) triangles or None.
        name: how to call the input in messages (usually the file name).
        topology: also count what is only reported, never fatal (duplicate faces, components,
            boundary and non-manifold edges and vertices); without it those counts are 0 and
            nothing is logged (the fatal checks are the same).
    """
    v = np.asarray(verts)
    if v.ndim != 2 or v.shape[-1] != 3:
        raise MeshtalkError(f"{name}: vertices must have shape (V, 3), got {v.shape}")
    if faces is not None:
        f = np.asarray(faces)
        if len(f) and (f.ndim != 2 or f.shape[-1] != 3):
            raise MeshtalkError(f"{name}: faces must have shape (F, 3) triangles, got {f.shape}")
        if len(f) and not np.issubdtype(f.dtype, np.integer):
            raise MeshtalkError(f"{name}: face indices must be integers, got {f.dtype}")
    report = inspect_mesh(v, faces, topology=topology)
    if report.n_verts == 0:
        raise MeshtalkError(f"{name}: no vertices")
    if report.n_nonfinite_verts:
        raise MeshtalkError(
            f"{name}: {report.n_nonfinite_verts} of {report.n_verts} vertices have NaN/inf coordinates"
        )
    if report.n_out_of_range_faces:
        raise MeshtalkError(
            f"{name}: {report.n_out_of_range_faces} faces index vertices outside 0..{report.n_verts - 1}"
        )
    if report.n_verts < 4:
        raise MeshtalkError(f"{name}: only {report.n_verts} points; a surface needs at least 4")
    extent = np.subtract(report.bounds_max, report.bounds_min)
    if not np.all(np.isfinite(extent)) or extent.max() <= 0:
        raise MeshtalkError(f"{name}: all vertices coincide")
    if report.n_faces and report.n_degenerate_faces == report.n_faces:
        raise MeshtalkError(f"{name}: all {report.n_faces} faces are degenerate (zero area)")
    if topology:
        for problem in report.problems():
            log.info("%s: %s", name, problem)
    return report


# ----------------------------------------------------------------------------------------------
# readers


def _read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    verts: list[list[float]] = []
    tris: list[tuple[int, int, int]] = []
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("v "):
            parts = line.split()
            if len(parts) < 4:
                raise MeshtalkError(f"{path}: line {lineno}: a vertex needs 3 coordinates")
            try:
                verts.append([float(parts[1]), float(parts[2]), float(parts[3])])
            except ValueError:
                raise MeshtalkError(f"{path}: line {lineno}: bad vertex coordinates") from None
        elif line.startswith("f "):
            idx = []
            for token in line.split()[1:]:
                head = token.split("/", 1)[0]
                try:
                    i = int(head)
                except ValueError:
                    raise MeshtalkError(f"{path}: line {lineno}: bad face index {token!r}") from None
                idx.append(i - 1 if i > 0 else len(verts) + i)  # OBJ is 1-based; negatives are relative
            if len(idx) < 3:
                raise MeshtalkError(f"{path}: line {lineno}: a face needs at least 3 vertices")
            for j in range(1, len(idx) - 1):
                tris.append((idx[0], idx[j], idx[j + 1]))
    v = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
    return v, f


def _read_xyz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Points and, with 6 or more columns, normals (x y z nx ny nz ...)."""
    try:
        data = np.loadtxt(path, ndmin=2, comments="#")
    except ValueError as exc:
        raise MeshtalkError(f"{path}: not a whitespace-separated point list ({exc})") from None
    if data.size == 0:
        return np.zeros((0, 3)), None
    if data.shape[1] < 3:
        raise MeshtalkError(f"{path}: needs at least 3 columns (x y z), got {data.shape[1]}")
    return data[:, :3], (data[:, 3:6] if data.shape[1] >= 6 else None)


def _ply_point_normals(loaded) -> np.ndarray | None:
    """The ``nx ny nz`` vertex properties of a PLY point cloud that trimesh loaded, or None."""
    raw = (getattr(loaded, "metadata", None) or {}).get("_ply_raw") or {}
    data = (raw.get("vertex") or {}).get("data")
    if not isinstance(data, dict) or not all(k in data for k in ("nx", "ny", "nz")):
        return None
    return np.concatenate([np.asarray(data[k], np.float64).reshape(-1, 1) for k in ("nx", "ny", "nz")], axis=1)


def check_normals(normals, n: int, name: str) -> np.ndarray:
    """``normals`` as (n, 3) float64 unit vectors.

    Raises:
        MeshtalkError: another shape, or a zero or non-finite normal (one line, naming ``name``).
    """
    nrm = np.asarray(normals, dtype=np.float64)
    if nrm.shape != (n, 3):
        raise MeshtalkError(f"{name}: normals must have shape ({n}, 3), got {nrm.shape}")
    length = np.linalg.norm(nrm, axis=1)
    bad = ~np.isfinite(length) | (length < 1e-12)
    if bad.any():
        raise MeshtalkError(f"{name}: {int(bad.sum())} normals are zero or not finite")
    return np.ascontiguousarray(nrm / length[:, None])


def _file_normals(normals, n: int, name: str) -> np.ndarray | None:
    """A point cloud's own normals through :func:`check_normals`; unusable ones are dropped with a
    warning (the operators then estimate normals from the points)."""
    if normals is None:
        return None
    try:
        return check_normals(normals, n, name)
    except MeshtalkError as exc:
        log.warning("%s; ignored, normals estimated from the points instead", exc)
        return None


def _read_with_trimesh(path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    import trimesh

    try:
        loaded = trimesh.load(path, process=False, maintain_order=True)
    except Exception as exc:  # trimesh raises many types on bad files
        raise MeshtalkError(f"{path}: not a readable mesh ({type(exc).__name__}: {exc})".split("\n")[0]) from None
    if isinstance(loaded, trimesh.Scene):
        geoms = [g for g in loaded.geometry.values() if hasattr(g, "vertices")]
        if not geoms:
            raise MeshtalkError(f"{path}: the file holds no mesh geometry")
        if len(geoms) > 1:
            log.warning("%s: %d meshes in the scene; concatenated in file order", path, len(geoms))
        verts, faces, offset = [], [], 0
        for g in geoms:
            verts.append(np.asarray(g.vertices))
            if getattr(g, "faces", None) is not None and len(g.faces):
                faces.append(np.asarray(g.faces) + offset)
            offset += len(g.vertices)
        v = np.concatenate(verts)
        f = np.concatenate(faces) if faces else None
        return v, f, None
    faces = getattr(loaded, "faces", None)
    if faces is not None and len(faces) == 0:
        faces = None
    if not hasattr(loaded, "vertices"):
        raise MeshtalkError(f"{path}: not a mesh or point cloud")
    return np.asarray(loaded.vertices, dtype=np.float64), (
        None if faces is None else np.asarray(faces, dtype=np.int64)
    ), (_ply_point_normals(loaded) if faces is None else None)


def load_mesh(path: str | Path, *, validate: bool = True) -> Mesh:
    """Load a mesh (obj, ply, stl, off, glb/gltf) or a point cloud (ply without faces, xyz, npy).

    Vertices keep the order of the file.

    Args:
        path: the file.
        validate: raise :class:`MeshtalkError` on fatal problems (see :func:`validate_mesh`).

    Returns:
        A :class:`Mesh` with float64 vertices (V, 3) and int64 faces (F, 3) or None.

    Raises:
        MeshtalkError: missing/empty/unreadable file, or (with ``validate``) unusable content.
    """
    path = Path(path)
    if not path.exists():
        raise MeshtalkError(f"{path}: no such file")
    if path.is_dir():
        raise MeshtalkError(f"{path}: is a directory, expected a mesh file")
    if path.stat().st_size == 0:
        raise MeshtalkError(f"{path}: empty file")
    suffix = path.suffix.lower()
    normals = None
    try:
        if suffix == ".obj":
            verts, faces = _read_obj(path)
        elif suffix == ".npy":
            try:
                verts = np.load(path, allow_pickle=False)
            except ValueError as exc:
                raise MeshtalkError(f"{path}: not a numeric .npy array ({exc})") from None
            verts = np.asarray(verts, dtype=np.float64)
            if verts.ndim != 2 or verts.shape[1] not in (3, 6):
                raise MeshtalkError(f"{path}: a point cloud .npy must have shape (N, 3), or (N, 6) with "
                                    f"normals, got {verts.shape}")
            verts, normals = (verts[:, :3], verts[:, 3:]) if verts.shape[1] == 6 else (verts, None)
            faces = None
        elif suffix in (".xyz", ".pts", ".txt"):
            (verts, normals), faces = _read_xyz(path), None
        elif suffix in MESH_SUFFIXES:
            verts, faces, normals = _read_with_trimesh(path)
        else:
            raise MeshtalkError(
                f"{path}: unknown mesh format {suffix!r}; use one of "
                + ", ".join(MESH_SUFFIXES + POINT_SUFFIXES)
            )
    except OSError as exc:
        raise MeshtalkError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if faces is not None and len(faces) == 0:
        faces = None
    if validate:
        validate_mesh(verts, faces, name=str(path))
    normals = _file_normals(normals, len(verts), str(path)) if faces is None else None
    return Mesh(verts=np.ascontiguousarray(verts, np.float64), faces=faces, path=path, normals=normals)


def as_mesh(mesh, *, name: str = "mesh") -> Mesh:
    """Any mesh-like input as a validated :class:`Mesh`.

    Args:
        mesh: a file path, a :class:`Mesh` (or anything with ``verts``/``faces``), a
            ``(verts (V, 3), faces (F, 3) | None)`` pair, or a (V, 3) point array.
        name: how to call it in error messages (file inputs use their path).

    Raises:
        MeshtalkError: unreadable file or unusable content (see :func:`validate_mesh`).
    """
    if isinstance(mesh, (str, Path)) or hasattr(mesh, "__fspath__"):
        return load_mesh(Path(mesh))
    if isinstance(mesh, tuple) and len(mesh) == 2:
        verts, faces = mesh
    elif hasattr(mesh, "verts"):
        verts, faces = mesh.verts, getattr(mesh, "faces", None)
    else:
        verts, faces = mesh, None
    verts = np.asarray(verts, dtype=np.float64)
    if faces is not None:
        faces = np.asarray(faces)
        if faces.size == 0:
            faces = None
    validate_mesh(verts, faces, name=name)
    normals = _file_normals(getattr(mesh, "normals", None), len(verts), name) if faces is None else None
    return Mesh(verts=np.ascontiguousarray(verts), faces=None if faces is None else faces.astype(np.int64),
                path=getattr(mesh, "path", None), normals=normals)
