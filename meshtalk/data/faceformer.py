"""The FaceFormer on-disk layout used by VOCASET, BIWI, Multiface and every peer::

    <root>/wav/<stem>.wav                 speech, any sample rate (resampled to 16 kHz)
    <root>/vertices_npy/<stem>.npy        (T, V*3) or (T, V, 3) float, at the dataset's disk fps
    <root>/templates.pkl                  {subject: (V, 3)}  (latin1 pickles accepted)
    <root>/templates/<mesh>.ply|obj       a mesh of the shared topology (supplies the faces)

Quirks handled: a vertex file without its wav is skipped (one warning with the count), audio and
motion of different lengths are truncated to the shorter, vertices stored flat or as (T, V, 3),
templates as ``templates.pkl`` or ``templates/<subject>.obj|ply``, Python-2 pickles.
"""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch.utils.data

from meshtalk.data.registry import DatasetSpec, get_spec, subject_matches
from meshtalk.data.sequence import OperatorsFn, TalkingSequence, default_operators_fn
from meshtalk.errors import MeshtalkError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


def load_pickle(path: Path) -> Any:
    """Load a pickle written by Python 2 or 3 (latin1 fallback for byte strings / numpy)."""
    with open(path, "rb") as fh:
        try:
            return pickle.load(fh)
        except UnicodeDecodeError:
            fh.seek(0)
            return pickle.load(fh, encoding="latin1")


