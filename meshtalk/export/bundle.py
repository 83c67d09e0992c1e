"""One call that writes every selected export of an animation into a folder, all or nothing."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.export._atomic import (
    atomic_open,
    check_output_dir,
    describe_os_error,
    remove_quietly,
)
from meshtalk.export._validation import check_faces, check_fps, check_motion, check_verts
from meshtalk.export.blender_script import write_blender_script
from meshtalk.export.gltf import GLB_MODES, GlbReport, to_glb
from meshtalk.export.mdd import to_mdd
from meshtalk.export.obj import write_obj
from meshtalk.export.pc2 import to_pc2
from meshtalk.export.sequence import write_sequence

log = logging.getLogger(__name__)

#: Every format :func:`export_animation` can write, and the name it gets in the output folder.
FILE_NAMES = {
    "npy": "motion.npy",
    "obj": "neutral.obj",
    "pc2": "animation.pc2",
    "mdd": "animation.mdd",
    "glb": "animation.glb",
    "obj_seq": "frames_obj",
    "ply_seq": "frames_ply",
    "blender": "open_in_blender.py",
}
FORMATS = tuple(FILE_NAMES)
DEFAULT_FORMATS = ("npy", "obj", "pc2", "glb", "blender")


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What :func:`export_animation` wrote.

    Attributes:
        out_dir: the output folder.
        files: format name → path written (``"audio"`` for the copied sound file).
        glb: the glb report (reconstruction error, size), or None without ``"glb"``.
        seconds: format name → wall time spent writing it.
    """

    out_dir: Path
    files: dict[str, Path]
    glb: GlbReport | None
    seconds: dict[str, float]


def _resolve_formats(formats: Sequence[str]) -> list[str]:
    if isinstance(formats, str):
        formats = [formats]
    if "all" in formats:
        formats = [*FORMATS, *formats]
        formats = [f for f in formats if f != "all"]
    unknown = [f for f in formats if f not in FILE_NAMES]
    if unknown:
        raise MeshtalkError(f"unknown export format(s) {', '.join(map(repr, unknown))}; "
                            f"choose from {', '.join(FORMATS)}")
    chosen = list(dict.fromkeys(formats))
    if not chosen:
        raise MeshtalkError("no export format selected")
    if ("pc2" in chosen or "mdd" in chosen) and "obj" not in chosen:
        log.info("adding neutral.obj: the point caches need the mesh to be read onto")
        chosen.append("obj")
    if "blender" in chosen and not ({"pc2", "mdd", "glb"} & set(chosen)):
        raise MeshtalkError("open_in_blender.py needs one of the formats pc2, mdd or glb as well")
    return [f for f in FILE_NAMES if f in chosen]


def _estimate_bytes(fmt: str, num_frames: int, num_verts: int, num_faces: int) -> int:
    cache = 12 * num_frames * num_verts
    mesh_text = 36 * num_verts + 24 * num_faces
    return {"npy": cache, "pc2": cache, "mdd": cache, "obj": mesh_text,
            "obj_seq": num_frames * mesh_text, "ply_seq": num_frames * (12 * num_verts + 13 * num_faces),
            "glb": 12 * num_verts + 12 * num_faces}.get(fmt, 0)


