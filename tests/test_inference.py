import logging
import resource
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from meshtalk.errors import MeshtalkError
from meshtalk.inference import _window_starts, animate, check_mesh_alignment, iter_animate, load_audio
from meshtalk.model import TalkingHead
from tests.model._ops import ellipsoid, make_ops
from tests.model._synth import audio_from_envelope, envelope, tiny_config, trained_model


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    model = TalkingHead(tiny_config()).eval()
    torch.nn.init.normal_(model.decoder.last_lin.weight, std=0.05)
    return model


@pytest.fixture(scope="module")
def small_mesh():
    v, f = ellipsoid(1)
    return v, f, make_ops(v, f, 24)


# ------------------------------------------------------------------------------------- audio

def test_stereo_44k_is_mixed_down_and_resampled_with_a_note(tmp_path, caplog):
    t = np.arange(44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], 1) * 0.5
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 44100)
    with caplog.at_level(logging.WARNING, logger="meshtalk.inference"):
        x = load_audio(path)
    assert len(x) == 16000
    notes = " ".join(r.message for r in caplog.records)
    assert "mixed down" in notes and "resampled" in notes
    assert np.isclose(np.abs(x[2000:14000]).max(), 0.25, atol=0.02)          # mean of the channels


def test_mp3_is_decoded(tmp_path):
    t = np.arange(16000) / 16000
    sf.write(tmp_path / "a.wav", 0.3 * np.sin(2 * np.pi * 300 * t), 16000)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg not installed (needed to make the mp3)")
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(tmp_path / "a.wav"), str(tmp_path / "a.mp3")], check=True)
    x = load_audio(tmp_path / "a.mp3")
    assert abs(len(x) - 16000) < 2000 and np.abs(x).max() > 0.1


def test_undecodable_file_without_decoder_is_a_one_line_error(tmp_path, monkeypatch):
    bad = tmp_path / "speech.m4a"
    bad.write_bytes(b"\x00not audio at all" * 100)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(MeshtalkError) as info:
        load_audio(bad)
    assert "\n" not in str(info.value) and "install" in str(info.value) and "ffmpeg" in str(info.value)


