"""The log-mel audio front end: filterbank, tone placement, output length, checkpoint round trip."""

import math

import pytest
import torch

from meshtalk.model.audio import AudioEncoder, num_motion_frames
from meshtalk.model.config import AudioEncoderConfig, TalkingHeadConfig
from meshtalk.model.logmel import N_FFT, hz_to_mel, log_mel, mel_filterbank, mel_to_hz


def test_mel_scale_reference_points():
    # HTK scale: 1000 Hz is ~1000 mel; 700 Hz is 2595 log10(2) mel
    assert hz_to_mel(0.0) == 0.0
    assert hz_to_mel(1000.0) == pytest.approx(999.99, abs=0.05)
    assert hz_to_mel(700.0) == pytest.approx(2595.0 * math.log10(2.0))
    assert mel_to_hz(hz_to_mel(3456.0)) == pytest.approx(3456.0)
    t = torch.tensor([0.0, 440.0, 8000.0], dtype=torch.float64)
    torch.testing.assert_close(mel_to_hz(hz_to_mel(t)), t)


def test_filterbank_by_hand_and_partition_of_unity():
    # 2 filters on 0..4000 Hz at 8 kHz, n_fft 8 (bins every 1000 Hz): edges are 4 mel-spaced points
    fb = mel_filterbank(2, 8, 8000, 0.0, 4000.0).double()
    m = torch.linspace(0.0, hz_to_mel(4000.0), 4, dtype=torch.float64)
    e = mel_to_hz(m)                                               # 0, ~620.6, ~1791, 4000 Hz
    torch.testing.assert_close(e[1:3], torch.tensor([620.6, 1791.3], dtype=torch.float64), atol=0.5, rtol=0)
    bins = torch.arange(5, dtype=torch.float64) * 1000.0
    expect0 = torch.clamp(torch.minimum((bins - e[0]) / (e[1] - e[0]), (e[2] - bins) / (e[2] - e[1])), min=0)
    torch.testing.assert_close(fb[0], expect0)
    # the 1 kHz bin is on the falling edge of filter 0 and the rising edge of filter 1
    assert float(fb[0, 1]) == pytest.approx((1791.3 - 1000.0) / (1791.3 - 620.6), abs=1e-3)
    assert float(fb[1, 1]) == pytest.approx((1000.0 - 620.6) / (1791.3 - 620.6), abs=1e-3)
    assert fb[1, 4] == 0.0 and fb[0, 0] == 0.0
    # the real bank: peaks of 1, and the filters sum to 1 between the first and the last centre
    fb = mel_filterbank(80, N_FFT, 16000, 20.0, 7600.0)
    assert fb.shape == (80, N_FFT // 2 + 1)
    assert float(fb.max()) <= 1.0 + 1e-6
    freqs = torch.linspace(0, 8000, N_FFT // 2 + 1)
    edges = mel_to_hz(torch.linspace(hz_to_mel(20.0), hz_to_mel(7600.0), 82))
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    torch.testing.assert_close(fb.sum(0)[inside], torch.ones(int(inside.sum())), atol=1e-5, rtol=0)
    assert float(fb.sum(0)[freqs > 7600.0].abs().max()) == 0.0


@pytest.mark.parametrize("hz", [300.0, 1000.0, 4000.0])
def test_pure_tone_lands_in_its_mel_band(hz):
    fb = mel_filterbank(40, N_FFT, 16000, 20.0, 7600.0)
    t = torch.arange(16000) / 16000.0
    tone = torch.sin(2 * math.pi * hz * t)[None]
    # plus a silent second so the per-band mean removal leaves the tone's band on top
    spec = log_mel(torch.cat([tone, torch.zeros(1, 16000)], 1), fb)[0]   # (M, F)
    band = int(spec[:, 20:80].mean(1).argmax())
    centres = mel_to_hz(torch.linspace(hz_to_mel(20.0), hz_to_mel(7600.0), 42))[1:-1]
    assert abs(band - int((centres - hz).abs().argmin())) <= 1


def _tiny():
    return AudioEncoderConfig(kind="logmel", logmel_bins=16, logmel_channels=8, logmel_conv_layers=2,
                              logmel_layers=1, logmel_heads=2)


@pytest.mark.parametrize("fps", [25, 30, 60])
def test_output_length_is_the_motion_frames(fps):
    enc = AudioEncoder(_tiny()).eval()
    for n in (1, 7000, 16000 + 123):
        T = num_motion_frames(n, fps)
        with torch.no_grad():
            out = enc(torch.randn(2, n), T)
        assert out.shape == (2, T, 8) and torch.isfinite(out).all()


def test_gain_invariant_and_time_aligned():
    enc = AudioEncoder(_tiny()).eval()
    x = torch.randn(1, 16000) * torch.linspace(0, 1, 16000) ** 2
    with torch.no_grad():
        torch.testing.assert_close(enc(x, 30), enc(7.0 * x, 30), atol=1e-4, rtol=1e-4)
    # a burst in the last third of the audio shows up in the last third of the frames
    fb = mel_filterbank(16, N_FFT, 16000, 20.0, 7600.0)
    y = torch.zeros(1, 30000)
    y[0, 20000:] = torch.randn(10000)
    energy = log_mel(y, fb)[0].mean(0)
    assert energy[: 20000 // 160 - 3].max() < energy[20000 // 160 + 3:].min()


def test_tiny_logmel_model_round_trips(tmp_path):
    from meshtalk.model import TalkingHead
    from meshtalk.model.checkpoint import load_model, read_checkpoint, save_model

    cfg = TalkingHeadConfig(k_eig=8, geometry_width=8, audio_width=8, audio=_tiny())
    cfg.encoder.width = cfg.decoder.width = 8
    cfg.encoder.n_blocks = cfg.decoder.n_blocks = 1
    model = TalkingHead(cfg).eval()
    path = save_model(model, tmp_path / "m.safetensors")
    header, tensors, _ = read_checkpoint(path)
    assert header.audio.kind == "logmel" and header.audio.logmel_bins == 16
    assert not any("filters" in k for k in tensors)     # the filterbank is rebuilt, not stored
    back = load_model(path).eval()
    x = torch.randn(1, 9000)
    with torch.no_grad():
        torch.testing.assert_close(model.encode_audio(x, 17), back.encode_audio(x, 17))
