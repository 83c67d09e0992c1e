"""glTF 2.0 binary (``.glb``) with the neutral mesh, morph targets and a weights animation.

The file holds one mesh (base ``POSITION`` + ``indices``), K morph targets (``POSITION``
displacements) and one animation whose sampler maps the frame times ``t / fps`` (LINEAR
interpolation) to the K weights. Blender's bundled importer turns the targets into shape keys and
the animation into a shape-key action; Unity, Unreal, Godot and three.js read it too.

Two encodings (``mode``):

* ``"pca"`` (default, compact): the displacements from the neutral mesh, ``motion - neutral``
  (T, 3V), are approximated by their K leading principal directions (an uncentred PCA in
  float64, from at most :data:`MAX_BASIS_FRAMES` evenly spaced frames; every frame is encoded and
  measured). K is ``n_components`` or the smallest K whose largest per-vertex error over all
  frames is at most ``max_error`` (searched upward from the bound the spectrum gives). To keep every weight in [0, 1] (Blender clamps shape-key values to the slider
  range, which its importer does not widen past the first key), component k spans
  ``[a_k, b_k] ∋ 0`` of its coefficients: the target is ``(b_k - a_k) u_k``, the stored base is
  ``neutral + Σ a_k u_k`` and the mesh's default weights ``-a_k / (b_k - a_k)`` give back the
  neutral mesh when no animation plays.
* ``"exact"`` (short clips): one target per frame, ``motion[t] - neutral``, base = neutral, and
  one-hot weights; LINEAR interpolation then blends consecutive frames. T shape keys are heavy in
  Blender beyond a few hundred frames.

The reconstruction error reported is measured on the float32 arrays actually stored, against the
float64 motion. No normals are written: viewers compute them, and Blender would otherwise keep the
neutral face's normals as custom normals, freezing the shading while the shape keys move. Axes are written unchanged: glTF is +Y up with the face looking along +Z, which
is meshtalk's convention; importers convert to their own (Blender: Z up).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import struct
from pathlib import Path

import numpy as np

from meshtalk import __version__
from meshtalk.errors import MeshtalkError
from meshtalk.export._atomic import atomic_open, write_chunked
from meshtalk.export._validation import check_faces, check_fps, check_motion, check_verts

log = logging.getLogger(__name__)

GLB_MODES = ("pca", "exact")
#: Default ``max_error`` of the PCA encoding, as a fraction of the neutral mesh's bounding-box
#: diagonal (2e-4 of a 25 cm head is 0.05 mm).
DEFAULT_RELATIVE_MAX_ERROR = 2e-4
#: Most PCA components chosen automatically.
MAX_AUTO_COMPONENTS = 256
#: The PCA directions come from at most this many evenly spaced frames (all frames are encoded
#: and measured).
MAX_BASIS_FRAMES = 1024
#: Components added per step while searching for the smallest basis meeting ``max_error``.
_SEARCH_BLOCK = 8
#: Above this many frames ``mode="exact"`` logs a warning (one shape key per frame).
EXACT_FRAMES_WARNING = 600

_GLB_MAGIC = 0x46546C67  # "glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
_ARRAY_BUFFER = 34962
_ELEMENT_ARRAY_BUFFER = 34963
_FLOAT = 5126
_UNSIGNED_SHORT = 5123
_UNSIGNED_INT = 5125
_FRAMES_PER_CHUNK = 64


@dataclasses.dataclass(frozen=True)
class MorphAnimation:
    """A motion sequence encoded as a base mesh, morph targets and per-frame weights.

    ``base + Σ_k weights[t, k] * targets[k]`` approximates ``motion[t]``.

    Attributes:
        base: (V, 3) float32 base positions.
        targets: (K, V, 3) float32 displacements.
        weights: (T, K) float32 weights, all in [0, 1].
        default_weights: (K,) float32 weights that give the neutral mesh.
        mode: ``"pca"`` or ``"exact"``.
        max_error: largest Euclidean distance between a reconstructed and a true vertex (mesh
            units), over all frames and vertices.
        mean_error: mean of that distance over all frames and vertices.
    """

    base: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    default_weights: np.ndarray
    mode: str
    max_error: float
    mean_error: float


@dataclasses.dataclass(frozen=True)
class GlbReport:
    """What :func:`to_glb` wrote.

    Attributes:
        path: the ``.glb`` file.
        mode: ``"pca"`` or ``"exact"``.
        num_frames: T.
        num_verts: V.
        num_targets: K morph targets.
        max_error: largest per-vertex reconstruction error (mesh units).
        mean_error: mean per-vertex reconstruction error (mesh units).
        relative_max_error: ``max_error`` over the neutral mesh's bounding-box diagonal.
        file_bytes: size of the file.
    """

    path: Path
    mode: str
    num_frames: int
    num_verts: int
    num_targets: int
    max_error: float
    mean_error: float
    relative_max_error: float
    file_bytes: int

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (f"{self.path.name}: {self.mode}, {self.num_targets} morph targets for "
                f"{self.num_frames} frames, max error {self.max_error:.3g} "
                f"({self.relative_max_error:.2g} of the mesh size), mean {self.mean_error:.3g}, "
                f"{self.file_bytes / 1e6:.1f} MB")


def bbox_diagonal(verts: np.ndarray) -> float:
    """Length of the axis-aligned bounding box diagonal of (V, 3) ``verts``."""
    return float(np.linalg.norm(verts.max(axis=0) - verts.min(axis=0)))


def _reconstruction_errors(motion: np.ndarray, base: np.ndarray, weights: np.ndarray,
                           targets: np.ndarray) -> tuple[float, float]:
    """Max and mean per-vertex distance between ``base + weights @ targets`` and ``motion``.

    All in float64; ``targets`` (K, 3V), ``weights`` (T, K), ``base`` (3V,), motion (T, V, 3).
    """
    num_frames, num_verts, _ = motion.shape
    worst, total = 0.0, 0.0
    for t0 in range(0, num_frames, _FRAMES_PER_CHUNK):
        chunk = motion[t0:t0 + _FRAMES_PER_CHUNK].reshape(-1, 3 * num_verts)
        recon = base[None, :] + weights[t0:t0 + _FRAMES_PER_CHUNK] @ targets
        dist = np.linalg.norm((recon - chunk).reshape(len(chunk), num_verts, 3), axis=2)
        worst = max(worst, float(dist.max()))
        total += float(dist.sum())
    return worst, total / (num_frames * num_verts)


class _PrincipalBasis:
    """Principal directions of displacements ``disp`` (T, N), rows computed on demand.

    The directions come from the Gram matrix of at most :data:`MAX_BASIS_FRAMES` evenly spaced
    frames (all frames for shorter clips), in float64; ``spectrum`` holds its eigenvalues in
    decreasing order (zero ones dropped), ``rows(k)`` the first k orthonormal directions.
    """

    def __init__(self, disp: np.ndarray, k_max: int):
        from scipy.linalg import eigh
        from scipy.linalg.blas import dsyrk

        step = max(1, -(-disp.shape[0] // MAX_BASIS_FRAMES))
        self.sample = disp[::step]
        n_sample, n_coords = self.sample.shape
        small_side = n_coords < n_sample  # eigen-decompose the smaller Gram matrix
        # upper triangle only (syrk: half a matrix product); eigh reads the upper triangle
        gram = dsyrk(1.0, self.sample, trans=int(small_side), lower=0)
        self.total = float(np.trace(gram))
        size = len(gram)
        k = min(k_max, size)
        evals, evecs = eigh(gram, lower=False, subset_by_index=[size - k, size - 1])
        evals, evecs = evals[::-1], evecs[:, ::-1]
        keep = evals > max(float(evals[0]), 0.0) * 1e-20 if len(evals) else np.zeros(0, bool)
        self.spectrum, evecs = evals[keep], evecs[:, keep]
        if small_side:
            self._rows, self._evecs = evecs.T.copy(), None
        else:
            self._rows, self._evecs = np.zeros((0, n_coords)), evecs

    @property
    def rank(self) -> int:
        """Directions available (nonzero eigenvalues, at most ``k_max``)."""
        return len(self.spectrum)

    def rows(self, k: int) -> np.ndarray:
        """(k, N) the first k directions (k <= rank)."""
        have = len(self._rows)
        if k > have:
            more = (self._evecs[:, have:k].T @ self.sample) / np.sqrt(self.spectrum[have:k])[:, None]
            self._rows = np.vstack([self._rows, more])
        return self._rows[:k]

    def lower_bound(self, max_error: float, num_verts: int) -> int:
        """Fewest directions whose RMS error on the sampled frames is within ``max_error``.

        The largest per-vertex error over all frames is at least that RMS, so no smaller basis
        can meet ``max_error``. Returns ``rank`` when even that is not enough.
        """
        tails = self.total - np.concatenate([[0.0], np.cumsum(self.spectrum)])  # tails[k]
        rms = np.sqrt(np.maximum(tails, 0.0) / (len(self.sample) * num_verts))
        meets = np.nonzero(rms <= max_error)[0]
        return int(meets[0]) if len(meets) else self.rank


def _errors_for_each_k(disp: np.ndarray, coeffs: np.ndarray, basis: np.ndarray, k_from: int) -> np.ndarray:
    """Largest per-vertex error of the rank-k reconstructions, k = k_from .. len(basis).

    Used only to choose k, so it runs in float32 (errors far above float32 rounding of the
    displacements); the error reported is measured again in float64.

    Args:
        disp: (T, 3V) displacements; coeffs: (T, K) = disp @ basis.T; basis: (K, 3V).

    Returns:
        (K - k_from + 1,) float64.
    """
    num_frames = disp.shape[0]
    basis32 = basis.astype(np.float32)
    coeffs32 = coeffs.astype(np.float32)
    worst = np.zeros(len(basis) - k_from + 1)
    for t0 in range(0, num_frames, _FRAMES_PER_CHUNK):
        sl = slice(t0, t0 + _FRAMES_PER_CHUNK)
        resid = disp[sl].astype(np.float32) - coeffs32[sl, :k_from] @ basis32[:k_from]
        square = np.empty_like(resid)
        for j in range(len(worst)):
            if j:
                resid -= np.outer(coeffs32[sl, k_from + j - 1], basis32[k_from + j - 1])
            np.multiply(resid, resid, out=square)
            per_vertex = square[:, 0::3] + square[:, 1::3] + square[:, 2::3]
            worst[j] = max(worst[j], float(per_vertex.max()))
    return np.sqrt(worst)


def _quantise_pca(neutral: np.ndarray, coeffs: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, ...]:
    """Map PCA coefficients to [0, 1] weights; see the module docstring."""
    lo = np.minimum(coeffs.min(axis=0), 0.0)
    hi = np.maximum(coeffs.max(axis=0), 0.0)
    span = hi - lo
    span[span <= 0] = 1.0
    targets = (span[:, None] * basis).astype(np.float32)
    base = (neutral.reshape(-1) + lo @ basis).astype(np.float32)
    weights = np.clip((coeffs - lo) / span, 0.0, 1.0).astype(np.float32)
    default = np.clip(-lo / span, 0.0, 1.0).astype(np.float32)
    return base, targets, weights, default


def encode_morph_animation(
    neutral_verts: np.ndarray,
    motion: np.ndarray,
    *,
    mode: str = "pca",
    n_components: int | None = None,
    max_error: float | None = None,
) -> MorphAnimation:
    """Encode a motion sequence as morph targets and weights (no file is written).

    Args:
        neutral_verts: (V, 3) the neutral mesh.
        motion: (T, V, 3) or (T, V*3) vertex positions per frame.
        mode: ``"pca"`` or ``"exact"``.
        n_components: PCA only: the number of targets K (capped at the rank of the
            displacements); None chooses K from ``max_error``.
        max_error: PCA only: the largest per-vertex error allowed when choosing K (mesh units);
            None means :data:`DEFAULT_RELATIVE_MAX_ERROR` times the bounding-box diagonal.

    Returns:
        :class:`MorphAnimation` (float32 arrays, errors measured on them).

    Raises:
        MeshtalkError: bad arrays or options.
    """
    neutral = check_verts(neutral_verts)
    motion = check_motion(motion, len(neutral))
    if mode not in GLB_MODES:
        raise MeshtalkError(f"unknown glb mode {mode!r}; choose from {GLB_MODES}")
    num_frames, num_verts, _ = motion.shape
    if mode == "exact":
        if num_frames > EXACT_FRAMES_WARNING:
            log.warning("exact glb with %d frames makes %d shape keys; Blender gets slow, "
                        "consider mode='pca'", num_frames, num_frames)
        base = neutral.astype(np.float32)
        targets = (motion - neutral[None]).astype(np.float32)
        weights = np.eye(num_frames, dtype=np.float32)
        default = np.zeros(num_frames, np.float32)
    else:
        if n_components is not None and (int(n_components) != n_components or n_components < 1):
            raise MeshtalkError(f"n_components must be a positive integer, got {n_components!r}")
        if max_error is None:
            max_error = DEFAULT_RELATIVE_MAX_ERROR * max(bbox_diagonal(neutral), 1e-12)
        elif not np.isfinite(max_error) or max_error < 0:
            raise MeshtalkError(f"max_error must be a finite number >= 0, got {max_error!r}")
        disp = (motion - neutral[None]).reshape(num_frames, -1)
        pca = _PrincipalBasis(disp, int(n_components) if n_components is not None
                              else MAX_AUTO_COMPONENTS)
        if pca.rank == 0:  # the motion never leaves the neutral mesh
            coeffs, basis = np.zeros((num_frames, 1)), np.zeros((1, disp.shape[1]))
        elif n_components is not None:
            basis = pca.rows(min(int(n_components), pca.rank))
            coeffs = disp @ basis.T
        else:
            cap = pca.rank
            k = max(1, min(pca.lower_bound(max_error, num_verts), cap))
            while True:  # extend the basis by blocks until the budget is met (or the cap)
                top = min(k + _SEARCH_BLOCK, cap)
                basis = pca.rows(top)
                coeffs = disp @ basis.T
                errors = _errors_for_each_k(disp, coeffs, basis, k)
                meets = np.nonzero(errors <= max_error)[0]
                if len(meets):
                    k += int(meets[0])
                    break
                if top == cap:
                    log.warning("PCA with %d components leaves an error of %.3g above "
                                "max_error=%.3g; use more components or mode='exact'",
                                cap, errors[-1], max_error)
                    k = cap
                    break
                k = top + 1
            basis, coeffs = basis[:k], coeffs[:, :k]
        k = len(basis)
        base, flat_targets, weights, default = _quantise_pca(neutral, coeffs, basis)
        base = base.reshape(num_verts, 3)
        targets = flat_targets.reshape(k, num_verts, 3)
    worst, mean = _reconstruction_errors(
        motion, base.reshape(-1).astype(np.float64), weights.astype(np.float64),
        targets.reshape(len(targets), -1).astype(np.float64))
    return MorphAnimation(base=base, targets=targets, weights=weights, default_weights=default,
                          mode=mode, max_error=worst, mean_error=mean)


class _BinaryBuilder:
    """Collects 4-byte-aligned buffer views and accessors for one glTF buffer."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.length = 0
        self.buffer_views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, *, component: int, kind: str, target: int | None = None,
            with_bounds: bool = False) -> int:
        data = array.tobytes()
        view = {"buffer": 0, "byteOffset": self.length, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.buffer_views.append(view)
        pad = (-len(data)) % 4
        self.blobs.append(data + b"\0" * pad)
        self.length += len(data) + pad
        count = array.shape[0] if kind != "SCALAR" else array.size
        accessor = {"bufferView": len(self.buffer_views) - 1, "componentType": component,
                    "count": int(count), "type": kind}
        if with_bounds:
            flat = array.reshape(count, -1)
            accessor["min"] = [float(x) for x in flat.min(axis=0)]
            accessor["max"] = [float(x) for x in flat.max(axis=0)]
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def glb_document(neutral_faces: np.ndarray, anim: MorphAnimation, fps: float,
                 *, name: str = "meshtalk_face") -> tuple[dict, list[bytes], int]:
    """Build the glTF JSON and the binary chunk pieces for a :class:`MorphAnimation`.

    Args:
        neutral_faces: (F, 3) int triangles.
        anim: the encoded animation.
        fps: frames per second (frame t is at ``t / fps`` seconds).

    Returns:
        (gltf json dict, list of 4-byte-aligned binary pieces, total binary length).
    """
    num_verts = anim.base.shape[0]
    builder = _BinaryBuilder()
    pos = builder.add(np.ascontiguousarray(anim.base, "<f4"), component=_FLOAT, kind="VEC3",
                      target=_ARRAY_BUFFER, with_bounds=True)
    if num_verts - 1 < 65535:
        idx = builder.add(np.ascontiguousarray(neutral_faces.reshape(-1), "<u2"),
                          component=_UNSIGNED_SHORT, kind="SCALAR", target=_ELEMENT_ARRAY_BUFFER)
    else:
        idx = builder.add(np.ascontiguousarray(neutral_faces.reshape(-1), "<u4"),
                          component=_UNSIGNED_INT, kind="SCALAR", target=_ELEMENT_ARRAY_BUFFER)
    targets = [
        {"POSITION": builder.add(np.ascontiguousarray(t, "<f4"), component=_FLOAT, kind="VEC3",
                                 target=_ARRAY_BUFFER, with_bounds=True)}
        for t in anim.targets
    ]
    num_frames = anim.weights.shape[0]
    times = (np.arange(num_frames, dtype=np.float64) / fps).astype("<f4")
    t_acc = builder.add(times, component=_FLOAT, kind="SCALAR", with_bounds=True)
    w_acc = builder.add(np.ascontiguousarray(anim.weights, "<f4"), component=_FLOAT, kind="SCALAR")
    prefix = "pc" if anim.mode == "pca" else "frame"
    digits = max(3 if anim.mode == "pca" else 5, len(str(len(targets) - 1)))
    doc = {
        "asset": {"version": "2.0", "generator": f"meshtalk {__version__}"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{
            "name": name,
            "primitives": [{"attributes": {"POSITION": pos}, "indices": idx, "mode": 4,
                            "targets": targets}],
            "weights": [float(w) for w in anim.default_weights],
            "extras": {"targetNames": [f"{prefix}_{k:0{digits}d}" for k in range(len(targets))]},
        }],
        "animations": [{
            "name": "speech",
            "samplers": [{"input": t_acc, "output": w_acc, "interpolation": "LINEAR"}],
            "channels": [{"sampler": 0, "target": {"node": 0, "path": "weights"}}],
        }],
        "buffers": [{"byteLength": builder.length}],
        "bufferViews": builder.buffer_views,
        "accessors": builder.accessors,
        "extras": {"meshtalk": {"mode": anim.mode, "fps": fps, "frames": num_frames,
                                "max_error": anim.max_error, "mean_error": anim.mean_error}},
    }
    return doc, builder.blobs, builder.length


def to_glb(
    path: str | os.PathLike,
    neutral_verts: np.ndarray,
    faces: np.ndarray,
    motion: np.ndarray,
    fps: float,
    *,
    mode: str = "pca",
    n_components: int | None = None,
    max_error: float | None = None,
) -> GlbReport:
    """Write a glTF 2.0 binary with the neutral mesh, morph targets and a weights animation.

    Args:
        path: the ``.glb`` file to write (atomically).
        neutral_verts: (V, 3) the neutral mesh, in the vertex order of ``motion``.
        faces: (F, 3) int 0-based triangles.
        motion: (T, V, 3) or (T, V*3) vertex positions per frame; frame t is keyed at t / fps s.
        fps: frames per second.
        mode: ``"pca"`` (compact, lossy, error reported) or ``"exact"`` (one target per frame).
        n_components: PCA targets K; None chooses the smallest K meeting ``max_error``.
        max_error: PCA error budget in mesh units; None means
            :data:`DEFAULT_RELATIVE_MAX_ERROR` times the bounding-box diagonal.

    Returns:
        :class:`GlbReport` with the reconstruction error measured on the stored data.

    Raises:
        MeshtalkError: bad arrays or options, or the file cannot be written (nothing is left
            under ``path`` then).
    """
    neutral = check_verts(neutral_verts)
    faces = check_faces(faces, len(neutral))
    motion = check_motion(motion, len(neutral))
    fps = check_fps(fps)
    anim = encode_morph_animation(neutral, motion, mode=mode, n_components=n_components,
                                  max_error=max_error)
    doc, blobs, bin_length = glb_document(faces, anim, fps)
    json_bytes = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")
    json_bytes += b" " * ((-len(json_bytes)) % 4)
    total = 12 + 8 + len(json_bytes) + 8 + bin_length
    if total >= 2**32:
        raise MeshtalkError(f"the glb would be {total / 2**30:.1f} GiB, beyond the format's 4 GiB: "
                            "use mode='pca' with fewer components, or the PC2 export")
    with atomic_open(path) as fh:
        fh.write(struct.pack("<III", _GLB_MAGIC, 2, total))
        fh.write(struct.pack("<II", len(json_bytes), _CHUNK_JSON))
        fh.write(json_bytes)
        fh.write(struct.pack("<II", bin_length, _CHUNK_BIN))
        for blob in blobs:
            write_chunked(fh, blob)
    report = GlbReport(
        path=Path(path), mode=mode, num_frames=motion.shape[0], num_verts=motion.shape[1],
        num_targets=len(anim.targets), max_error=anim.max_error, mean_error=anim.mean_error,
        relative_max_error=anim.max_error / max(bbox_diagonal(neutral), 1e-300), file_bytes=total,
    )
    log.info("wrote %s", report.summary())
    return report
