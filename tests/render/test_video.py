"""Tests for meshtalk/render/video.py: ffmpeg pipe, audio mux, atomic output (ffprobe checks)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.render.video import VideoWriter, audio_duration

from .conftest import FPS, NUM_FRAMES, ffprobe, leftovers, needs_ffprobe, write_wav

W, H = 64, 48


def gradient(t: int) -> np.ndarray:
    x = np.linspace(0, 255, W)[None, :, None]
    y = np.linspace(0, 255, H)[:, None, None]
    img = np.concatenate([np.broadcast_to(x, (H, W, 1)), np.broadcast_to(y, (H, W, 1)),
                          np.full((H, W, 1), 20.0 * t)], axis=2)
    return img.clip(0, 255).astype(np.uint8)


@needs_ffprobe
def test_frames_and_audio_are_muxed_with_matching_duration(tmp_path, wav):
    out = tmp_path / "clip.mp4"
    with VideoWriter(out, FPS, (W, H), audio=wav) as writer:
        for t in range(NUM_FRAMES):
            writer.write(gradient(t))
    info = ffprobe(out)
    kinds = sorted(s["codec_type"] for s in info["streams"])
    assert kinds == ["audio", "video"]
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert video["codec_name"] == "h264" and audio["codec_name"] == "aac"
    assert (video["width"], video["height"]) == (W, H)
    assert int(video["nb_read_frames"]) == NUM_FRAMES
    assert abs(float(info["format"]["duration"]) - audio_duration(wav)) <= 1 / FPS
    assert abs(float(audio["duration"]) - NUM_FRAMES / FPS) <= 1 / FPS
    assert leftovers(tmp_path) == ["clip.mp4", "speech.wav"]


@needs_ffprobe
def test_silent_video_has_one_stream(tmp_path):
    out = tmp_path / "silent.mp4"
    with VideoWriter(out, 25, (W, H)) as writer:
        for t in range(4):
            writer.write(gradient(t))
    info = ffprobe(out)
    assert [s["codec_type"] for s in info["streams"]] == ["video"]
    assert int(info["streams"][0]["nb_read_frames"]) == 4


def test_error_inside_the_block_leaves_no_file(tmp_path):
    out = tmp_path / "clip.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, FPS, (W, H)) as writer:
            writer.write(gradient(0))
            raise RuntimeError("renderer died")
    assert leftovers(tmp_path) == []


def test_wrong_frame_shape_aborts(tmp_path):
    out = tmp_path / "clip.mp4"
    writer = VideoWriter(out, FPS, (W, H))
    with pytest.raises(MeshtalkError, match=r"expected \(48, 64, 3\) uint8"):
        writer.write(np.zeros((H, W + 2, 3), np.uint8))
    assert leftovers(tmp_path) == []


def test_ffmpeg_failure_is_reported_and_cleaned_up(tmp_path):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'Unknown encoder libx264' >&2\nexit 1\n")
    fake.chmod(0o755)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(MeshtalkError, match="Unknown encoder libx264"):
        with VideoWriter(out_dir / "clip.mp4", FPS, (W, H), ffmpeg=str(fake)) as writer:
            for t in range(3):
                writer.write(gradient(t))
    assert leftovers(out_dir) == []


def test_an_existing_video_is_kept_when_a_new_one_fails(tmp_path):
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"previous video")
    with pytest.raises(MeshtalkError, match="no frames"):
        VideoWriter(out, FPS, (W, H)).close()
    assert out.read_bytes() == b"previous video"
    assert leftovers(tmp_path) == ["clip.mp4"]


@pytest.mark.parametrize("make, match", [
    (lambda d: d / "missing" / "v.mp4", "does not exist"),
    (lambda d: d, "is a directory"),
    (lambda d: (d / "file.txt").write_text("x") and d / "file.txt" / "v.mp4", "is a file"),
])
def test_unwritable_outputs_are_one_line_errors(tmp_path, make, match):
    with pytest.raises(MeshtalkError, match=match) as err:
        VideoWriter(make(tmp_path), FPS, (W, H))
    assert "\n" not in str(err.value)


def test_folder_where_files_cannot_be_created():
    # /proc refuses new files even for root, so this exercises the real failure path.
    with pytest.raises(MeshtalkError, match="cannot write /proc/clip.mp4|no permission"):
        VideoWriter("/proc/clip.mp4", FPS, (W, H))
    assert not os.path.exists("/proc/clip.mp4")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(MeshtalkError, match="no permission"):
            VideoWriter(ro / "v.mp4", FPS, (W, H))
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("size, fps", [((63, 48), FPS), ((64, 48), 0.0)])
def test_bad_size_or_fps(tmp_path, size, fps):
    with pytest.raises(MeshtalkError):
        VideoWriter(tmp_path / "v.mp4", fps, size)


def test_audio_duration_and_unreadable_audio(tmp_path):
    wav = write_wav(tmp_path / "a.wav", 0.25, rate=8000)
    assert audio_duration(wav) == pytest.approx(0.25)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    with pytest.raises(MeshtalkError, match="cannot read audio"):
        audio_duration(junk)
    with pytest.raises(MeshtalkError, match="not found"):
        audio_duration(tmp_path / "none.wav")


@pytest.fixture
def tiny_disk(tmp_path):
    """A 12 KiB tmpfs (needs root and mount rights; skipped otherwise)."""
    import subprocess

    disk = tmp_path / "tiny"
    disk.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(disk)],
                       check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=False, capture_output=True, timeout=10)


def test_disk_full_is_a_one_line_error_and_leaves_nothing(tiny_disk, wav):
    rng = np.random.default_rng(0)
    with pytest.raises(MeshtalkError, match="No space left on device") as err:
        with VideoWriter(tiny_disk / "clip.mp4", FPS, (W, H), audio=wav) as writer:
            for _ in range(NUM_FRAMES):  # noise does not compress: far more than 12 KiB
                writer.write(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    assert "\n" not in str(err.value) and "@ 0x" not in str(err.value)
    assert leftovers(tiny_disk) == []


def fake_ffmpeg(folder, name, encoders: str):
    exe = folder / name
    exe.write_text(f"#!/bin/sh\necho ' V..... {encoders}'\n")
    exe.chmod(0o755)
    return str(exe)


def test_find_ffmpeg_skips_builds_without_libx264(tmp_path):
    from meshtalk.render.video import find_ffmpeg

    lgpl = fake_ffmpeg(tmp_path, "ffmpeg-lgpl", "libopenh264  OpenH264")
    full = fake_ffmpeg(tmp_path, "ffmpeg-full", "libx264  libx264 H.264")
    assert find_ffmpeg([lgpl, full]) == full
    with pytest.raises(MeshtalkError, match="no libx264.*imageio-ffmpeg"):
        find_ffmpeg([lgpl])
    with pytest.raises(MeshtalkError, match="needs ffmpeg"):
        find_ffmpeg([str(tmp_path / "none")])
    assert find_ffmpeg()  # the real one (imageio-ffmpeg or apt) has libx264


def test_audio_duration_of_a_format_soundfile_cannot_read(tmp_path):
    import subprocess

    from meshtalk.render.video import find_ffmpeg

    wav = write_wav(tmp_path / "a.wav", 0.5, rate=16000)
    m4a = tmp_path / "a.m4a"
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", str(m4a)],
                   check=True)
    assert audio_duration(m4a) == pytest.approx(0.5, abs=0.03)
