"""Render a whole motion sequence (optionally next to a second one) into a video with sound."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.export._atomic import check_output_file
from meshtalk.export._validation import check_motion
from meshtalk.render.camera import frame_face
from meshtalk.render.colormap import colorbar, heat_colors
from meshtalk.render.renderer import BACKGROUND, MeshRenderer, orient_faces, side_by_side
from meshtalk.render.video import VideoWriter, audio_duration

logger = logging.getLogger(__name__)

_MAX_SAMPLE_FRAMES = 300  # frames sampled to set the heat map's range


@dataclass(frozen=True)
class RenderSummary:
    """What :func:`render_video` produced.

    Attributes:
        path: the video file.
        num_frames: frames written (= T of the motion).
        fps: frames per second.
        size: ``(width, height)`` of the video.
        seconds_per_frame: mean wall time per frame (all panels, encoding included), after the
            one-off setup.
        setup_seconds: choosing the OpenGL platform and creating the context.
        error_max: the heat map's upper bound (None without a heat map).
    """

    path: Path
    num_frames: int
    fps: float
    size: tuple[int, int]
    seconds_per_frame: float
    setup_seconds: float
    error_max: float | None = None


def as_motion(motion: np.ndarray, num_verts: int | None = None, name: str = "motion") -> np.ndarray:
    """Validate a motion sequence and return it as (T, V, 3) float32.

    Args:
        motion: (T, V, 3), or (T, V*3) as written by FaceFormer-style models.
        num_verts: expected V (e.g. of the mesh giving the faces), or None.
        name: how to call the array in error messages.

    Returns:
        (T, V, 3) float32.

    Raises:
        MeshtalkError: wrong shape, V mismatch, T == 0, or NaN/inf values.
    """
    arr = np.asarray(motion)
    if arr.ndim == 2 and arr.shape[1] == 3 and num_verts != 1:
        raise MeshtalkError(f"{name} has shape {arr.shape}, a single mesh (V, 3); a motion "
                            "sequence is (T, V, 3) or (T, V*3)")
    return check_motion(arr, num_verts, name=name).astype(np.float32)


def sequence_bounds(*motions: np.ndarray) -> np.ndarray:
    """Corners of the axis-aligned box around every frame of every sequence.

    Args:
        motions: each (T, V, 3).

    Returns:
        (8, 3) float64 corners (enough for :func:`~meshtalk.render.camera.frame_face`).
    """
    lo = np.min([np.min(m, axis=(0, 1)) for m in motions], axis=0).astype(np.float64)
    hi = np.max([np.max(m, axis=(0, 1)) for m in motions], axis=0).astype(np.float64)
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                     for z in (lo[2], hi[2])])


def render_video(
    motion: np.ndarray,
    faces: np.ndarray,
    output: str | os.PathLike,
    audio: str | os.PathLike | None = None,
    *,
    fps: float = 30.0,
    compare: np.ndarray | None = None,
    labels: Sequence[str] | None = None,
    heatmap: bool = False,
    neutral: np.ndarray | None = None,
    error_max: float | None = None,
    size: int = 512,
    face_direction: Sequence[float] = (0.0, 0.0, 1.0),
    up: Sequence[float] = (0.0, 1.0, 0.0),
    fit_audio: bool = False,
    supersample: int | None = None,
    progress: bool = True,
) -> RenderSummary:
    """Render a motion sequence to an H.264 mp4, with the audio muxed in.

    Panels, left to right: ``motion``; ``compare`` if given; with ``heatmap``, ``motion``
    coloured by its per-vertex distance to ``compare`` (or, without ``compare``, to ``neutral``:
    how far each vertex moves), followed by a colour bar. The camera is fixed and frames all
    panels' vertices. Every frame is checked; nothing is left under ``output`` on failure.

    Args:
        motion: (T, V, 3) or (T, V*3) vertex positions per frame.
        faces: (F, 3) int triangles over the V vertices.
        output: the ``.mp4`` to write.
        audio: the speech to mux (wav, flac, mp3, m4a, ...: whatever ffmpeg decodes); None for a
            silent video.
        fps: frame rate of ``motion``.
        compare: optional (T, V, 3) or (T, V*3) second sequence (e.g. the ground truth).
        labels: panel titles (default ``("motion", "compare", "error")`` as applicable).
        heatmap: add the error (or displacement) heat-map panel.
        neutral: (V, 3) rest shape for the displacement heat map without ``compare``
            (default: the first frame of ``motion``).
        error_max: distance shown with the hottest colour (default: the 99th percentile over
            all vertices of up to 300 evenly spaced frames, so one outlier does not wash out the
            map).
        size: height and width of each panel in pixels (even).
        face_direction: (3,) direction the face looks at (towards the camera).
        up: (3,) the head's up direction.
        fit_audio: if the audio and the motion differ by more than one frame, pad the audio with
            silence or cut it to the motion's length instead of failing.
        supersample: anti-aliasing by supersampling (see :class:`MeshRenderer`; default: 2 on
            OSMesa, 1 on EGL which multisamples).
        progress: show a progress bar.

    Returns:
        A :class:`RenderSummary`.

    Raises:
        MeshtalkError: bad input (shapes, NaN, vertex count mismatch, unreadable audio, audio
            length not matching the motion), output not writable, or a frame that could not be
            rendered or came out blank.
    """
    from tqdm.auto import tqdm

    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0 or \
            not np.issubdtype(faces.dtype, np.integer):
        raise MeshtalkError(f"faces must be (F, 3) integers, got shape {faces.shape} {faces.dtype}")
    motion = as_motion(motion)
    num_frames, num_verts = motion.shape[:2]
    if faces.min() < 0 or faces.max() >= num_verts:
        raise MeshtalkError(f"faces index vertices {faces.min()}..{faces.max()} but the motion "
                            f"has {num_verts} vertices per frame")
    if size <= 0 or size % 2:
        raise MeshtalkError(f"size must be a positive even number of pixels, got {size}")
    if not (np.isfinite(fps) and fps > 0):
        raise MeshtalkError(f"fps must be positive, got {fps}")
    if compare is not None:
        compare = as_motion(compare, num_verts, name="the comparison sequence")
        if len(compare) != num_frames:
            raise MeshtalkError(f"the comparison sequence has {len(compare)} frames but the "
                                f"motion has {num_frames}")
    output = check_output_file(output).absolute()
    if output.exists():
        logger.warning("%s exists; it will be replaced once the new video is complete", output)
    if audio is not None:
        seconds = audio_duration(audio)
        gap = seconds - num_frames / fps
        if abs(gap) > 1.0 / fps:
            msg = (f"the audio lasts {seconds:.3f} s but the motion has {num_frames} frames "
                   f"= {num_frames / fps:.3f} s at {fps:g} fps")
            if not fit_audio:
                raise MeshtalkError(f"{msg}; check --fps (this would match at "
                                    f"{num_frames / seconds:.2f}) or pass --fit-audio")
            logger.warning("%s; the audio is %s to match", msg, "cut" if gap > 0 else "padded")
    else:
        logger.warning("no audio given: the video will be silent")

    reference = None  # what the heat map measures distances to: (T, V, 3) or (V, 3)
    if heatmap:
        if compare is not None:
            reference = compare
        else:
            reference = motion[0] if neutral is None else as_motion(
                np.asarray(neutral)[None], num_verts, name="the neutral mesh")[0]
        if error_max is None:
            sample = _distances(motion, reference, np.unique(
                np.linspace(0, num_frames - 1, _MAX_SAMPLE_FRAMES, dtype=np.int64)))
            error_max = float(np.percentile(sample, 99))
            if not error_max > 0:
                error_max = float(sample.max()) or 1.0
        elif not error_max > 0:
            raise MeshtalkError(f"the heat map's maximum must be positive, got {error_max}")
    names = ["motion"] + (["compare"] if compare is not None else []) + \
            (["error" if compare is not None else "displacement"] if heatmap else [])
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(names):
            raise MeshtalkError(f"got {len(labels)} labels for {len(names)} panels ({names})")
    else:
        labels = names if len(names) > 1 else None

    faces = orient_faces(motion[0], faces, face_direction)
    bounds = sequence_bounds(motion) if compare is None else sequence_bounds(motion, compare)
    camera = frame_face(bounds, face_direction, up)
    bg255 = tuple(int(round(c * 255)) for c in BACKGROUND)
    legend = None
    if reference is not None:
        legend = colorbar(size, 0.0, error_max, width=max(64, size // 5),
                          label=(labels or names)[-1], background=bg255)
    setup_start = time.perf_counter()
    with MeshRenderer(faces, camera, size, supersample=supersample) as renderer:
        start = time.perf_counter()
        setup = start - setup_start
        first = _compose(renderer, motion, compare, reference, error_max, 0, labels, legend)
        height, width = first.shape[:2]
        with VideoWriter(output, fps, (width, height),
                         audio=audio) as writer:
            bar = tqdm(total=num_frames, unit="frame", desc="render", disable=not progress,
                       leave=False)
            try:
                writer.write(first)
                bar.update(1)
                for t in range(1, num_frames):
                    writer.write(_compose(renderer, motion, compare, reference, error_max, t,
                                          labels, legend))
                    bar.update(1)
            finally:
                bar.close()
    elapsed = time.perf_counter() - start
    return RenderSummary(path=output, num_frames=num_frames, fps=float(fps),
                         size=(width, height), seconds_per_frame=elapsed / num_frames,
                         setup_seconds=setup,
                         error_max=error_max)


def _distances(motion: np.ndarray, reference: np.ndarray, t) -> np.ndarray:
    """Per-vertex distances of frame(s) ``t`` of ``motion`` (T, V, 3) to ``reference``:
    the same frame(s) of a (T, V, 3) sequence, or a fixed (V, 3) mesh. Shape (..., V)."""
    target = reference[t] if reference.ndim == 3 else reference
    return np.linalg.norm(motion[t] - target, axis=-1)


def _compose(renderer: MeshRenderer, motion, compare, reference, error_max, t, labels, legend):
    """One video frame: the panels of frame ``t`` side by side, (H, W, 3) uint8."""
    panels = [renderer.render(motion[t], index=t).color]
    if compare is not None:
        panels.append(renderer.render(compare[t], index=t).color)
    if reference is not None:
        colors = heat_colors(_distances(motion, reference, t), 0.0, error_max)
        panels.append(renderer.render(motion[t], colors, index=t).color)
    if len(panels) == 1 and legend is None and labels is None:
        return panels[0]  # size is even, as H.264 in yuv420p needs
    return side_by_side(panels, labels, legend=legend)
