"""Per-frame mesh sequences (one OBJ or PLY file per frame) for generic tools.

Blender needs a third-party add-on for these; prefer ``animation.pc2`` or ``animation.glb``
there. Files are named ``frame_00000.obj`` ... and are written into a hidden temporary folder
that is renamed to ``out_dir`` only when every frame is written.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.export._atomic import (
    current_umask,
    describe_os_error,
    remove_quietly,
    temp_path_for,
    write_chunked,
)
from meshtalk.export._validation import check_faces, check_motion
from meshtalk.export.obj import obj_text

log = logging.getLogger(__name__)

SEQUENCE_FORMATS = ("obj", "ply")


def _ply_bytes(verts: np.ndarray, faces: np.ndarray) -> bytes:
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment meshtalk frame, vertex order preserved\n"
        f"element vertex {len(verts)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode("ascii")
    face_rec = np.empty(len(faces), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    face_rec["n"] = 3
    face_rec["idx"] = faces
    return header + np.ascontiguousarray(verts, dtype="<f4").tobytes() + face_rec.tobytes()


def write_sequence(
    out_dir: str | os.PathLike,
    motion: np.ndarray,
    faces: np.ndarray,
    *,
    file_format: str = "obj",
    overwrite: bool = False,
) -> list[Path]:
    """Write one mesh file per frame into a new folder ``out_dir``.

    Args:
        out_dir: the folder to create (its parent must exist).
        motion: (T, V, 3) or (T, V*3) vertex positions per frame; stored as float32.
        faces: (F, 3) int 0-based triangles shared by all frames.
        file_format: ``"obj"`` (text) or ``"ply"`` (binary little-endian).
        overwrite: replace an existing ``out_dir``; otherwise an existing one is an error.

    Returns:
        The T file paths, in frame order.

    Raises:
        MeshtalkError: bad arrays, unknown format, ``out_dir`` exists (without ``overwrite``) or
            cannot be written; nothing is left under ``out_dir`` then.
    """
    if file_format not in SEQUENCE_FORMATS:
        raise MeshtalkError(f"unknown sequence format {file_format!r}; choose from {SEQUENCE_FORMATS}")
    motion = check_motion(motion)
    faces = check_faces(faces, motion.shape[1])
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise MeshtalkError(f"{out_dir} already exists; remove it or allow overwriting")
    if out_dir.exists() and not out_dir.is_dir():
        raise MeshtalkError(f"{out_dir} is a file, not a folder")
    digits = max(5, len(str(len(motion) - 1)))
    names = [f"frame_{t:0{digits}d}.{file_format}" for t in range(len(motion))]
    try:
        tmp = temp_path_for(out_dir, directory=True)
    except OSError as exc:
        raise MeshtalkError(describe_os_error(exc, out_dir)) from None
    old = None
    try:
        for name, verts in zip(names, motion):
            data = obj_text(verts, faces) if file_format == "obj" else _ply_bytes(verts, faces)
            with open(tmp / name, "wb") as fh:
                write_chunked(fh, data)
        os.chmod(tmp, 0o777 & ~current_umask())
        if out_dir.exists():
            old = temp_path_for(out_dir, directory=True)
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
    except OSError as exc:
        remove_quietly(tmp)
        if old is not None and not out_dir.exists():
            os.replace(old, out_dir)
            old = None
        raise MeshtalkError(describe_os_error(exc, out_dir)) from None
    except BaseException:
        remove_quietly(tmp)
        raise
    finally:
        if old is not None:
            remove_quietly(old)
    log.info("wrote %d %s frames into %s", len(names), file_format.upper(), out_dir)
    return [out_dir / name for name in names]