def export_animation(
    out_dir: str | os.PathLike,
    neutral_verts: np.ndarray,
    faces: np.ndarray,
    motion: np.ndarray,
    fps: float,
    audio_path: str | os.PathLike | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    *,
    glb_mode: str = "pca",
    n_components: int | None = None,
    max_error: float | None = None,
    blender_source: str | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write an animation in every selected format into ``out_dir``, all or nothing.

    Files (see :data:`FILE_NAMES`): ``motion.npy`` (T, V, 3) float32; ``neutral.obj`` (vertex
    order kept); ``animation.pc2`` / ``animation.mdd`` (exact point caches for Blender's Mesh
    Cache modifier); ``animation.glb`` (morph targets + weights animation); ``frames_obj/`` /
    ``frames_ply/`` (one mesh per frame); ``open_in_blender.py``; and, with ``audio_path``, a copy
    of the sound named ``audio<suffix>``. Every file is first written under a hidden temporary
    name and renamed only once all are complete; on any failure nothing new is left under a final
    name and replaced files are restored.

    Args:
        out_dir: the output folder; created if missing.
        neutral_verts: (V, 3) the neutral mesh, in the user's vertex order.
        faces: (F, 3) int 0-based triangles.
        motion: (T, V, 3) or (T, V*3) vertex positions per frame, same vertex order.
        fps: frames per second of ``motion``.
        audio_path: the speech, copied next to the exports (added to the Blender scene).
        formats: names from :data:`FORMATS` (or ``"all"``); ``pc2``/``mdd`` bring ``obj`` along.
        glb_mode: ``"pca"`` or ``"exact"`` (see :func:`meshtalk.export.gltf.to_glb`).
        n_components: PCA targets for the glb; None chooses from ``max_error``.
        max_error: PCA error budget (mesh units); None: a small fraction of the mesh size.
        blender_source: the route ``open_in_blender.py`` takes by default (``"pc2"``, ``"mdd"``
            or ``"glb"``); None: pc2 if written, else mdd, else glb.
        overwrite: replace files already in ``out_dir``; otherwise they are an error.

    Returns:
        :class:`ExportResult`.

    Raises:
        MeshtalkError: bad arrays or options (nothing is written), or any write failure (disk
            full, no permission, output folder is a file): one line, no partial output left.
    """
    neutral = check_verts(neutral_verts)
    faces = check_faces(faces, len(neutral))
    motion = check_motion(motion, len(neutral))
    fps = check_fps(fps)
    if glb_mode not in GLB_MODES:
        raise MeshtalkError(f"unknown glb mode {glb_mode!r}; choose from {GLB_MODES}")
    chosen = _resolve_formats(formats)
    audio = None
    if audio_path is not None:
        audio = Path(audio_path)
        if not audio.is_file():
            raise MeshtalkError(f"audio file not found: {audio}")
        if not os.access(audio, os.R_OK):
            raise MeshtalkError(f"no permission to read the audio file {audio}")
    if blender_source is None:
        blender_source = next((s for s in ("pc2", "mdd", "glb") if s in chosen), "pc2")
    elif "blender" in chosen and blender_source not in chosen:
        raise MeshtalkError(f"open_in_blender.py set to read {blender_source}, which is not exported")

    out = Path(out_dir)
    created = not out.exists()
    out = check_output_dir(out, create=True)
    try:
        return _export_into(out, chosen, neutral, faces, motion, fps, audio, glb_mode=glb_mode,
                            n_components=n_components, max_error=max_error,
                            blender_source=blender_source, overwrite=overwrite)
    except BaseException:
        if created:  # leave no empty folder behind either
            try:
                out.rmdir()
            except OSError:
                pass
        raise


def _export_into(out: Path, chosen: list[str], neutral: np.ndarray, faces: np.ndarray,
                 motion: np.ndarray, fps: float, audio: Path | None, *, glb_mode: str,
                 n_components: int | None, max_error: float | None, blender_source: str,
                 overwrite: bool) -> ExportResult:
    """Stage every file of :func:`export_animation` in ``out``, then rename them into place."""
    finals = {fmt: out / FILE_NAMES[fmt] for fmt in chosen}
    if audio is not None:
        finals["audio"] = out / ("audio" + audio.suffix.lower())
    existing = [p.name for p in finals.values() if p.exists() or p.is_symlink()]
    if existing and not overwrite:
        raise MeshtalkError(f"{out} already has {', '.join(existing)}; pass overwrite "
                            "(--overwrite) or choose another folder")
    num_frames, num_verts, _ = motion.shape
    need = sum(_estimate_bytes(f, num_frames, num_verts, len(faces)) for f in chosen)
    try:
        free = shutil.disk_usage(out).free
    except OSError:
        free = None
    if free is not None and need > free:
        raise MeshtalkError(f"not enough space in {out}: the export needs about {need / 1e6:.0f} MB, "
                            f"{free / 1e6:.0f} MB are free")

    token = uuid.uuid4().hex[:8]
    staged = {key: out / f".{path.name}.{token}.tmp" for key, path in finals.items()}
    backups: dict[str, Path] = {}
    committed: list[str] = []
    seconds: dict[str, float] = {}
    glb_report = None
    try:
        for fmt in chosen:
            t0 = time.perf_counter()
            dest = staged[fmt]
            if fmt == "npy":
                with atomic_open(dest) as fh:
                    np.save(fh, motion.astype(np.float32), allow_pickle=False)
            elif fmt == "obj":
                write_obj(dest, neutral, faces)
            elif fmt == "pc2":
                to_pc2(dest, motion, fps)
            elif fmt == "mdd":
                to_mdd(dest, motion, fps)
            elif fmt == "glb":
                glb_report = to_glb(dest, neutral, faces, motion, fps, mode=glb_mode,
                                    n_components=n_components, max_error=max_error)
                glb_report = dataclasses.replace(glb_report, path=finals["glb"])
            elif fmt in ("obj_seq", "ply_seq"):
                write_sequence(dest, motion, faces, file_format=fmt[:3])
            elif fmt == "blender":
                write_blender_script(
                    dest, fps=fps, num_frames=num_frames, num_verts=num_verts,
                    source=blender_source,
                    mesh=FILE_NAMES["obj"] if "obj" in chosen else None,
                    pc2=FILE_NAMES["pc2"] if "pc2" in chosen else None,
                    mdd=FILE_NAMES["mdd"] if "mdd" in chosen else None,
                    glb=FILE_NAMES["glb"] if "glb" in chosen else None,
                    audio=finals["audio"].name if audio is not None else None,
                )
            seconds[fmt] = time.perf_counter() - t0
        if audio is not None:
            with atomic_open(staged["audio"]) as fh, open(audio, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)
        # commit: move replaced files aside, then rename every staged file into place
        for key, final in finals.items():
            if final.exists() or final.is_symlink():
                backups[key] = out / f".{final.name}.{token}.bak"
                os.replace(final, backups[key])
        for key, final in finals.items():
            os.replace(staged[key], final)
            committed.append(key)
    except BaseException as exc:
        for key in committed:
            remove_quietly(finals[key])
        for key, backup in backups.items():
            try:
                os.replace(backup, finals[key])
            except OSError:  # pragma: no cover - best effort
                log.error("could not restore %s from %s", finals[key], backup)
        for path in staged.values():
            remove_quietly(path)
        if isinstance(exc, OSError):
            raise MeshtalkError(describe_os_error(exc, out)) from None
        raise
    for backup in backups.values():
        remove_quietly(backup)
    files = {key: finals[key] for key in finals}
    log.info("exported %d frames x %d vertices to %s: %s", num_frames, num_verts, out,
             ", ".join(p.name for p in files.values()))
    return ExportResult(out_dir=out, files=files, glb=glb_report, seconds=seconds)
