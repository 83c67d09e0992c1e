"""Animate any face mesh from speech: ``animate(mesh, audio, model) -> (T, V, 3)``.

Long audio is processed in overlapping windows. Their per-frame audio codes (after the temporal
module) are cross-faded over the overlap with raised-cosine weights that leave out each window's
edge frames (where it has the least context), and every frame is then decoded once; so there is
no length limit and no seam. Frames are decoded and yielded in bounded-memory chunks. The neutral
mesh's operators and geometry code are computed once and reused for every window. :func:`iter_animate` yields the frames block by block for
streaming writers, so even the output never has to fit in memory.
"""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from meshtalk.errors import MeshtalkError
from meshtalk.model.audio import SAMPLE_RATE, num_motion_frames
from meshtalk.model.talking_head import default_chunk_frames

logger = logging.getLogger(__name__)

#: Default overlap of consecutive windows (seconds).
DEFAULT_OVERLAP_S = 3.0


# ------------------------------------------------------------------------------------- audio


def _resample(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = math.gcd(int(sr), int(target))
    return resample_poly(x, target // g, int(sr) // g).astype(np.float32)


def _decode_with_ffmpeg(path: Path) -> np.ndarray | None:
    exe = shutil.which("ffmpeg")
    if exe is None:
        try:
            import imageio_ffmpeg

            exe = imageio_ffmpeg.get_ffmpeg_exe()
        except Exception:  # not installed or no binary
            return None
    cmd = [exe, "-v", "error", "-nostdin", "-i", str(path), "-f", "f32le", "-ac", "1",
           "-ar", str(SAMPLE_RATE), "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise MeshtalkError(f"{path}: cannot decode audio ({msg[-1] if msg else 'ffmpeg failed'})")
    return np.frombuffer(proc.stdout, dtype=np.float32).copy()


def load_audio(audio: Any, *, sample_rate: int | None = None) -> np.ndarray:
    """Load speech as 16 kHz mono float32.

    Args:
        audio: a file path (wav/flac/ogg/mp3 through libsndfile, anything else through ffmpeg
            when installed), an array ``(S,)`` or ``(S, channels)``, or ``(array, sample_rate)``.
        sample_rate: sample rate of an array input (default 16 kHz).

    Returns:
        (S,) float32 waveform at 16 kHz. Multi-channel audio is averaged and other rates are
        resampled, each with a logged note.

    Raises:
        MeshtalkError: missing, empty or undecodable file, or a malformed array.
    """
    name = "audio array"
    if isinstance(audio, tuple) and len(audio) == 2 and not isinstance(audio[0], (str, Path)):
        data, sr = np.asarray(audio[0]), int(audio[1])
    elif isinstance(audio, (str, Path)):
        path = Path(audio)
        name = str(path)
        if not path.is_file():
            raise MeshtalkError(f"audio file not found: {path}")
        if path.stat().st_size == 0:
            raise MeshtalkError(f"{path}: empty audio file")
        import soundfile as sf

        try:
            data, sr = sf.read(str(path), dtype="float32", always_2d=False)
        except Exception:
            data = _decode_with_ffmpeg(path)
            if data is None:
                raise MeshtalkError(
                    f"{path}: cannot decode {path.suffix or 'this'} audio without ffmpeg; install it "
                    f"(apt install ffmpeg, or pip install imageio-ffmpeg) or convert to wav"
                ) from None
            sr = SAMPLE_RATE
    else:
        data, sr = np.asarray(audio), int(sample_rate or SAMPLE_RATE)
    if data.dtype.kind not in "fiu":
        raise MeshtalkError(f"{name}: expected numeric samples, got dtype {data.dtype}")
    if data.dtype.kind in "iu":
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    data = np.asarray(data, np.float32)
    if data.ndim == 2:
        if data.shape[0] < data.shape[1] and data.shape[0] <= 8:
            data = data.T  # (channels, S) -> (S, channels)
        if data.shape[1] > 1:
            logger.warning("note: %s has %d channels; mixed down to mono", name, data.shape[1])
        data = data.mean(axis=1)
    elif data.ndim != 1:
        raise MeshtalkError(f"{name}: expected (samples,) or (samples, channels), got shape {data.shape}")
    if data.size == 0:
        raise MeshtalkError(f"{name}: no audio samples")
    if not np.all(np.isfinite(data)):
        raise MeshtalkError(f"{name}: audio contains NaN or infinite samples")
    if sr != SAMPLE_RATE:
        logger.warning("note: %s is at %d Hz; resampled to %d Hz", name, sr, SAMPLE_RATE)
        data = _resample(data, sr, SAMPLE_RATE) if data.size > 1 else data
    return data


# -------------------------------------------------------------------------------------- mesh


def check_mesh_alignment(verts: np.ndarray, model) -> list[str]:
    """Warn when a mesh's scale, orientation or position is far from the training meshes'.

    Args:
        verts: (V, 3) neutral vertices.
        model: a :class:`~meshtalk.model.TalkingHead` (uses ``config.template_extent/center``).

    Returns:
        The warning messages (also logged); empty when the model has no reference or all is well.
    """
    cfg = model.config
    if cfg.template_extent is None:
        return []
    ref = np.asarray(cfg.template_extent, np.float64)
    lo, hi = verts.min(0), verts.max(0)
    ext = hi - lo
    msgs = []
    ratio = float(np.linalg.norm(ext) / max(np.linalg.norm(ref), 1e-12))
    if ratio > 2.5 or ratio < 0.4:
        msgs.append(
            f"mesh is {ratio:.3g}x the size of the training meshes (bounding-box diagonal "
            f"{np.linalg.norm(ext):.3g} vs {np.linalg.norm(ref):.3g}); scale it by {1 / ratio:.3g} "
            f"(e.g. millimetres -> metres) for a sensible animation"
        )
    else:
        rel = ext / max(np.linalg.norm(ext), 1e-12)
        rel_ref = ref / max(np.linalg.norm(ref), 1e-12)
        if np.argmax(rel) != np.argmax(rel_ref) and np.max(np.abs(rel - rel_ref)) > 0.25:
            msgs.append(
                f"mesh proportions per axis {np.round(rel, 2).tolist()} differ from the training "
                f"meshes' {np.round(rel_ref, 2).tolist()}: it may be rotated; rotate it into the "
                f"training frame (+y up, +z towards the viewer) before animating"
            )
        if cfg.template_center is not None:
            shift = float(np.linalg.norm((lo + hi) / 2 - np.asarray(cfg.template_center)))
            if shift > 0.5 * np.linalg.norm(ref):
                msgs.append(
                    f"mesh centre is {shift:.3g} away from the training meshes' centre; translate "
                    f"it by {np.round(np.asarray(cfg.template_center) - (lo + hi) / 2, 4).tolist()}"
                )
    for m in msgs:
        logger.warning(m)
    return msgs


def _mesh_arrays(mesh: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(verts, faces, a point cloud's own normals or None) of any mesh-like input."""
    from meshtalk.geometry.io import as_mesh

    m = as_mesh(mesh)
    return m.verts, m.faces, m.normals


# --------------------------------------------------------------------------------- animation


def silence_gate(wave: np.ndarray, n_frames: int, fps: float, *, floor_db: float = -60.0,
                 smooth_frames: int = 5) -> np.ndarray:
    """Per-frame weight in [0, 1] that is 0 in digital silence and 1 in audible sound.

    The RMS level of each frame's audio (dBFS) is mapped linearly from ``floor_db - 10`` (0)
    to ``floor_db`` (1), then smoothed over ``smooth_frames`` so the gate never pops.

    Args:
        wave: (S,) 16 kHz audio.
        n_frames: T.
        fps: motion frame rate.

    Returns:
        (T,) float32 weights.
    """
    spf = SAMPLE_RATE / fps
    edges = np.round(np.arange(n_frames + 1) * spf).astype(np.int64).clip(0, len(wave))
    sq = np.concatenate([[0.0], np.cumsum(wave.astype(np.float64) ** 2)])
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    rms = np.sqrt((sq[edges[1:]] - sq[edges[:-1]]) / counts)
    db = 20 * np.log10(np.maximum(rms, 1e-12))
    gate = np.clip((db - (floor_db - 10.0)) / 10.0, 0.0, 1.0)
    if smooth_frames > 1 and n_frames > 1:
        kernel = np.ones(smooth_frames) / smooth_frames
        padded = np.pad(gate, (smooth_frames // 2, smooth_frames - 1 - smooth_frames // 2), mode="edge")
        gate = np.convolve(padded, kernel, mode="valid")
    return gate.astype(np.float32)


def crossfade_weights(n: int, *, margin: float = 0.25, fade: float | None = None, device=None) -> torch.Tensor:
    """Weights of the later window over an overlap of ``n`` frames (the earlier one gets ``1 - w``).

    Each window's edge frames see the least audio context, so neither is used where it is at its
    edge: the weight rises as a raised cosine over ``fade`` frames centred in the overlap, and is
    0 before and 1 after. By default ``fade = (1 - 2 margin) n``; a long overlap (the last window is
    aligned to the end of the audio) keeps the usual fade length, centred, so both windows are far
    from their edges where they are blended.

    Args:
        n: overlap length in frames.
        margin: fraction of the overlap at each end left to the window not at its edge
            (0 <= margin < 0.5), when ``fade`` is None.
        fade: length of the rise in frames (at most ``n``).
        device: torch device.

    Returns:
        (n,) float32 weights, non-decreasing, in [0, 1].
    """
    fade = (1.0 - 2.0 * margin) * n if fade is None else min(float(fade), float(n))
    x = torch.arange(n, device=device, dtype=torch.float32) + 0.5 - 0.5 * n             # centred
    f = (x / max(fade, 1e-6) + 0.5).clamp(0.0, 1.0)
    return 0.5 - 0.5 * torch.cos(math.pi * f)


def _window_starts(n_frames: int, window: int, overlap: int) -> list[int]:
    if n_frames <= window:
        return [0]
    hop = window - overlap
    starts = list(range(0, n_frames - window, hop))
    starts.append(n_frames - window)
    return starts


def _animate_blocks(
    mesh: Any,
    audio: Any,
    model,
    *,
    fps: float | None = None,
    device: str | torch.device | None = None,
    chunk_frames: int | None = None,
    window_s: float = 20.0,
    overlap_s: float | None = None,
    fade_margin: float = 0.25,
    ops=None,
    cache=None,
    silence_db: float | None = -60.0,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yields the number of frames T first, then the ``(start, displacement block)`` pairs."""
    from meshtalk.model.checkpoint import load_model

    if isinstance(model, (str, Path)):
        model = load_model(model, device=device)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device).eval()
    verts, faces, normals = _mesh_arrays(mesh)
    check_mesh_alignment(verts, model)
    wave = load_audio(audio)
    fps = float(fps or model.config.fps)
    if fps <= 0:
        raise MeshtalkError(f"fps must be positive, got {fps}")
    if overlap_s is None:
        overlap_s = min(DEFAULT_OVERLAP_S, 0.25 * window_s)
    if window_s <= 0 or overlap_s < 0 or overlap_s >= window_s:
        raise MeshtalkError(f"need 0 <= overlap_s < window_s, got window_s={window_s}, overlap_s={overlap_s}")
    if not 0.0 <= fade_margin < 0.5:
        raise MeshtalkError(f"fade_margin must be in [0, 0.5), got {fade_margin}")
    fade = max(1.0, (1.0 - 2.0 * fade_margin) * round(overlap_s * fps))           # frames
    if ops is None:
        from meshtalk.geometry import compute_operators

        ops = compute_operators(verts, faces, k=model.config.k_eig, cache=cache, normals=normals,
                                cut_facing=model.config.cut_facing, cut_rule=model.config.cut_rule)
    ops = ops.to(device)
    n_frames = num_motion_frames(len(wave), fps)
    window = max(1, int(round(window_s * fps)))
    overlap = min(int(round(overlap_s * fps)), window - 1)
    starts = _window_starts(n_frames, window, overlap)
    spf = SAMPLE_RATE / fps
    neutral = torch.as_tensor(verts, dtype=torch.float32, device=device)
    wave_t = torch.as_tensor(wave, device=device)
    yield n_frames
    gate = (torch.as_tensor(silence_gate(wave, n_frames, fps, floor_db=silence_db), device=device)
            if silence_db is not None else None)
    block = chunk_frames or default_chunk_frames(len(verts), model.config.decoder.width)
    emitted = 0
    pending: torch.Tensor | None = None   # audio code of the frames the next window overlaps
    with torch.inference_mode():
        geometry_code = model.encode_geometry(neutral, ops)
        for i, s in enumerate(starts):
            n = min(window, n_frames - s)
            a0, a1 = int(round(s * spf)), int(round((s + n) * spf))
            seg = wave_t[a0:max(a1, a0 + 1)]
            code = model.encode_audio(seg[None], n)[0]                           # (n, C), frames [s, s+n)
            if pending is not None:                                              # pending: frames [s, s+ov)
                ov = pending.shape[0]
                w = crossfade_weights(ov, fade=fade, device=device)[:, None]
                code = torch.cat([(1 - w) * pending + w * code[:ov], code[ov:]], 0)
            end = n_frames if i == len(starts) - 1 else starts[i + 1]
            pending = None if i == len(starts) - 1 else code[end - s:]
            for b0 in range(0, end - s, block):                                 # decode what is final
                disp = model.decode(geometry_code, code[b0:min(b0 + block, end - s)], ops, chunk_frames=block)
                if gate is not None:
                    disp.mul_(gate[s + b0:s + b0 + disp.shape[0], None, None])
                yield emitted, disp.cpu().numpy()
                emitted += disp.shape[0]
    assert emitted == n_frames, (emitted, n_frames)


def iter_animate(mesh: Any, audio: Any, model, **kwargs) -> Iterator[tuple[int, np.ndarray]]:
    """Like :func:`animate` (same arguments) but streams ``(first_frame, displacements)`` blocks.

    The blocks are (n, V, 3) float32 *displacements* from the neutral mesh, in order, tiling
    ``[0, T)`` exactly; memory stays bounded whatever the audio length.
    """
    gen = _animate_blocks(mesh, audio, model, **kwargs)
    next(gen)
    yield from gen


def animate(
    mesh: Any,
    audio: Any,
    model,
    *,
    fps: float | None = None,
    device: str | torch.device | None = None,
    chunk_frames: int | None = None,
    window_s: float = 20.0,
    overlap_s: float | None = None,
    fade_margin: float = 0.25,
    ops=None,
    cache=None,
    silence_db: float | None = -60.0,
) -> np.ndarray:
    """Animate a neutral face mesh with speech.

    Args:
        mesh: a mesh file, a ``Mesh``, ``(verts (V, 3), faces (F, 3))`` or a (V, 3) point array,
            rigidly aligned like the training meshes (a warning says how when it is not).
        audio: a file path, a (S,) 16 kHz array, or ``(array, sample_rate)``; any rate and
            channel count (mixed down and resampled with a note).
        model: a :class:`~meshtalk.model.TalkingHead` or a checkpoint path.
        fps: motion frame rate (default: the model's).
        device: ``"cpu"``, ``"cuda"``, ... (default: where the model is).
        chunk_frames: frames decoded at once (default: from a memory budget).
        window_s: audio window length in seconds.
        overlap_s: overlap between consecutive windows; their audio codes are cross-faded there
            (None: 3 s, at most a quarter of the window; the models' context reaches seconds, so a
            longer overlap keeps each window's edge frames out of the blend).
        fade_margin: fraction of the overlap at each end where only the window that is not at its
            edge is used (see :func:`crossfade_weights`).
        ops: precomputed operators of the mesh (else computed, through ``cache`` if given).
        cache: operator cache (directory or ``OperatorCache``) for ``compute_operators``.
        silence_db: frames whose audio is below this level (dBFS; digital silence) fade to the
            neutral mesh (see :func:`silence_gate`); None leaves the model's output untouched.

    Returns:
        (T, V, 3) float32 vertex positions, ``T = round(duration * fps)`` (at least 1).

    Raises:
        MeshtalkError: unreadable audio/mesh/checkpoint or bad arguments.
    """
    from meshtalk.geometry.io import as_mesh

    m = as_mesh(mesh)      # keeps a point cloud's own normals for the operators
    verts = m.verts
    gen = _animate_blocks(m, audio, model, fps=fps, device=device,
                          chunk_frames=chunk_frames, window_s=window_s, overlap_s=overlap_s,
                          fade_margin=fade_margin, ops=ops, cache=cache, silence_db=silence_db)
    n_frames = next(gen)
    out = np.empty((n_frames, len(verts), 3), np.float32)
    out[:] = verts.astype(np.float32)[None]
    for start, block in gen:
        out[start:start + len(block)] += block
    return out