def resample_frames(verts: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Change the frame rate of a motion sequence.

    Integer ratios keep every n-th frame (VOCASET 60 -> 30 takes ``[::2]``, as every peer does);
    other ratios interpolate linearly in time.

    Args:
        verts: (T, V, 3) motion.

    Returns:
        (T', V, 3) motion at ``fps_out``.
    """
    if fps_in == fps_out or len(verts) < 2:
        return verts
    ratio = fps_in / fps_out
    if abs(ratio - round(ratio)) < 1e-6 and ratio >= 1:
        return verts[:: int(round(ratio))]
    n_out = max(1, int(round(len(verts) * fps_out / fps_in)))
    t = np.arange(n_out) * fps_in / fps_out
    i0 = np.clip(np.floor(t).astype(int), 0, len(verts) - 1)
    i1 = np.clip(i0 + 1, 0, len(verts) - 1)
    w = (t - i0)[:, None, None]
    return ((1 - w) * verts[i0] + w * verts[i1]).astype(verts.dtype)


def _load_mesh_file(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    import trimesh

    m = trimesh.load(str(path), process=False, force="mesh")
    faces = np.asarray(m.faces, np.int64) if len(getattr(m, "faces", [])) else None
    return np.asarray(m.vertices, np.float64), faces


class FaceFormerDataset(torch.utils.data.Dataset):
    """Sequences of a dataset in the FaceFormer layout.

    Args:
        root: dataset folder.
        spec: a registry name (``"vocaset"``, ``"biwi"``, ``"biwi6"``, ``"multiface"``) or a
            :class:`DatasetSpec`.
        split: a split of the spec (``"train"``, ``"val"``, ``"test"``, ...) or ``"all"``.
        k_eig: eigenpairs of the operators.
        ops_fn: operator builder (default: ``compute_operators`` through ``cache``); operators
            are built once per subject template and kept.
        cache: operator cache for the default builder.
        max_frames: crop sequences to at most this many frames (None = whole).

    Raises:
        MeshtalkError: missing folders, no sequence in the split, or no usable templates.
    """

    def __init__(
        self,
        root: str | Path,
        spec: str | DatasetSpec,
        split: str = "train",
        *,
        k_eig: int = 128,
        ops_fn: OperatorsFn | None = None,
        cache: Any = None,
        max_frames: int | None = None,
    ):
        self.root = Path(root)
        self.spec = get_spec(spec)
        self.split = split
        self.k_eig = k_eig
        self.max_frames = max_frames
        self._ops_fn = ops_fn or default_operators_fn(cache)
        self._ops: dict[str, Any] = {}
        if not self.root.is_dir():
            raise MeshtalkError(f"dataset folder not found: {self.root}")
        vdir = next((self.root / d for d in self.spec.vertices_dirs if (self.root / d).is_dir()), None)
        if vdir is None:
            raise MeshtalkError(
                f"{self.root}: no vertex folder ({' or '.join(self.spec.vertices_dirs)}) in the FaceFormer layout"
            )
        wdir = self.root / self.spec.wav_dir
        if split != "all" and split not in self.spec.splits:
            raise MeshtalkError(
                f"dataset {self.spec.name!r} has no split {split!r}; use one of "
                f"{', '.join([*self.spec.splits, 'all'])}"
            )
        self.templates = self._load_templates()
        self.faces = self._load_faces()
        entries, missing_wav = [], []
        for npy in sorted(vdir.glob("*.npy")):
            stem = npy.stem
            if self.spec.skip_stem and re.match(self.spec.skip_stem, stem):
                continue
            subject = self.spec.subject_of(stem)
            if not self._in_split(subject, stem):
                continue
            wav = wdir / f"{stem}.wav"
            if not wav.is_file():
                missing_wav.append(stem)
                continue
            if self._template_key(subject) is None:
                logger.warning("%s: no template for subject %r; sequence %s skipped", self.root, subject, stem)
                continue
            entries.append((stem, subject, wav, npy))
        if missing_wav:
            logger.warning("%s: %d sequence(s) without a wav skipped (e.g. %s)", self.root,
                           len(missing_wav), ", ".join(missing_wav[:3]))
        if not entries:
            raise MeshtalkError(f"{self.root}: no usable sequence for split {split!r} of {self.spec.name}")
        self.entries = entries

    # ----------------------------------------------------------------------------- loading

    def _in_split(self, subject: str, stem: str) -> bool:
        if self.split == "all":
            return True
        sp = self.spec.splits[self.split]
        if not subject_matches(subject, sp.subjects):
            return False
        if sp.sentences is None:
            return True
        n = self.spec.sentence_of(stem)
        return n is not None and sp.sentences[0] <= n <= sp.sentences[1]

    def _load_templates(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        pkl = self.root / "templates.pkl"
        if pkl.is_file():
            try:
                raw = load_pickle(pkl)
            except Exception as exc:
                raise MeshtalkError(f"{pkl}: cannot read templates ({exc})") from None
            for k, v in dict(raw).items():
                out[str(k)] = np.asarray(v, np.float64).reshape(-1, 3)
        tdir = self.root / "templates"
        if tdir.is_dir():
            for f in sorted(tdir.iterdir()):
                if f.suffix.lower() in (".obj", ".ply") and f.stem not in out:
                    try:
                        out[f.stem] = _load_mesh_file(f)[0]
                    except Exception as exc:  # a broken file should not hide the others
                        logger.warning("%s: unreadable template (%s)", f, exc)
        if not out:
            raise MeshtalkError(f"{self.root}: no templates.pkl and no templates/<subject>.obj|ply")
        return out

    def _load_faces(self) -> np.ndarray | None:
        for rel in self.spec.faces_files:
            p = self.root / rel
            if p.is_file():
                return _load_mesh_file(p)[1]
        tdir = self.root / "templates"
        if tdir.is_dir():
            for p in sorted(tdir.iterdir()):
                if p.suffix.lower() in (".obj", ".ply"):
                    faces = _load_mesh_file(p)[1]
                    if faces is not None:
                        return faces
        logger.warning("%s: no mesh with faces found; templates are used as point clouds", self.root)
        return None

    def _template_key(self, subject: str) -> str | None:
        if subject in self.templates:
            return subject
        for k in self.templates:
            if subject_matches(subject, (k,)) or subject_matches(k, (subject,)):
                return k
        return None

    def operators(self, subject: str):
        """Operators of a subject's template (built once, from the cache when configured)."""
        key = self._template_key(subject)
        if key not in self._ops:
            self._ops[key] = self._ops_fn(self.templates[key], self.faces, self.k_eig)
        return self._ops[key]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> TalkingSequence:
        from meshtalk.inference import load_audio

        stem, subject, wav, npy = self.entries[index]
        template = self.templates[self._template_key(subject)]
        verts = np.load(npy, allow_pickle=False).astype(np.float32)
        if verts.ndim == 2:
            if verts.shape[1] % 3:
                raise MeshtalkError(f"{npy}: second dimension {verts.shape[1]} is not a multiple of 3")
            verts = verts.reshape(len(verts), -1, 3)
        if verts.ndim != 3 or verts.shape[1:] != template.shape:
            raise MeshtalkError(f"{npy}: shape {verts.shape} does not match the template {template.shape}")
        verts = resample_frames(verts, self.spec.fps_on_disk, self.spec.fps)
        audio = load_audio(wav)
        n_audio = int(round(len(audio) / SAMPLE_RATE * self.spec.fps))
        n = min(len(verts), n_audio) if n_audio > 0 else len(verts)
        if n != len(verts) or abs(n_audio - len(verts)) > 1:
            logger.info("%s: %d motion frames vs %.2f s of audio; truncated to %d frames",
                        stem, len(verts), len(audio) / SAMPLE_RATE, n)
        if self.max_frames:
            n = min(n, self.max_frames)
        verts = verts[:n]
        audio = audio[: int(round(n / self.spec.fps * SAMPLE_RATE))]
        return TalkingSequence(
            name=stem, subject=subject, audio=audio, fps=self.spec.fps,
            neutral=template.astype(np.float32), faces=self.faces, target=verts,
            dataset=self.spec.name, ops=self.operators(subject),
        )
