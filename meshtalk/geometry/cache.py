"""A content-addressed on-disk cache of :class:`SpectralOperators`.

* **Key**: SHA-256 of the vertex bytes (float64), the face bytes (int64), the operator settings
  except k, and the cache format version. One entry per key holds as many eigenpairs as were
  ever computed for it; a request for fewer is served by slicing, a request for more recomputes.
* **Format**: an uncompressed ``.npz`` without pickles. The zip CRC of every member is checked
  on read, a JSON header repeats the key and the array shapes, and all arrays must be finite: a
  truncated, corrupt or mismatching entry is logged, ignored and recomputed — never trusted.
* **Atomic and concurrent**: an entry is written to a unique temporary file in the same
  directory and renamed over the final name, so readers only ever see complete files and two
  processes filling the same entry at once both succeed (the last rename wins; both are valid).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from meshtalk.errors import MeshtalkError

log = logging.getLogger(__name__)

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$MESHTALK_CACHE``, else ``$XDG_CACHE_HOME/meshtalk/operators``, else ``~/.cache/...``."""
    env = os.environ.get("MESHTALK_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base).expanduser() / "meshtalk" / "operators"


def operator_key(verts: np.ndarray, faces: np.ndarray | None, settings, normals: np.ndarray | None = None) -> str:
    """Hex SHA-256 identifying the geometry, the given normals (if any) and every setting except k."""
    h = hashlib.sha256()
    h.update(f"meshtalk-operators-v{CACHE_VERSION}".encode())
    v = np.ascontiguousarray(verts, dtype=np.float64)
    h.update(str(v.shape).encode())
    h.update(v.tobytes())
    if faces is not None and len(faces):
        f = np.ascontiguousarray(faces, dtype=np.int64)
        h.update(str(f.shape).encode())
        h.update(f.tobytes())
    else:
        h.update(b"point-cloud")
    if normals is not None:      # given normals change the frames; None keeps the old keys
        nrm = np.ascontiguousarray(normals, dtype=np.float64)
        h.update(b"normals" + str(nrm.shape).encode())
        h.update(nrm.tobytes())
    s = dataclasses.asdict(settings)
    s.pop("k")
    if not s.get("cut_facing"):      # off: the keys from before the setting existed
        s.pop("cut_facing", None)
    if not s.get("cut_facing") or s.get("cut_rule") == "full":   # the keys from before the rule existed
        s.pop("cut_rule", None)
    h.update(json.dumps(s, sort_keys=True).encode())
    return h.hexdigest()


def _csr_arrays(prefix: str, A: torch.Tensor) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_indptr": A.crow_indices().numpy().astype(np.int64),
        f"{prefix}_indices": A.col_indices().numpy().astype(np.int64),
        f"{prefix}_data": A.values().numpy().astype(np.float32),
    }


def _csr_tensor(arrays, prefix: str, n: int) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.sparse_csr_tensor(
            torch.from_numpy(arrays[f"{prefix}_indptr"]),
            torch.from_numpy(arrays[f"{prefix}_indices"]),
            torch.from_numpy(arrays[f"{prefix}_data"]),
            size=(n, n),
        )


def _stored_k(path: Path) -> int:
    with np.load(path, allow_pickle=False) as z:
        return int(json.loads(bytes(z["header"]).decode())["k"])


class OperatorCache:
    """Operators stored by content hash in a directory.

    Args:
        directory: where entries live (created on first write); default :func:`default_cache_dir`.
    """

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def path_for(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.npz"

    def load(self, verts, faces, settings, *, normals=None):
        """The cached operators for this geometry and settings, or None (miss, or a bad entry)."""
        from meshtalk.geometry.operators import SpectralOperators

        key = operator_key(verts, faces, settings, normals)
        path = self.path_for(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}  # reads every member: CRC-checked
            header = json.loads(bytes(arrays.pop("header")).decode())
            n, stored_k = int(header["n_verts"]), int(header["k"])
            if header.get("key") != key or header.get("version") != CACHE_VERSION:
                raise ValueError("header does not match the key")
            if n != len(verts):
                raise ValueError("vertex count does not match")
            expect = {"mass": (n,), "evals": (stored_k,), "evecs": (n, stored_k), "frames": (n, 3, 3),
                      "residuals": (stored_k,)}
            for name, shape in expect.items():
                if arrays[name].shape != shape:
                    raise ValueError(f"{name} has shape {arrays[name].shape}, expected {shape}")
            for name, a in arrays.items():
                if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                    raise ValueError(f"{name} holds non-finite values")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            log.warning("operator cache entry %s is unreadable (%s); recomputing", path, exc)
            return None
        if stored_k < settings.k and stored_k < n:
            return None
        ops = SpectralOperators(
            mass=torch.from_numpy(arrays["mass"]),
            L=_csr_tensor(arrays, "L", n),
            evals=torch.from_numpy(arrays["evals"]),
            evecs=torch.from_numpy(arrays["evecs"]),
            grad_x=_csr_tensor(arrays, "grad_x", n),
            grad_y=_csr_tensor(arrays, "grad_y", n),
            frames=torch.from_numpy(arrays["frames"]),
            residuals=torch.from_numpy(arrays["residuals"]),
            laplacian=header["laplacian"],
            eigen_method=header["eigen_method"],
        )
        log.debug("operator cache hit %s", path)
        return ops.truncate(min(settings.k, ops.k))

    def save(self, verts, faces, settings, ops, *, normals=None) -> Path:
        """Store ``ops`` (atomically); keeps an existing entry that holds more eigenpairs."""
        key = operator_key(verts, faces, settings, normals)
        path = self.path_for(key)
        existing = self.load(verts, faces, dataclasses.replace(settings, k=1), normals=normals) if path.exists() else None
        if existing is not None and _stored_k(path) > ops.k:
            return path
        ops = ops.to("cpu", torch.float32)
        arrays = {
            "mass": ops.mass.numpy(),
            "evals": ops.evals.numpy(),
            "evecs": ops.evecs.numpy(),
            "frames": ops.frames.numpy(),
            "residuals": ops.residuals.numpy(),
            **_csr_arrays("L", ops.L),
            **_csr_arrays("grad_x", ops.grad_x),
            **_csr_arrays("grad_y", ops.grad_y),
        }
        for name, a in arrays.items():
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise MeshtalkError(f"refusing to cache non-finite operator values ({name})")
        header = {
            "version": CACHE_VERSION, "key": key, "n_verts": ops.n_verts, "k": ops.k,
            "laplacian": ops.laplacian, "eigen_method": ops.eigen_method,
            "settings": dataclasses.asdict(settings),
        }
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:16]}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez(fh, **arrays)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError as exc:
            raise MeshtalkError(f"cannot write the operator cache in {self.directory}: {exc.strerror or exc}") from None
        return path