def test_missing_and_empty_audio(tmp_path):
    with pytest.raises(MeshtalkError, match="not found"):
        load_audio(tmp_path / "none.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(MeshtalkError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    with pytest.raises(MeshtalkError, match="NaN"):
        load_audio(np.array([0.0, np.nan], np.float32))


def test_one_sample_wav(tmp_path, random_model, small_mesh):
    v, f, ops = small_mesh
    sf.write(tmp_path / "one.wav", np.array([0.1]), 16000)
    out = animate((v, f), tmp_path / "one.wav", random_model, ops=ops)
    assert out.shape == (1, len(v), 3) and np.isfinite(out).all()


# ------------------------------------------------------------------------------------ meshes

def test_far_scale_and_rotation_are_warned_with_the_fix(random_model, caplog):
    v, _ = ellipsoid(1)
    random_model.config.template_extent = tuple((v.max(0) - v.min(0)).tolist())
    random_model.config.template_center = (0.0, 0.0, 0.0)
    try:
        assert check_mesh_alignment(v, random_model) == []
        msgs = check_mesh_alignment(v * 1000, random_model)
        assert msgs and "scale it by 0.001" in msgs[0]
        rotated = v[:, [2, 1, 0]]
        msgs = check_mesh_alignment(rotated, random_model)
        assert msgs and "rotate" in msgs[0]
        assert "translate" in check_mesh_alignment(v + 5.0, random_model)[0]
    finally:
        random_model.config.template_extent = None
        random_model.config.template_center = None


def test_corrupt_checkpoint_path(tmp_path, small_mesh):
    v, f, ops = small_mesh
    bad = tmp_path / "m.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(MeshtalkError, match="corrupt"):
        animate((v, f), np.zeros(1600, np.float32), bad, ops=ops)


# ---------------------------------------------------------------------------------- windows

def test_window_tiling():
    assert _window_starts(10, 20, 5) == [0]
    starts = _window_starts(100, 30, 6)
    assert starts[0] == 0 and starts[-1] == 70 and all(b - a <= 24 for a, b in zip(starts, starts[1:]))


def test_windows_agree_with_one_pass_and_geometry_is_encoded_once(random_model, small_mesh, monkeypatch):
    v, f, ops = small_mesh
    audio = np.random.default_rng(1).standard_normal(16000 * 3).astype(np.float32)
    whole = animate((v, f), audio, random_model, ops=ops, window_s=10)
    calls = []
    original = random_model.encode_geometry
    monkeypatch.setattr(random_model, "encode_geometry", lambda *a, **k: calls.append(1) or original(*a, **k))
    windowed = animate((v, f), audio, random_model, ops=ops, window_s=1.0, overlap_s=0.3, chunk_frames=7)
    assert len(calls) == 1
    assert windowed.shape == whole.shape == (90, len(v), 3)
    disp = np.linalg.norm(whole - v[None], axis=-1).mean()
    assert np.linalg.norm(windowed - whole, axis=-1).mean() < 0.1 * disp
    blocks = list(iter_animate((v, f), audio, random_model, ops=ops, window_s=1.0, overlap_s=0.3))
    assert [b[0] for b in blocks] == sorted(b[0] for b in blocks)
    np.testing.assert_allclose(np.concatenate([b[1] for b in blocks]) + v[None], windowed, atol=1e-6)


def _seam_ratio(motion, n, window, overlap):
    change = np.linalg.norm(np.diff(motion, axis=0), axis=-1).max(axis=1)          # (T-1,)
    starts = _window_starts(n, window, overlap)
    seam = np.zeros(n - 1, bool)
    for s_prev, s_next in zip(starts, starts[1:]):
        for t in (s_next - 1, s_next, s_prev + window - 2, s_prev + window - 1):
            if 0 <= t < n - 1:
                seam[t] = True
    assert seam.sum() >= 4
    return change[seam].max() / np.median(change[~seam])


def _smooth_audio_code(model):
    """A stand-in audio encoder with limited context and edge effects, but smooth in time:
    a 9-frame moving average of each frame's loudness (edges replicated), times a fixed vector."""
    direction = torch.randn(model.temporal.out_channels, generator=torch.Generator().manual_seed(0))

    def encode_audio(waveform, num_frames):
        x = waveform.reshape(-1)
        edges = torch.linspace(0, x.numel(), num_frames + 1).long()
        rms = torch.stack([x[a:max(b, a + 1)].pow(2).mean().sqrt() for a, b in zip(edges[:-1], edges[1:])])
        padded = torch.nn.functional.pad(rms[None, None], (4, 4), mode="replicate")
        smooth = torch.nn.functional.conv1d(padded, torch.ones(1, 1, 9) / 9)[0, 0]
        return (smooth[:, None] * direction[None])[None]

    return encode_audio


def test_no_seam_at_window_boundaries(random_model, monkeypatch):
    """Max frame-to-frame change at the window boundaries <= 1.5 x the median elsewhere
    (on a model whose output is smooth in time), and hard cuts would fail that."""
    v, f = ellipsoid(2)
    ops = make_ops(v, f, 24)
    n = 300
    opening = 0.5 + 0.4 * np.sin(np.linspace(0, 6 * np.pi, n))                      # continuous speech
    audio = audio_from_envelope(opening, 7)
    kwargs = dict(ops=ops, window_s=2.0, silence_db=None)
    # 1. the real (random) network: windows are no rougher at the seams than one single pass
    single = animate((v, f), audio, random_model, window_s=20.0, ops=ops, silence_db=None)
    windowed = animate((v, f), audio, random_model, overlap_s=0.5, **kwargs)
    change_w = np.linalg.norm(np.diff(windowed, axis=0), axis=-1).max(axis=1)
    change_1 = np.linalg.norm(np.diff(single, axis=0), axis=-1).max(axis=1)
    seams = [t for s in _window_starts(n, 60, 15)[1:] for t in (s - 1, s, s + 14, s + 15) if t < n - 1]
    assert change_w[seams].max() <= 1.5 * change_1[seams].max()
    # 2. a smooth stand-in encoder with edge effects: the acceptance ratio itself
    monkeypatch.setattr(random_model, "encode_audio", _smooth_audio_code(random_model))
    t = np.arange(16000 * 10) / 16000
    audio = (np.sin(2 * np.pi * 150 * t) * np.interp(t * 30, np.arange(n), opening)).astype(np.float32)
    faded = animate((v, f), audio, random_model, overlap_s=0.5, **kwargs)
    ratio = _seam_ratio(faded, n, 60, 15)
    assert ratio <= 1.5, ratio
    hard = animate((v, f), audio, random_model, overlap_s=0.0, **kwargs)          # no cross-fade
    assert _seam_ratio(hard, n, 60, 0) > 1.5


def test_crossfade_weights_leave_out_window_edges():
    from meshtalk.inference import crossfade_weights

    w = crossfade_weights(40).numpy()
    assert np.all(w[:10] == 0) and np.all(w[30:] == 1) and np.all(np.diff(w) >= 0)
    np.testing.assert_allclose(w + w[::-1], 1.0, atol=1e-6)                         # symmetric fade
    long = crossfade_weights(100, fade=20).numpy()                                  # fixed fade, centred
    assert np.all(long[:40] == 0) and np.all(long[60:] == 1) and 0 < long[50] < 1
    assert crossfade_weights(1).shape == (1,)
    v, f = ellipsoid(0)
    short = animate((v, f), np.zeros(16000 * 3, np.float32), TalkingHead(tiny_config()), window_s=2.0)
    assert short.shape == (90, len(v), 3)                     # default overlap shrinks with the window
    with pytest.raises(MeshtalkError, match="fade_margin"):
        animate(ellipsoid(0), np.zeros(1600, np.float32), TalkingHead(tiny_config()), fade_margin=0.5)


def _seam_frames(n, window, overlap, margin=0.25):
    """Indices t of the changes ``x[t+1] - x[t]`` that a window boundary or a cross-fade touches."""
    from meshtalk.inference import crossfade_weights

    seam = np.zeros(n - 1, bool)
    starts = _window_starts(n, window, overlap)
    for s_prev, s_next in zip(starts, starts[1:]):
        end = s_prev + window
        w = crossfade_weights(end - s_next, fade=max(1.0, (1 - 2 * margin) * overlap)).numpy()
        fading = s_next + np.flatnonzero((w > 0) & (w < 1))
        touched = [s_next - 1, s_next, end - 2, end - 1]
        if len(fading):
            touched += list(range(fading.min() - 1, fading.max() + 1))
        for t in touched:
            if 0 <= t < n - 1:
                seam[t] = True
    return seam


@pytest.mark.slow
def test_no_seam_with_the_default_model_on_a_minute_of_speech():
    """The shipped model on 63 s of real speech (the demo sentence six times) and a decimated demo
    head, 20 s windows. On real speech the frame-to-frame change is heavy-tailed (its 99th
    percentile is ~4x its median), so "max at the seams <= 1.5x the median elsewhere" fails for any
    output, the unwindowed one included; what the windows add is measured against the same
    animation done in one pass: the change of (windowed - one pass) at the seams must stay below
    1.5x the median change elsewhere. Control: hard cuts at the boundaries (no overlap) add at least
    5x as much at the seams, and at least half the median change (a visible step). (How large a
    hard cut's step is depends on the model: 1.3x the median change for the stage-11 model, > 1.5x
    for earlier ones; its cross-faded windows add 0.09x.)"""
    from pathlib import Path

    fast_simplification = pytest.importorskip("fast_simplification")
    import trimesh

    import meshtalk

    root = Path(__file__).resolve().parents[1] / "data"
    if not ((root / "demo" / "head.obj").is_file() and (root / "models" / "default").is_dir()):
        pytest.skip("demo data or default model not in this checkout")
    mesh = trimesh.load(root / "demo" / "head.obj", process=False)
    v, f = fast_simplification.simplify(np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces),
                                        target_reduction=0.95)
    wave, sr = sf.read(root / "demo" / "speech.wav", dtype="float32")
    audio = (np.tile(wave, 6), sr)
    one_pass = meshtalk.animate((v, f), audio, None, cache=None, window_s=1e4)
    n, window = len(one_pass), 600
    change = np.linalg.norm(np.diff(one_pass, axis=0), axis=-1).max(axis=1)
    ratios = {}
    for overlap_s in (3.0, 0.0):
        windowed = meshtalk.animate((v, f), audio, None, cache=None, window_s=20.0, overlap_s=overlap_s)
        seam = _seam_frames(n, window, int(overlap_s * 30))
        added = np.linalg.norm(np.diff(windowed - one_pass, axis=0), axis=-1).max(axis=1)
        ratios[overlap_s] = added[seam].max() / np.median(change[~seam])
        if overlap_s > 0:
            assert ratios[overlap_s] <= 1.5, ratios
            w_change = np.linalg.norm(np.diff(windowed, axis=0), axis=-1).max(axis=1)
            assert w_change[seam].max() <= 1.5 * change[seam].max()      # no rougher than one pass there
    # the control: the same measure does see hard cuts
    assert ratios[0.0] >= max(5.0 * ratios[3.0], 0.5), ratios


