"""The user's job end to end: a neutral scan + speech -> an animation in the scan's own frame.

::

    load mesh + audio + model
      -> placement into the model's canonical frame (scale, orientation, face direction;
         meshtalk.placement; user overrides)
      -> operators of the placed mesh (cached on disk)
      -> model inference (meshtalk.inference: windows cross-faded, bounded-memory chunks)
      -> exact inverse placement: the motion comes back in the user's coordinates and vertex order
      -> export (meshtalk.export) and, optionally, a video with the sound (meshtalk.render)

:func:`animate` returns the motion array; :func:`animate_to_folder` also writes the files and
reports the time of each stage (what ``meshtalk animate`` prints). The shipped default model
lives in ``data/models/default/`` of the repository (found relative to the package, which works
for an editable install) unless ``$MESHTALK_DEFAULT_MODEL`` points elsewhere.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.placement import Placement, estimate_placement

logger = logging.getLogger(__name__)

#: Name of the weights file inside a model folder.
MODEL_FILE = "model.safetensors"
#: Formats written when none are asked for (see :data:`meshtalk.export.FORMATS`).
DEFAULT_FORMATS = ("npy", "obj", "pc2", "glb", "blender")
VIDEO_NAME = "video.mp4"


# ------------------------------------------------------------------------------------ models


def default_model_dir() -> Path:
    """Folder of the shipped default model.

    ``$MESHTALK_DEFAULT_MODEL`` if set; else package data ``meshtalk/_data/models/default`` when
    the package was installed with it; else ``data/models/default`` of the repository the package
    lives in (editable installs and checkouts).
    """
    env = os.environ.get("MESHTALK_DEFAULT_MODEL")
    if env:
        return Path(env).expanduser()
    try:
        from importlib.resources import files

        packaged = Path(str(files("meshtalk") / "_data" / "models" / "default"))
        if (packaged / MODEL_FILE).is_file():
            return packaged
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - exotic loaders
        pass
    return Path(__file__).resolve().parent.parent / "data" / "models" / "default"


def resolve_model_path(model: str | os.PathLike | None) -> Path:
    """The ``.safetensors`` file of a model given as a file, a folder, a run folder, or None.

    A folder may hold ``model.safetensors`` or (a ``meshtalk train`` run) ``checkpoints/
    best.safetensors`` / ``checkpoints/last.safetensors``. None means the shipped default.

    Raises:
        MeshtalkError: nothing usable there (the message says what was looked for).
    """
    if model is None:
        folder = default_model_dir()
        path = folder / MODEL_FILE
        if not path.is_file():
            raise MeshtalkError(
                f"the default model is missing ({path}); reinstall meshtalk from its repository "
                f"(pip install -e .), or pass --model DIR with a trained model")
        return path
    p = Path(model).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        for cand in (p / MODEL_FILE, p / "checkpoints" / "best.safetensors",
                     p / "checkpoints" / "last.safetensors", p / "best.safetensors",
                     p / "last.safetensors"):
            if cand.is_file():
                return cand
        raise MeshtalkError(f"model folder {p} has no {MODEL_FILE} (nor checkpoints/best|last.safetensors)")
    raise MeshtalkError(f"model not found: {p}")


@dataclass
class LoadedModel:
    """A model with what placement needs to know about its canonical frame.

    Attributes:
        model: the :class:`~meshtalk.model.TalkingHead` (eval mode).
        path: the weights file.
        canonical_per_metre: canonical units per metre of the training heads (None if unknown).
        reference_extent: (3,) mean canonical bounding-box extent of the training heads, or None.
        canonical: whether the model was trained on placed meshes (the default model was);
            a model without the header was trained on meshes as they are (e.g. ``meshtalk
            train`` on VOCASET) and gets the scan rotated and centred but not rescaled.
    """

    model: Any
    path: Path
    canonical_per_metre: float | None
    reference_extent: tuple[float, float, float] | None
    canonical: bool


def load_model(model: Any = None, *, device: str | None = None) -> LoadedModel:
    """Load a model for :func:`animate`.

    Args:
        model: None (the shipped default), a path (file or folder), a
            :class:`~meshtalk.model.TalkingHead`, or a :class:`LoadedModel`.
        device: ``"cpu"``, ``"cuda"``, ... (default CPU).

    Raises:
        MeshtalkError: missing or corrupt model, or an unavailable device.
    """
    import torch

    if isinstance(model, LoadedModel):
        if device is not None:
            model.model.to(_device(device))
        return model
    dev = _device(device)
    if isinstance(model, torch.nn.Module):
        # a model loaded by this function keeps its checkpoint's canonical scale (see below), so
        # passing the loaded network itself places the scan exactly as passing its path does
        cfg = model.config
        cpm = getattr(model, "canonical_per_metre", None)
        return LoadedModel(model.to(dev).eval(), Path("<in memory>"), cpm,
                           tuple(cfg.template_extent) if cfg.template_extent else None, cpm is not None)
    from meshtalk.model.checkpoint import load_model as load_checkpoint, read_checkpoint

    path = resolve_model_path(model)
    _, _, meta = read_checkpoint(path)
    net = load_checkpoint(path, device=dev)
    cpm = float(meta["canonical_per_metre"]) if meta.get("canonical_per_metre") else None
    net.canonical_per_metre = cpm  # travels with the network (see the in-memory branch above)
    cfg = net.config
    return LoadedModel(net, path, cpm,
                       tuple(cfg.template_extent) if cfg.template_extent else None,
                       canonical=cpm is not None)


def _device(device: str | None):
    import torch

    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise MeshtalkError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MeshtalkError(f"device {device!r} requested but no CUDA GPU is available; use --device cpu")
    return dev


# -------------------------------------------------------------------------------------- mesh


def _mesh_arrays(mesh: Any) -> tuple[np.ndarray, np.ndarray | None, Path | None, np.ndarray | None]:
    """(verts, faces, path, a point cloud's own normals or None) of any mesh-like input."""
    from meshtalk.geometry.io import as_mesh

    m = as_mesh(mesh)
    return m.verts, m.faces, m.path, m.normals


def place(
    verts: np.ndarray,
    faces: np.ndarray | None,
    loaded: LoadedModel,
    *,
    up: Any = None,
    front: Any = None,
    scale: float | None = None,
) -> Placement:
    """The placement of a neutral scan for ``loaded``'s canonical frame (see :mod:`meshtalk.placement`).

    Args:
        verts: (V, 3) neutral vertices, user coordinates.
        faces: (F, 3) triangles or None.
        loaded: the model.
        up, front: user overrides of the orientation (``"+y"``, ``"0,0,1"``, ...).
        scale: metres per mesh unit (overrides the automatic scale).
    """
    p = estimate_placement(verts, faces, up=up, front=front, metres_per_unit=scale,
                           canonical_per_metre=loaded.canonical_per_metre,
                           reference_extent=loaded.reference_extent if loaded.canonical else None)
    if not loaded.canonical and scale is None:
        # a model trained on unplaced meshes: rotate into +y up / +z front, keep size and position
        p = Placement(p.rotation, 1.0, np.zeros(3), p.notes + ("scale and position kept (model without a canonical frame)",),
                      p.warnings)
    return p


# ---------------------------------------------------------------------------------- animate


def animate(
    mesh: Any,
    audio: Any,
    model: Any = None,
    *,
    fps: float | None = None,
    device: str | None = None,
    up: Any = None,
    front: Any = None,
    scale: float | None = None,
    cache: Any = True,
    chunk_frames: int | None = None,
    window_s: float = 20.0,
    overlap_s: float | None = None,
    progress: bool = False,
    normals: Any = None,
) -> np.ndarray:
    """Animate a neutral face scan with speech.

    The scan is placed into the model's canonical frame automatically (or with ``up``/``front``/
    ``scale``), animated, and the motion is brought back with the exact inverse transform.

    Args:
        mesh: a mesh file (obj, ply, ...), a ``Mesh``, ``(verts (V, 3), faces (F, 3))`` or a
            (V, 3) point array, in any units, orientation and position.
        audio: a sound file, a (S,) 16 kHz array, or ``(array, sample_rate)``.
        model: None (the shipped default), a model folder or ``.safetensors`` file, or a
            :class:`~meshtalk.model.TalkingHead`.
        fps: motion frame rate (default: the model's, 30).
        device: ``"cpu"`` (default) or ``"cuda"``.
        up: the scan's up axis (``"+y"``, ``"-z"``, ``"0,1,0"``); estimated when None.
        front: the direction the face looks at; estimated when None.
        scale: metres per mesh unit (0.001 for millimetres); automatic when None.
        cache: operator cache (True: the default folder; a folder; None: no cache).
        chunk_frames: decoder frames per chunk (default from a memory budget).
        window_s: audio window length; longer audio is cross-faded between windows.
        overlap_s: overlap of consecutive windows, whose audio codes are cross-faded there
            (default: 3 s, at most a quarter of the window; see :func:`meshtalk.inference.animate`).
        progress: show a progress bar.
        normals: (V, 3) outward normals of the scan, in its coordinates (a scanner's); default:
            those its file carries for a point cloud (PLY ``nx ny nz``), else estimated from the
            points or computed from the faces. A point cloud's own normals tell apart surfaces
            closer than its point spacing (the two lips), which estimated normals mix.

    Returns:
        (T, V, 3) float32 vertex positions in the scan's vertex order and coordinates,
        ``T = round(duration * fps)``.

    Raises:
        MeshtalkError: unreadable mesh, audio or model, or bad options (one line).
    """
    return animate_to_folder(mesh, audio, None, model, fps=fps, device=device, up=up, front=front,
                             scale=scale, cache=cache, chunk_frames=chunk_frames, window_s=window_s,
                             overlap_s=overlap_s, progress=progress, normals=normals).motion


@dataclass
class AnimateResult:
    """What :func:`animate_to_folder` did.

    Attributes:
        motion: (T, V, 3) float32 positions, the user's vertex order and coordinates.
        fps: frame rate.
        duration: audio duration in seconds.
        placement: the transform into the model's frame.
        model_path: the weights used.
        files: output name -> path (empty without an output folder).
        timings: stage -> seconds (load, placement, operators, animate, export, video).
        warnings: one-line warnings for the user (placement, skipped outputs).
        glb_summary: the glb's morph-target count and reconstruction error, if written.
    """

    motion: np.ndarray
    fps: float
    duration: float
    placement: Placement
    model_path: Path
    files: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    glb_summary: str | None = None

    @property
    def n_frames(self) -> int:
        """T."""
        return int(self.motion.shape[0])


def _check_out_dir(out_dir: Path, names: list[str], overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise MeshtalkError(f"output folder {out_dir} exists and is a file; choose a folder")
    parent = out_dir if out_dir.exists() else next((p for p in out_dir.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise MeshtalkError(f"cannot create the output folder {out_dir}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MeshtalkError(f"no permission to write in {parent}")
    if out_dir.is_dir() and not overwrite:
        taken = [n for n in names if (out_dir / n).exists()]
        if taken:
            raise MeshtalkError(f"{out_dir} already has {', '.join(taken)}; pass --overwrite or choose another folder")


def _save_npy_atomic(path: Path, array: np.ndarray) -> Path:
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise MeshtalkError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _resolve_formats(formats: Sequence[str] | str | None) -> list[str]:
    from meshtalk.export import FORMATS

    if formats is None:
        return list(DEFAULT_FORMATS)
    if isinstance(formats, str):
        formats = [formats]
    out: list[str] = []
    for f in formats:
        for part in str(f).split(","):
            part = part.strip().lower()
            if not part:
                continue
            if part == "all":
                out.extend(FORMATS)
            elif part in FORMATS:
                out.append(part)
            else:
                raise MeshtalkError(f"unknown format {part!r}; choose from {', '.join(FORMATS)}, all")
    return list(dict.fromkeys(out))


def animate_to_folder(
    mesh: Any,
    audio: Any,
    out_dir: str | os.PathLike | None,
    model: Any = None,
    *,
    fps: float | None = None,
    device: str | None = None,
    up: Any = None,
    front: Any = None,
    scale: float | None = None,
    formats: Sequence[str] | str | None = None,
    video: bool | None = False,
    overwrite: bool = False,
    cache: Any = True,
    chunk_frames: int | None = None,
    window_s: float = 20.0,
    overlap_s: float | None = None,
    progress: bool = False,
    video_size: int = 512,
    normals: Any = None,
) -> AnimateResult:
    """:func:`animate`, then write the exports (and a video) into ``out_dir``.

    Args:
        mesh, audio, model, fps, device, up, front, scale, cache, chunk_frames, window_s,
            overlap_s, progress, normals: as for :func:`animate`.
        out_dir: output folder (created), or None to write nothing.
        formats: export formats (:data:`meshtalk.export.FORMATS` or ``"all"``; default
            :data:`DEFAULT_FORMATS`); a point cloud only gets ``npy``.
        video: True: render ``video.mp4`` with the sound (an error if rendering is impossible);
            None: render it when a renderer is available, else skip with a warning; False: no video.
        overwrite: replace existing outputs (otherwise they are an error, checked before any work).
        video_size: video panel size in pixels.

    Returns:
        :class:`AnimateResult` (motion, files, time per stage, warnings).

    Raises:
        MeshtalkError: bad input, an output folder that is a file or not writable, existing
            outputs without ``overwrite``, or a failed write (nothing half-written is left under
            a final name).
    """
    from meshtalk.export import FILE_NAMES
    from meshtalk.inference import load_audio
    from meshtalk.model.audio import SAMPLE_RATE, num_motion_frames

    timings: dict[str, float] = {}
    warnings: list[str] = []
    chosen = _resolve_formats(formats) if out_dir is not None else []
    out = Path(out_dir) if out_dir is not None else None
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise MeshtalkError(f"--fps must be a positive number, got {fps}")
    if out is not None:
        names = [FILE_NAMES[f] for f in chosen] + ([VIDEO_NAME] if video is not False else [])
        if "blender" in chosen and isinstance(audio, (str, os.PathLike)):
            names.append("audio" + Path(audio).suffix.lower())
        _check_out_dir(out, names, overwrite)

    t = time.perf_counter()
    verts, faces, mesh_path, file_normals = _mesh_arrays(mesh)
    if normals is not None:     # checked before the placement turns them
        from meshtalk.geometry.io import check_normals

        normals = check_normals(normals, len(verts), str(mesh_path) if mesh_path else "mesh")
    else:
        normals = file_normals
    audio_path = Path(audio) if isinstance(audio, (str, os.PathLike)) else None
    wave = load_audio(audio)
    loaded = load_model(model, device=device)
    fps = float(fps or loaded.model.config.fps)
    duration = len(wave) / SAMPLE_RATE
    timings["load"] = time.perf_counter() - t

    t = time.perf_counter()
    placement = place(verts, faces, loaded, up=up, front=front, scale=scale)
    warnings.extend(placement.warnings)
    placed = placement.to_canonical(verts)
    timings["placement"] = time.perf_counter() - t

    t = time.perf_counter()
    from meshtalk.geometry import compute_operators

    ops = compute_operators(placed, faces, k=loaded.model.config.k_eig, cache=cache,
                            name=str(mesh_path) if mesh_path else "mesh",
                            normals=None if normals is None else placement.vectors_to_canonical(normals),
                            cut_facing=loaded.model.config.cut_facing,
                            cut_rule=loaded.model.config.cut_rule)
    timings["operators"] = time.perf_counter() - t

    t = time.perf_counter()
    from meshtalk.inference import iter_animate

    n_frames = num_motion_frames(len(wave), fps)
    motion = np.empty((n_frames, len(verts), 3), np.float32)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_frames, unit="frame", desc="animate", leave=False)
    for start, block in iter_animate((placed, faces), (wave, SAMPLE_RATE), loaded.model, fps=fps,
                                     device=device, chunk_frames=chunk_frames, window_s=window_s,
                                     overlap_s=overlap_s, ops=ops):
        motion[start:start + len(block)] = verts + placement.vectors_from_canonical(block)
        if bar is not None:
            bar.update(len(block))
    if bar is not None:
        bar.close()
    timings["animate"] = time.perf_counter() - t

    result = AnimateResult(motion=motion, fps=fps, duration=duration, placement=placement,
                           model_path=loaded.path, timings=timings, warnings=warnings)
    if out is None:
        return result

    if faces is None:
        dropped = [f for f in chosen if f != "npy"]
        if dropped:
            warnings.append(f"the input is a point cloud: only motion.npy is written (not {', '.join(dropped)})")
        chosen = [f for f in chosen if f == "npy"]
        if video:
            raise MeshtalkError("a point cloud cannot be rendered; leave out --video")
        video = False
    t = time.perf_counter()
    if chosen and faces is None:
        out.mkdir(parents=True, exist_ok=True)
        result.files["npy"] = _save_npy_atomic(out / FILE_NAMES["npy"], motion)
    elif chosen:
        from meshtalk.export import export_animation

        exported = export_animation(out, verts, faces, motion, fps,
                                    audio_path=audio_path if "blender" in chosen else None,
                                    formats=chosen, overwrite=overwrite)
        result.files.update({k: Path(v) for k, v in exported.files.items()})
        if exported.glb is not None:
            result.glb_summary = exported.glb.summary()
    timings["export"] = time.perf_counter() - t

    if video or video is None:
        t = time.perf_counter()
        try:
            from meshtalk.render import render_video

            out.mkdir(parents=True, exist_ok=True)
            render_video(motion, faces, out / VIDEO_NAME, audio=audio_path, fps=fps,
                         face_direction=tuple(placement.rotation[2]), up=tuple(placement.rotation[1]),
                         fit_audio=True, size=video_size, progress=progress)
            result.files["video"] = out / VIDEO_NAME
        except (MeshtalkError, ImportError) as exc:
            if video:
                raise
            warnings.append(f"video skipped ({str(exc).splitlines()[0]}); pass --video to make this an error")
        timings["video"] = time.perf_counter() - t
    return result
