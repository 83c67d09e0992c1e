"""Stream RGB frames into an H.264 mp4 with the speech muxed in as AAC, through ffmpeg.

Frames go to ffmpeg's stdin as raw RGB (no image files on disk). The video is written under a
temporary name in the destination folder and renamed to its final name only when ffmpeg has
finished successfully, so a failed or interrupted render never leaves a file under that name.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.export._atomic import (
    check_output_file,
    current_umask,
    describe_os_error,
    remove_quietly,
    temp_path_for,
)

logger = logging.getLogger(__name__)


def find_ffmpeg(candidates: list[str] | None = None) -> str:
    """Path of an ffmpeg executable that has the H.264 encoder libx264.

    Args:
        candidates: executables to try in order (default: the binary bundled with
            ``imageio-ffmpeg``, part of ``meshtalk[render]``, then ``ffmpeg`` on ``PATH``).

    Raises:
        MeshtalkError: none found, or none with libx264 (the message says what to install).
    """
    if candidates is None:
        candidates = []
        try:
            import imageio_ffmpeg

            candidates.append(imageio_ffmpeg.get_ffmpeg_exe())
        except Exception:  # noqa: BLE001 - missing package or binary: try PATH next
            logger.debug("imageio-ffmpeg has no usable ffmpeg", exc_info=True)
        on_path = shutil.which("ffmpeg")
        if on_path:
            candidates.append(on_path)
    found = [exe for exe in candidates if exe and os.access(exe, os.X_OK)]
    for exe in found:
        if _has_libx264(exe):
            return exe
        logger.warning("%s has no libx264 encoder; trying the next ffmpeg", exe)
    if found:
        raise MeshtalkError(
            f"ffmpeg ({', '.join(found)}) cannot encode H.264 (no libx264): "
            "pip install imageio-ffmpeg (bundles an ffmpeg with it) or install a full ffmpeg"
        )
    raise MeshtalkError(
        "writing a video needs ffmpeg: pip install 'meshtalk[render]' (bundles it via "
        "imageio-ffmpeg) or apt-get install ffmpeg"
    )


@functools.lru_cache(maxsize=8)
def _has_libx264(exe: str) -> bool:
    try:
        out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True,
                             timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and re.search(r"\blibx264\b", out.stdout) is not None


def audio_duration(path: str | os.PathLike) -> float:
    """Duration in seconds of an audio file.

    Read from the header with ``soundfile`` (wav, flac, ogg, mp3 with libsndfile >= 1.1);
    other formats (m4a, aac, ...) are decoded once by ffmpeg and their samples counted.

    Raises:
        MeshtalkError: the file is missing, empty, or not decodable audio.
    """
    path = Path(path)
    if not path.is_file():
        raise MeshtalkError(f"audio file not found: {path}")
    stat = path.stat()
    return _audio_seconds(str(path.absolute()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _audio_seconds(path_text: str, mtime_ns: int, size: int) -> float:
    """:func:`audio_duration` of an unchanged file (the key holds mtime and size)."""
    path = Path(path_text)
    import soundfile

    try:
        info = soundfile.info(str(path))
        seconds = info.frames / info.samplerate if info.samplerate > 0 else 0.0
    except Exception as exc:  # noqa: BLE001 - libsndfile errors vary; let ffmpeg try
        logger.debug("soundfile cannot read %s (%s); decoding with ffmpeg", path, exc)
        seconds = _decoded_seconds(path)
    if seconds <= 0:
        raise MeshtalkError(f"audio {path} is empty")
    return seconds


def _decoded_seconds(path: Path, rate: int = 8000) -> float:
    """Decode ``path`` with ffmpeg to mono 16-bit PCM at ``rate`` Hz and count the samples."""
    exe = None
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - missing package or binary: try PATH next
        exe = shutil.which("ffmpeg")
    if exe is None:
        raise MeshtalkError(f"cannot read audio {path}: not a format soundfile reads, and no "
                            "ffmpeg to decode it (pip install imageio-ffmpeg)")
    proc = subprocess.run([exe, "-v", "error", "-nostdin", "-i", str(path), "-vn", "-f", "s16le",
                           "-ac", "1", "-ar", str(rate), "-"], capture_output=True)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = lines[-1] if lines else "ffmpeg failed"
        raise MeshtalkError(f"cannot read audio {path}: {' '.join(reason.split())[:200]}")
    return len(proc.stdout) / (2 * rate)


class VideoWriter:
    """Write frames to an mp4 (H.264, yuv420p) and mux an audio track (AAC).

    The output lasts exactly ``num_frames / fps`` seconds: the audio is padded with silence or
    cut to that length (callers check beforehand that the two agree, see
    :func:`meshtalk.render.sequence.render_video`).

    Example::

        with VideoWriter("out.mp4", fps=30, size=(512, 512), audio="speech.wav") as w:
            for image in frames:          # (512, 512, 3) uint8
                w.write(image)

    Args:
        path: final output path (``.mp4``).
        fps: frames per second.
        size: ``(width, height)`` in pixels, both even.
        audio: optional audio file to mux.
        crf: x264 quality (lower is better; 18 is visually lossless).
        preset: x264 speed preset.
        ffmpeg: ffmpeg executable (default: :func:`find_ffmpeg`).

    Raises:
        MeshtalkError: bad size or fps, output not writable, or ffmpeg failed.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        size: tuple[int, int],
        audio: str | os.PathLike | None = None,
        *,
        crf: int = 18,
        preset: str = "veryfast",
        ffmpeg: str | None = None,
    ):
        width, height = (int(s) for s in size)
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise MeshtalkError(f"video size must be positive and even, got {width}x{height}")
        if not (np.isfinite(fps) and fps > 0):
            raise MeshtalkError(f"fps must be positive, got {fps}")
        self.path = check_output_file(path).absolute()
        self.fps = float(fps)
        self.size = (width, height)
        self.audio = None if audio is None else Path(audio)
        if self.audio is not None:
            audio_duration(self.audio)  # fail early on a missing or unreadable file
        self.num_frames = 0
        self._cmd_tail = ["-c:v", "libx264", "-preset", preset, "-crf", str(int(crf)),
                          "-pix_fmt", "yuv420p"]
        self._ffmpeg = ffmpeg or find_ffmpeg()
        self._tmp: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None
        self._open()

    def _open(self) -> None:
        try:
            self._tmp = temp_path_for(self.path)
        except OSError as exc:
            raise MeshtalkError(describe_os_error(exc, self.path)) from None
        w, h = self.size
        # The video is encoded as it streams in; the audio is added and its length fixed when the
        # last frame is known (see close()). For a plain video, encode straight to the temp name.
        self._video_only = self._tmp if self.audio is None else self._tmp.with_suffix(".video.tmp")
        cmd = [self._ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate",
               repr(self.fps), "-i", "pipe:0", "-an", *self._cmd_tail,
               *(["-movflags", "+faststart"] if self.audio is None else []),
               "-f", "mp4", str(self._video_only)]
        self._log = tempfile.TemporaryFile()
        logger.debug("ffmpeg: %s", " ".join(cmd))
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._log)
        except OSError as exc:
            self._cleanup()
            raise MeshtalkError(f"cannot run ffmpeg ({self._ffmpeg}): {exc.strerror}") from exc

    def write(self, image: np.ndarray) -> None:
        """Append one frame.

        Args:
            image: (H, W, 3) uint8 RGB with ``(W, H) == size``.

        Raises:
            MeshtalkError: wrong frame shape, or ffmpeg stopped.
        """
        if self._proc is None:
            raise MeshtalkError("the video writer is closed")
        w, h = self.size
        image = np.asarray(image)
        if image.shape != (h, w, 3) or image.dtype != np.uint8:
            self.abort()
            raise MeshtalkError(f"frame {self.num_frames} has shape {image.shape} "
                                f"{image.dtype}; expected ({h}, {w}, 3) uint8")
        try:
            self._proc.stdin.write(np.ascontiguousarray(image).tobytes())
        except (BrokenPipeError, OSError) as exc:
            reason = self._ffmpeg_error() or str(exc)
            self.abort()
            raise MeshtalkError(f"ffmpeg stopped while writing {self.path.name}: {reason}") \
                from exc
        self.num_frames += 1

    def close(self) -> Path:
        """Finish encoding, mux the audio, and move the video to its final name.

        Returns:
            The final path.

        Raises:
            MeshtalkError: no frames were written, or ffmpeg failed (nothing is left under the
                final name).
        """
        if self._proc is None:
            raise MeshtalkError("the video writer is closed")
        if self.num_frames == 0:
            self.abort()
            raise MeshtalkError("no frames to write")
        proc, self._proc = self._proc, None
        try:
            proc.stdin.close()
        except OSError:
            pass
        rc = proc.wait()
        if rc != 0:
            reason = self._ffmpeg_error()
            self._cleanup()
            raise MeshtalkError(f"ffmpeg failed to encode {self.path.name}: {reason}")
        if self.audio is not None:
            self._mux_audio()
        os.chmod(self._tmp, 0o666 & ~current_umask())
        os.replace(self._tmp, self.path)
        self._tmp = None
        self._cleanup()
        logger.info("wrote %s (%d frames at %g fps)", self.path, self.num_frames, self.fps)
        return self.path

    def _mux_audio(self) -> None:
        duration = self.num_frames / self.fps
        cmd = [self._ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
               "-i", str(self._video_only), "-i", str(self.audio),
               "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
               "-c:a", "aac", "-b:a", "160k", "-af", "apad", "-t", f"{duration:.6f}",
               "-movflags", "+faststart", "-f", "mp4", str(self._tmp)]
        self._log.seek(0)
        self._log.truncate()
        rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=self._log).returncode
        if rc != 0:
            reason = self._ffmpeg_error()
            self._cleanup()
            raise MeshtalkError(f"ffmpeg failed to add the audio {self.audio}: {reason}")

    def abort(self) -> None:
        """Stop ffmpeg and delete the partial output (the final name is never touched)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.kill()
            proc.wait()
        self._cleanup()

    def _ffmpeg_error(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode("utf-8", "replace").splitlines()
                 if ln.strip()]
        if not lines:
            return "unknown error"
        # Drop ffmpeg's "[out#0/mp4 @ 0x55d...]" context prefix: it means nothing to users.
        return re.sub(r"^\[[^\]]* @ 0x[0-9a-fA-F]+\]\s*", "", lines[-1])[:300]

    def _cleanup(self) -> None:
        for tmp in (self._tmp, getattr(self, "_video_only", None)):
            if tmp is not None and tmp != self.path:
                remove_quietly(tmp)
        self._tmp = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