def test_silent_audio_keeps_the_mouth_near_neutral():
    model, info = trained_model()
    v, f, ops = info["verts"], info["faces"], info["ops"]
    speech = animate((v, f), audio_from_envelope(envelope(60, seed=3), 3), model, ops=ops)
    d_speech = np.linalg.norm(speech - v[None], axis=-1).max()
    for silent_audio in (np.zeros(32000, np.float32), 1e-6 * np.random.default_rng(0).standard_normal(32000)):
        silent = animate((v, f), silent_audio.astype(np.float32), model, ops=ops)
        d_silent = np.linalg.norm(silent - v[None], axis=-1).max()
        assert d_silent < 0.05 * d_speech, (d_silent, d_speech)


def test_silence_gate_is_smooth_and_only_mutes_silence():
    from meshtalk.inference import silence_gate

    t = np.arange(16000 * 2) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 200 * t) * (t > 1.0)).astype(np.float32)   # 1 s silence, 1 s tone
    gate = silence_gate(wave, 60, 30.0)
    assert np.all(gate[:27] == 0) and np.all(gate[33:] == 1)
    assert np.abs(np.diff(gate)).max() <= 0.21                                      # no pop
    assert np.all(silence_gate(1e-3 * np.ones(16000, np.float32), 30, 30.0) == 1)   # -60 dBFS is sound


def test_ten_minute_audio_in_bounded_memory(small_mesh):
    v, f, ops = small_mesh
    torch.manual_seed(0)
    model = TalkingHead(tiny_config()).eval()
    audio = (np.random.default_rng(0).standard_normal(16000 * 600) * 0.1).astype(np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count = 0
    for start, block in iter_animate((v, f), audio, model, ops=ops):
        assert start == count and np.isfinite(block).all()
        count += len(block)
    assert count == 600 * 30
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 1024
