"""End-to-end tests for meshtalk/render/sequence.py: motion + audio -> checked mp4."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.render.sequence import as_motion, render_video

from .conftest import (
    FPS,
    NUM_FRAMES,
    decode_frames,
    ffprobe,
    leftovers,
    needs_ffprobe,
    needs_pyrender,
    write_wav,
)

SIZE = 96

pytestmark = needs_pyrender


@needs_ffprobe
def test_video_has_sound_every_frame_and_no_blank_frame(tmp_path, head, motion, wav):
    out = tmp_path / "talk.mp4"
    summary = render_video(motion, head[1], out, wav, fps=FPS, size=SIZE, progress=False)
    assert summary.path == out and summary.num_frames == NUM_FRAMES
    info = ffprobe(out)
    streams = {s["codec_type"]: s for s in info["streams"]}
    assert len(info["streams"]) == 2 and set(streams) == {"video", "audio"}
    assert int(streams["video"]["nb_read_frames"]) == NUM_FRAMES
    assert abs(float(info["format"]["duration"]) - NUM_FRAMES / FPS) <= 1 / FPS
    frames = decode_frames(out, SIZE, SIZE).astype(np.float64)
    assert len(frames) == NUM_FRAMES
    background = frames[:, :3, :3].reshape(len(frames), -1, 3).mean(axis=1)
    for t, frame in enumerate(frames):
        assert frame.std() > 10.0, f"frame {t} looks blank"
        face = np.abs(frame - background[t]).sum(axis=2) > 12
        assert 0.15 < face.mean() < 0.85, f"frame {t}: face covers {face.mean():.2f}"
    # The jaw moves: the middle frame differs from the first, the last returns to it.
    mid, first, last = frames[NUM_FRAMES // 2], frames[0], frames[-1]
    assert np.abs(mid - first).mean() > np.abs(last - first).mean() + 0.2
    assert leftovers(tmp_path) == ["speech.wav", "talk.mp4"]


@needs_ffprobe
def test_side_by_side_with_error_heat_map(tmp_path, head, motion, wav):
    out = tmp_path / "cmp.mp4"
    other = motion * np.float32(1.03)
    summary = render_video(motion.reshape(NUM_FRAMES, -1), head[1], out, wav, fps=FPS,
                           compare=other, heatmap=True, size=SIZE, progress=False,
                           labels=["prediction", "ground truth", "error"])
    width, height = summary.size
    assert height == SIZE and width >= 3 * SIZE and width % 2 == 0
    expected = np.percentile(np.linalg.norm(motion - other, axis=2), 99)
    assert summary.error_max == pytest.approx(expected, rel=1e-5)
    frames = decode_frames(out, width, height).astype(np.float64)
    assert len(frames) == NUM_FRAMES
    body = frames[:, SIZE // 4:]
    saturation = body.max(axis=3) - body.min(axis=3)
    plain, heat = saturation[..., :SIZE].mean(), saturation[..., 2 * SIZE:3 * SIZE].mean()
    assert heat > plain + 15  # the heat-map panel is coloured, the plain ones are grey


@needs_ffprobe
@pytest.mark.parametrize("extra_seconds", [0.2, -0.15])
def test_fit_audio_cuts_or_pads_and_strict_mode_refuses(tmp_path, head, motion, extra_seconds):
    wav = write_wav(tmp_path / "speech.wav", NUM_FRAMES / FPS + extra_seconds)
    out = tmp_path / "v.mp4"
    with pytest.raises(MeshtalkError, match="audio lasts .* --fps .* --fit-audio"):
        render_video(motion, head[1], out, wav, fps=FPS, size=SIZE, progress=False)
    assert not out.exists()
    render_video(motion, head[1], out, wav, fps=FPS, size=SIZE, progress=False,
                 fit_audio=True)
    info = ffprobe(out)
    streams = {s["codec_type"]: s for s in info["streams"]}
    assert int(streams["video"]["nb_read_frames"]) == NUM_FRAMES
    assert abs(float(streams["audio"]["duration"]) - NUM_FRAMES / FPS) <= 1 / FPS
    assert abs(float(info["format"]["duration"]) - NUM_FRAMES / FPS) <= 1 / FPS


def test_a_blank_frame_fails_the_render_and_leaves_no_video(tmp_path, head, motion, wav):
    broken = motion.copy()
    broken[4] = broken[4].mean(axis=0)  # frame 4 collapses to a point: nothing to see
    out = tmp_path / "v.mp4"
    with pytest.raises(MeshtalkError, match="frame 4 is blank"):
        render_video(broken, head[1], out, wav, fps=FPS, size=SIZE, progress=False)
    assert leftovers(tmp_path) == ["speech.wav"]


def test_a_failed_render_keeps_the_previous_video(tmp_path, head, motion, wav, caplog):
    out = tmp_path / "v.mp4"
    out.write_bytes(b"last week's video")
    broken = motion.copy()
    broken[2] = broken[2].mean(axis=0)
    with pytest.raises(MeshtalkError, match="frame 2 is blank"):
        render_video(broken, head[1], out, wav, fps=FPS, size=SIZE, progress=False)
    assert out.read_bytes() == b"last week's video"
    assert "will be replaced once the new video is complete" in caplog.text
    assert leftovers(tmp_path) == ["speech.wav", "v.mp4"]


@pytest.mark.parametrize("mutate, match", [
    (lambda m: m[:, :-1], "faces index vertices"),
    (lambda m: np.where(np.arange(m.shape[0])[:, None, None] == 2, np.nan, m), "NaN .* frame 2"),
    (lambda m: m[:0], "empty"),
    (lambda m: m[..., :2], "must be"),
])
def test_bad_motion_is_refused_before_anything_is_written(tmp_path, head, motion, wav, mutate,
                                                          match):
    out = tmp_path / "v.mp4"
    with pytest.raises(MeshtalkError, match=match) as err:
        render_video(mutate(motion), head[1], out, wav, fps=FPS, size=SIZE, progress=False)
    assert "\n" not in str(err.value)
    assert leftovers(tmp_path) == ["speech.wav"]


def test_comparison_must_match(tmp_path, head, motion, wav):
    with pytest.raises(MeshtalkError, match="vertices per frame but the mesh has"):
        render_video(motion, head[1], tmp_path / "v.mp4", wav, compare=motion[:, :-3],
                     size=SIZE, progress=False)
    with pytest.raises(MeshtalkError, match="frames but the motion has"):
        render_video(motion, head[1], tmp_path / "v.mp4", wav, compare=motion[:-1],
                     size=SIZE, progress=False)


def test_as_motion_accepts_flat_faceformer_layout():
    flat = np.arange(2 * 4 * 3, dtype=np.float64).reshape(2, 12)
    m = as_motion(flat, 4)
    assert m.shape == (2, 4, 3) and m.dtype == np.float32
    np.testing.assert_array_equal(m[1, 2], [18, 19, 20])
    with pytest.raises(MeshtalkError, match="has 4 vertices per frame but the mesh has 5"):
        as_motion(flat, 5)
    with pytest.raises(MeshtalkError, match=r"single mesh \(V, 3\)"):
        as_motion(np.zeros((10, 3)), 10)
    with pytest.raises(MeshtalkError, match="real array"):
        as_motion(np.array([[["a", "b", "c"]]]))


def test_sequence_bounds_cover_every_frame_of_every_sequence():
    from meshtalk.render import sequence

    rng = np.random.default_rng(2)
    a = rng.normal(size=(600, 5, 3))  # more frames than one validation chunk
    b = rng.normal(size=(600, 5, 3)) + 3.0
    corners = sequence.sequence_bounds(a, b)
    both = np.concatenate([a, b]).reshape(-1, 3)
    np.testing.assert_array_equal(corners.min(axis=0), both.min(axis=0))
    np.testing.assert_array_equal(corners.max(axis=0), both.max(axis=0))
    assert corners.shape == (8, 3)


def test_nan_late_in_a_long_sequence_is_found():
    m = np.zeros((700, 4, 3), np.float32)
    m[650, 1, 2] = np.inf
    with pytest.raises(MeshtalkError, match="in 1 frame.*first at frame 650"):
        as_motion(m)


def test_error_max_must_be_positive(tmp_path, head, motion):
    with pytest.raises(MeshtalkError, match="maximum must be positive"):
        render_video(motion, head[1], tmp_path / "v.mp4", heatmap=True, error_max=0.0,
                     size=SIZE, progress=False)


def test_displacement_heat_map_measures_motion_from_the_neutral_mesh(tmp_path, head, motion):
    neutral = head[0]
    summary = render_video(motion, head[1], tmp_path / "v.mp4", heatmap=True, neutral=neutral,
                           size=64, progress=False)
    width, height = summary.size
    assert (width, height) == (2 * 64 + 64, 64)  # motion, displacement, 64-pixel colour bar
    expected = np.percentile(np.linalg.norm(motion - neutral, axis=2), 99)
    assert summary.error_max == pytest.approx(expected, rel=1e-5)
    assert summary.error_max > 0.005  # the jaw moves by up to 15 mm
