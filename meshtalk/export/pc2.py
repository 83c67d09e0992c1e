"""PC2 point caches: exact per-frame vertex positions for Blender's Mesh Cache modifier.

Layout (little-endian), as read by Blender's ``MOD_meshcache_pc2``::

    char[12]  "POINTCACHE2\\0"
    int32     file version (1)
    int32     number of points V
    float32   start frame
    float32   sample rate (frames between samples; 1 = every frame)
    int32     number of samples T
    float32   T x V x 3 positions, frame-major

The file stores no frame rate: set the scene's fps to the animation's (the generated
``open_in_blender.py`` does). Coordinates are written exactly as given (no axis change), so they
match ``neutral.obj`` written by :func:`meshtalk.export.obj.write_obj`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import struct
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.export._atomic import atomic_open, write_frames
from meshtalk.export._validation import check_fps, check_motion, check_start

log = logging.getLogger(__name__)

PC2_SIGNATURE = b"POINTCACHE2\0"
_HEADER = struct.Struct("<12siiffi")
#: Frames converted to float32 and written per step.


@dataclasses.dataclass(frozen=True)
class PointCache:
    """A point cache as stored in a PC2 or MDD file.

    Attributes:
        points: (T, V, 3) float32 positions.
        start: first frame (PC2) or None (MDD stores times instead).
        sample_rate: frames between samples (PC2), or None.
        times: (T,) float32 seconds per frame (MDD), or None.
    """

    points: np.ndarray
    start: float | None = None
    sample_rate: float | None = None
    times: np.ndarray | None = None


def to_pc2(path: str | os.PathLike, motion: np.ndarray, fps: float, start: float = 0) -> Path:
    """Write a motion sequence as a PC2 point cache (atomically).

    Args:
        path: the ``.pc2`` file to write.
        motion: (T, V, 3) or (T, V*3) vertex positions per frame, in the mesh's vertex order;
            stored as float32.
        fps: frames per second of ``motion`` (validated and logged; PC2 has no fps field).
        start: the frame of the first sample (header ``start frame``).

    Returns:
        ``path``.

    Raises:
        MeshtalkError: bad motion (shape, NaN/inf), bad fps/start, or the file cannot be written;
            no file is left under ``path`` then.
    """
    motion = check_motion(motion)
    fps = check_fps(fps)
    start = check_start(start)
    num_frames, num_verts, _ = motion.shape
    header = _HEADER.pack(PC2_SIGNATURE, 1, num_verts, start, 1.0, num_frames)
    with atomic_open(path) as fh:
        fh.write(header)
        write_frames(fh, motion, "<f4")
    log.info("wrote %s: %d frames x %d vertices at %g fps", path, num_frames, num_verts, fps)
    return Path(path)


def read_pc2(path: str | os.PathLike) -> PointCache:
    """Read a PC2 point cache.

    Returns:
        :class:`PointCache` with ``points`` (T, V, 3) float32, ``start`` and ``sample_rate``.

    Raises:
        MeshtalkError: missing file, wrong signature, or a size that disagrees with the header.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MeshtalkError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) < _HEADER.size:
        raise MeshtalkError(f"{path} is not a PC2 file: only {len(data)} bytes")
    signature, _version, num_verts, start, rate, num_frames = _HEADER.unpack_from(data)
    if signature.rstrip(b"\0") != PC2_SIGNATURE.rstrip(b"\0"):
        raise MeshtalkError(f"{path} is not a PC2 file: signature {signature!r}")
    expected = _HEADER.size + 12 * num_verts * num_frames
    if num_verts <= 0 or num_frames <= 0 or len(data) != expected:
        raise MeshtalkError(f"{path}: header says {num_frames} frames x {num_verts} points "
                            f"({expected} bytes) but the file has {len(data)} bytes")
    points = np.frombuffer(data, dtype="<f4", offset=_HEADER.size).reshape(num_frames, num_verts, 3)
    return PointCache(points=points.astype(np.float32), start=float(start), sample_rate=float(rate))
