"""Writing files so that a final name only ever holds a complete file.

Data goes to a hidden temporary name in the destination folder (same file system, so the final
:func:`os.replace` is atomic); on any error the temporary file is removed and an
:class:`~meshtalk.errors.MeshtalkError` with a one-line message is raised.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from meshtalk.errors import MeshtalkError

log = logging.getLogger(__name__)

#: Bytes written per call when streaming large arrays (keeps peak memory flat).
CHUNK_BYTES = 1 << 24


def describe_os_error(exc: OSError, path: Path) -> str:
    """One line saying what went wrong writing ``path``."""
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device while writing {path}"
    if exc.errno == errno.EDQUOT:
        return f"disk quota exceeded while writing {path}"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write {path}"
    if exc.errno == errno.ENOTDIR:
        return f"cannot write {path}: a part of its folder path is a file, not a directory"
    if exc.errno == errno.ENOENT:
        return f"cannot write {path}: its folder does not exist"
    reason = exc.strerror or type(exc).__name__
    return f"cannot write {path}: {reason}"


def check_output_dir(out_dir: str | os.PathLike, *, create: bool = True) -> Path:
    """Make sure ``out_dir`` is a writable directory (creating it if asked).

    Returns:
        The folder as a :class:`~pathlib.Path`.

    Raises:
        MeshtalkError: it is a file, cannot be created, or is not writable.
    """
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise MeshtalkError(f"output folder {path} is a file, not a directory")
    if not path.exists():
        if not create:
            raise MeshtalkError(f"output folder {path} does not exist")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MeshtalkError(describe_os_error(exc, path)) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise MeshtalkError(f"no permission to write in the output folder {path}")
    return path


def check_output_file(path: str | os.PathLike) -> Path:
    """Make sure a file can be created at ``path``: its folder exists and is writable.

    Raises:
        MeshtalkError: ``path`` is a directory, or its folder is missing, a file or read-only.
    """
    path = Path(path)
    if path.is_dir():
        raise MeshtalkError(f"output {path} is a directory; give a file name")
    check_output_dir(path.parent if str(path.parent) else Path("."), create=False)
    return path


def temp_path_for(path: Path, *, directory: bool = False) -> Path:
    """A fresh hidden name next to ``path`` (created empty, so it is reserved)."""
    prefix = f".{path.name}."
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=path.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def remove_quietly(path: Path) -> None:
    """Remove a temporary file or folder; never raises."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:  # pragma: no cover - best effort clean-up
        log.debug("could not remove %s", path)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a binary file that appears under ``path`` only once fully written.

    Example::

        with atomic_open(out / "animation.pc2") as fh:
            fh.write(header)
            fh.write(payload)

    Raises:
        MeshtalkError: any OS error (disk full, permission, ...); nothing is left at ``path``
            and the temporary file is removed. Other exceptions propagate after the same
            clean-up.
    """
    path = check_output_file(path)
    try:
        tmp = temp_path_for(path)
    except OSError as exc:
        raise MeshtalkError(describe_os_error(exc, path)) from None
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except OSError as exc:
        remove_quietly(tmp)
        raise MeshtalkError(describe_os_error(exc, path)) from None
    except BaseException:
        remove_quietly(tmp)
        raise


def write_chunked(fh: BinaryIO, data: bytes | memoryview) -> None:
    """Write a large buffer in pieces of :data:`CHUNK_BYTES`."""
    view = memoryview(data).cast("B")
    for start in range(0, len(view), CHUNK_BYTES):
        fh.write(view[start:start + CHUNK_BYTES])


def write_frames(fh: BinaryIO, motion, dtype: str, frames_per_chunk: int = 64) -> None:
    """Write a (T, V, 3) motion as raw ``dtype`` values (e.g. ``"<f4"``, ``">f4"``), a few frames at
    a time so that no full-size converted copy is ever held in memory."""
    import numpy as np

    for t0 in range(0, len(motion), frames_per_chunk):
        write_chunked(fh, np.ascontiguousarray(motion[t0:t0 + frames_per_chunk], dtype=dtype).data)


def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
