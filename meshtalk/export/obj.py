"""Wavefront OBJ writing that keeps the vertex order exactly.

One ``v`` line per vertex, in the order given (no merging of duplicates, no reordering, no
unreferenced-vertex removal) and ``f`` lines with 1-based indices. No ``vt``/``vn`` lines are
written, so importers have no reason to split vertices. Coordinates are float32 printed with 9
significant digits, which reads back bit-exactly as float32.

Axes are written as given. meshtalk's convention is +Y up and the face looking along +Z (the
glTF convention); Blender's OBJ importer turns Y-up files into its Z-up world (see
``docs/blender.md``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from meshtalk.export._atomic import atomic_open, write_chunked
from meshtalk.export._validation import check_faces, check_verts

log = logging.getLogger(__name__)


def obj_text(verts: np.ndarray, faces: np.ndarray, *, header: str | None = None) -> bytes:
    """The OBJ file contents for one mesh.

    Args:
        verts: (V, 3) positions (validated; stored as float32).
        faces: (F, 3) 0-based triangles (validated).
        header: an optional comment for the first line.

    Returns:
        UTF-8 bytes.
    """
    lines = [f"# {line}\n" for line in (header or "").splitlines()]
    coords = np.asarray(verts, np.float32).astype(np.float64).ravel().tolist()  # exact float32 values
    lines.append(("v %.9g %.9g %.9g\n" * (len(coords) // 3)) % tuple(coords))
    indices = (np.asarray(faces, np.int64) + 1).ravel().tolist()
    lines.append(("f %d %d %d\n" * (len(indices) // 3)) % tuple(indices))
    return "".join(lines).encode("utf-8")


def write_obj(path: str | os.PathLike, verts: np.ndarray, faces: np.ndarray) -> Path:
    """Write a triangle mesh as OBJ, keeping the vertex order exactly (atomically).

    Args:
        path: the ``.obj`` file to write.
        verts: (V, 3) vertex positions; stored as float32.
        faces: (F, 3) int 0-based triangles.

    Returns:
        ``path``.

    Raises:
        MeshtalkError: bad arrays (shape, NaN/inf, index out of range), or the file cannot be
            written (nothing is left under ``path`` then).
    """
    verts = check_verts(verts)
    faces = check_faces(faces, len(verts))
    data = obj_text(verts, faces, header=f"meshtalk: {len(verts)} vertices in their original order, "
                                         f"{len(faces)} triangles; +Y up")
    with atomic_open(path) as fh:
        write_chunked(fh, data)
    log.info("wrote %s: %d vertices, %d triangles", path, len(verts), len(faces))
    return Path(path)
