"""Fixtures for the rendering tests: a small closed head-like mesh, a short motion and a wav."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

FPS = 30.0
NUM_FRAMES = 9

needs_pyrender = pytest.mark.skipif(importlib.util.find_spec("pyrender") is None,
                                    reason="needs meshtalk[render] (pyrender)")
needs_ffprobe = pytest.mark.skipif(shutil.which("ffprobe") is None,
                                   reason="needs ffprobe (apt-get install ffmpeg)")


def head_mesh(subdivisions: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """An ellipsoid 'head' facing +Z: verts (V, 3) float64, faces (F, 3) int64."""
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    verts = sphere.vertices * np.array([0.08, 0.11, 0.09])  # metres, like FLAME
    return verts, np.asarray(sphere.faces, np.int64)


def talking_motion(verts: np.ndarray, num_frames: int = NUM_FRAMES) -> np.ndarray:
    """(T, V, 3) float32: the lower half opens and closes like a jaw."""
    lower = np.clip(-verts[:, 1] / np.abs(verts[:, 1]).max(), 0.0, 1.0)
    opening = 0.5 * (1 - np.cos(np.linspace(0, 2 * np.pi, num_frames)))
    offset = np.zeros((num_frames, len(verts), 3))
    offset[:, :, 1] = -0.015 * opening[:, None] * lower[None]
    return (verts[None] + offset).astype(np.float32)


def write_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A short tone-and-noise wav of the given duration."""
    import soundfile

    n = int(round(seconds * rate))
    rng = np.random.default_rng(0)
    signal = 0.2 * np.sin(2 * np.pi * 220 * np.arange(n) / rate) + 0.01 * rng.standard_normal(n)
    soundfile.write(str(path), signal.astype(np.float32), rate)
    return path


@pytest.fixture(scope="session")
def head():
    return head_mesh()


@pytest.fixture(scope="session")
def motion(head):
    return talking_motion(head[0])


@pytest.fixture
def wav(tmp_path):
    return write_wav(tmp_path / "speech.wav", NUM_FRAMES / FPS)


def ffprobe(path: Path) -> dict:
    """Streams (with exactly counted frames) and format of a media file."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format",
         "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def decode_frames(path: Path, width: int, height: int) -> np.ndarray:
    """All video frames as (N, H, W, 3) uint8, decoded by ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    raw = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def leftovers(folder: Path, keep: set[str] = frozenset()) -> list[str]:
    """Files in ``folder`` other than ``keep`` (e.g. partial videos)."""
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)
