"""Vertex region masks (lips, upper face) with the provenance printed beside every number.

Published LVE/FDD numbers are not comparable because every repository uses another lip mask
(254, 371 or 428 FLAME vertices; see ``docs/metrics.md``). A :class:`RegionMask` therefore carries
its name, its vertex count and where it came from (file name and content hash, or the algorithm
that made it), and every report prints :meth:`RegionMask.describe` next to the metric.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError

log = logging.getLogger(__name__)

__all__ = ["RegionMask", "load_region_mask"]


@dataclass(frozen=True, eq=False)
class RegionMask:
    """A named set of vertex indices on one meshing.

    Attributes:
        name: short name printed in reports (``"lips"``, ``"upper-face"``).
        indices: ``(K,)`` int64 vertex indices, 0-based, in the order given (order and duplicates
            are kept so that results match the reference scripts exactly).
        source: provenance, e.g. ``"FLAME_lips_idx.mat sha256:1a2b3c4d5e6f (1-based)"``.
        n_vertices: vertex count of the mesh the mask was made for, or ``None`` if unknown.
    """

    name: str
    indices: np.ndarray
    source: str
    n_vertices: int | None = None

    def __post_init__(self) -> None:
        idx = np.asarray(self.indices)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            raise MeshtalkError(
                f"region mask '{self.name}': expected a non-empty 1-D integer index array, "
                f"got shape {idx.shape} dtype {idx.dtype}"
            )
        if idx.min() < 0:
            raise MeshtalkError(f"region mask '{self.name}': negative vertex index {int(idx.min())}")
        if self.n_vertices is not None and idx.max() >= self.n_vertices:
            raise MeshtalkError(
                f"region mask '{self.name}': index {int(idx.max())} out of range for "
                f"{self.n_vertices} vertices"
            )
        idx = idx.astype(np.int64, copy=True)
        idx.setflags(write=False)
        object.__setattr__(self, "indices", idx)
        if np.unique(idx).size != idx.size:
            log.warning("region mask '%s' holds duplicate indices; kept as given", self.name)

    @property
    def count(self) -> int:
        """Number of indices in the mask."""
        return int(self.indices.size)

    def __len__(self) -> int:
        return self.count

    def describe(self) -> str:
        """One line for reports: ``lips (371 v; FLAME_lips_idx.mat sha256:… (1-based))``."""
        return f"{self.name} ({self.count} v; {self.source})"

    def check(self, n_vertices: int, what: str = "metric") -> None:
        """Raise if the mask cannot index a mesh of ``n_vertices`` vertices.

        Raises:
            MeshtalkError: when an index is out of range or the mask was made for another meshing.
        """
        if self.n_vertices is not None and self.n_vertices != n_vertices:
            raise MeshtalkError(
                f"{what}: mask {self.describe()} was made for {self.n_vertices} vertices but the "
                f"meshes have {n_vertices}; transfer it with meshtalk.metrics.landmarks.transfer_region_mask"
            )
        if int(self.indices.max()) >= n_vertices:
            raise MeshtalkError(
                f"{what}: mask {self.describe()} has index {int(self.indices.max())}, out of range "
                f"for meshes with {n_vertices} vertices"
            )

    def as_bool(self, n_vertices: int) -> np.ndarray:
        """``(V,)`` bool membership array."""
        self.check(n_vertices)
        out = np.zeros(n_vertices, dtype=bool)
        out[self.indices] = True
        return out


def _file_tag(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"{path.name} sha256:{digest}"


def _pick_key(obj: dict, key: str | None, path: Path) -> object:
    if key is not None:
        if key not in obj:
            raise MeshtalkError(f"{path}: no key {key!r}; keys are {sorted(map(str, obj))[:20]}")
        return obj[key]
    arrays = [k for k, v in obj.items() if not str(k).startswith("__")]
    if len(arrays) != 1:
        raise MeshtalkError(f"{path}: holds several masks, pick one with key=...; keys are {sorted(map(str, arrays))[:20]}")
    return obj[arrays[0]]


def load_region_mask(
    path: str | Path,
    *,
    name: str | None = None,
    key: str | None = None,
    one_based: bool = False,
    threshold: float | None = None,
    n_vertices: int | None = None,
) -> RegionMask:
    """Load a vertex mask the user supplies (we cannot ship FLAME's or BIWI's).

    Formats: ``.npy`` (indices, or a bool/weight array of length V), ``.txt``/``.csv`` (integers
    separated by commas and/or whitespace, as CodeTalker's ``regions/lve.txt``; or one weight per
    line with ``threshold``), ``.pkl`` (a dict of arrays, e.g. FLAME's ``FLAME_masks.pkl``; pick one
    with ``key``), ``.mat`` (e.g. ScanTalk's ``FLAME_lips_idx.mat``, key ``lips_idx``, 1-based).

    Args:
        path: the mask file.
        name: name printed in reports; defaults to ``key`` or the file stem.
        key: entry to read from a ``.pkl``/``.mat``/``.npz`` file holding several.
        one_based: indices in the file count from 1 (MATLAB files); converted to 0-based.
        threshold: for weight arrays of length V: keep vertices with weight ``> threshold``
            (FaceDiffuser's Multiface masks use 0.1 and 0.4).
        n_vertices: vertex count of the meshing, to check indices and to read bool arrays.

    Returns:
        A :class:`RegionMask` whose ``source`` names the file, its SHA-256 prefix and the options.

    Raises:
        MeshtalkError: unreadable file, unknown format, non-integer indices without ``threshold``,
            indices out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise MeshtalkError(f"mask file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            raw = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                raw = _pick_key(dict(z), key, path)
        elif suffix in (".txt", ".csv"):
            text = path.read_text().replace(",", " ").split()
            raw = np.array([float(t) for t in text])
        elif suffix == ".pkl":
            with open(path, "rb") as fh:
                obj = pickle.load(fh, encoding="latin1")
            raw = _pick_key(obj, key, path) if isinstance(obj, dict) else obj
        elif suffix == ".mat":
            import scipy.io

            raw = _pick_key(scipy.io.loadmat(str(path)), key, path)
        else:
            raise MeshtalkError(f"{path}: unknown mask format {suffix!r}; use .npy, .npz, .txt, .csv, .pkl or .mat")
    except MeshtalkError:
        raise
    except Exception as exc:
        raise MeshtalkError(f"{path}: cannot read mask ({type(exc).__name__}: {exc})") from None
    arr = np.asarray(raw).ravel()
    options = []
    if arr.dtype == bool:
        idx = np.flatnonzero(arr)
        options.append("bool")
        if n_vertices is None:
            n_vertices = arr.size
    elif threshold is not None:
        idx = np.flatnonzero(arr.astype(np.float64) > threshold)
        options.append(f"weight>{threshold:g}")
        if n_vertices is None:
            n_vertices = arr.size
    else:
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise MeshtalkError(f"{path}: mask values are not integers; pass threshold=... for weight masks")
        elif arr.dtype.kind not in "iu":
            raise MeshtalkError(f"{path}: mask has dtype {arr.dtype}, expected integer indices")
        idx = arr.astype(np.int64)
        if one_based:
            if idx.size and idx.min() < 1:
                raise MeshtalkError(f"{path}: one_based=True but the file holds index {int(idx.min())}")
            idx = idx - 1
            options.append("1-based")
    if idx.size == 0:
        raise MeshtalkError(f"{path}: mask selects no vertices")
    source = _file_tag(path) + (f" ({', '.join(options)})" if options else "")
    return RegionMask(name=name or key or path.stem, indices=idx, source=source, n_vertices=n_vertices)
