"""MDD point caches (big-endian), also read by Blender's Mesh Cache modifier.

Layout (big-endian), as read by Blender's ``MOD_meshcache_mdd``::

    int32     number of frames T
    int32     number of points V
    float32   T frame times in seconds
    float32   T x V x 3 positions, frame-major

There is no magic number. Coordinates are written as given (no axis change).
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.export._atomic import atomic_open, write_frames
from meshtalk.export._validation import check_fps, check_motion, check_start
from meshtalk.export.pc2 import PointCache

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">ii")


def to_mdd(path: str | os.PathLike, motion: np.ndarray, fps: float, start: float = 0) -> Path:
    """Write a motion sequence as an MDD point cache (atomically).

    Args:
        path: the ``.mdd`` file to write.
        motion: (T, V, 3) or (T, V*3) vertex positions per frame; stored as big-endian float32.
        fps: frames per second; frame ``t`` is stamped ``(start + t) / fps`` seconds.
        start: the frame of the first sample.

    Returns:
        ``path``.

    Raises:
        MeshtalkError: bad motion, fps or start, or the file cannot be written (nothing is left
            under ``path`` then).
    """
    motion = check_motion(motion)
    fps = check_fps(fps)
    start = check_start(start)
    num_frames, num_verts, _ = motion.shape
    times = (start + np.arange(num_frames, dtype=np.float64)) / fps
    with atomic_open(path) as fh:
        fh.write(_HEADER.pack(num_frames, num_verts))
        fh.write(times.astype(">f4").tobytes())
        write_frames(fh, motion, ">f4")
    log.info("wrote %s: %d frames x %d vertices at %g fps", path, num_frames, num_verts, fps)
    return Path(path)


def read_mdd(path: str | os.PathLike) -> PointCache:
    """Read an MDD point cache.

    Returns:
        :class:`PointCache` with ``points`` (T, V, 3) float32 and ``times`` (T,) seconds.

    Raises:
        MeshtalkError: missing file or a size that disagrees with the header.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MeshtalkError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) < _HEADER.size:
        raise MeshtalkError(f"{path} is not an MDD file: only {len(data)} bytes")
    num_frames, num_verts = _HEADER.unpack_from(data)
    expected = _HEADER.size + 4 * num_frames + 12 * num_verts * num_frames
    if num_frames <= 0 or num_verts <= 0 or len(data) != expected:
        raise MeshtalkError(f"{path}: header says {num_frames} frames x {num_verts} points "
                            f"({expected} bytes) but the file has {len(data)} bytes")
    times = np.frombuffer(data, dtype=">f4", count=num_frames, offset=_HEADER.size)
    points = np.frombuffer(data, dtype=">f4", offset=_HEADER.size + 4 * num_frames)
    return PointCache(points=points.reshape(num_frames, num_verts, 3).astype(np.float32),
                      times=times.astype(np.float32))
