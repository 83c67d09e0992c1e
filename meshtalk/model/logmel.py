"""A log-mel speech front end trained from scratch: STFT -> mel filterbank -> log -> conv stack.

Everything is computed here with plain torch (``torch.stft`` and a triangular mel filterbank on
the HTK mel scale, ``mel = 2595 log10(1 + f / 700)``), so the encoder needs no audio library and
no pretrained weights. Per utterance, every mel band is mean-removed and the whole spectrogram
scaled to unit variance (cepstral-mean-style normalisation: a fixed gain or a fixed spectral tilt
of the voice disappears). A stack of dilated residual 1-D convolutions runs at the 100 Hz STFT
rate, its output is sampled at the centres of the motion frames (so the output length is exactly
``num_frames`` at any frame rate), and optional transformer layers follow.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: STFT settings at 16 kHz: 25 ms Hann window, 10 ms hop.
N_FFT = 512
WIN_LENGTH = 400
HOP_LENGTH = 160


def hz_to_mel(f):
    """HTK mel scale: ``2595 log10(1 + f / 700)`` (works on floats and tensors)."""
    if isinstance(f, torch.Tensor):
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    return 2595.0 * math.log10(1.0 + f / 700.0)


def mel_to_hz(m):
    """Inverse of :func:`hz_to_mel`."""
    if isinstance(m, torch.Tensor):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular filters with peak 1, centres equally spaced on the mel scale.

    Filter ``i`` rises linearly (in Hz) from edge ``i`` to centre ``i + 1`` and falls to edge
    ``i + 2`` of the ``n_mels + 2`` mel-spaced points between ``f_min`` and ``f_max``, so between
    the first and the last centre the filters sum to exactly 1.

    Args:
        n_mels: number of filters (M).
        n_fft: FFT size; the filters act on its ``n_fft // 2 + 1`` frequency bins (F).
        sample_rate: sample rate in Hz.
        f_min, f_max: frequency range in Hz (``f_max`` defaults to Nyquist).

    Returns:
        (M, F) filter weights.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if n_mels < 1 or not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"bad mel filterbank: n_mels={n_mels}, f_min={f_min}, f_max={f_max}")
    freqs = torch.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)       # (F,)
    edges = mel_to_hz(torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2, dtype=torch.float64))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]                       # (M, 1)
    rise = (freqs[None] - lo) / (mid - lo)
    fall = (hi - freqs[None]) / (hi - mid)
    return torch.clamp(torch.minimum(rise, fall), min=0.0).float()


def log_mel(waveform: torch.Tensor, filters: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-utterance normalised log-mel spectrogram.

    Args:
        waveform: (B, S) 16 kHz audio (any scale).
        filters: (M, N_FFT // 2 + 1) mel filterbank.

    Returns:
        (B, M, F) with ``F = S // HOP_LENGTH + 1`` frames (frame ``f`` centred on sample
        ``f * HOP_LENGTH``); each band has zero mean over time, the whole spectrogram unit std.
    """
    x = waveform - waveform.mean(-1, keepdim=True)
    x = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-10)                    # unit RMS
    window = torch.hann_window(WIN_LENGTH, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, N_FFT, HOP_LENGTH, WIN_LENGTH, window, center=True, pad_mode="constant",
                      return_complex=True)                                           # (B, N_FFT/2+1, F)
    mel = torch.einsum("mk,bkf->bmf", filters.to(x.dtype), spec.abs().pow(2))
    logm = torch.log(mel + eps)
    logm = logm - logm.mean(-1, keepdim=True)
    return logm / torch.sqrt(logm.pow(2).mean((-2, -1), keepdim=True) + 1e-6)


def sample_at_frames(x: torch.Tensor, n_samples: int, num_frames: int) -> torch.Tensor:
    """Linearly interpolate STFT-rate features at the centres of ``num_frames`` motion frames.

    Motion frame ``t`` covers samples ``[t, t + 1) * n_samples / num_frames``; its centre lies at
    STFT frame ``(t + 0.5) * n_samples / num_frames / HOP_LENGTH``.

    Args:
        x: (B, C, F) features at the STFT rate.
        n_samples: S, the audio length the features came from.
        num_frames: T.

    Returns:
        (B, C, T).
    """
    n_in = x.shape[-1]
    pos = (torch.arange(num_frames, dtype=torch.float64) + 0.5) * (n_samples / num_frames) / HOP_LENGTH
    pos = pos.clamp(0, n_in - 1)
    i0 = pos.floor().long().clamp(max=n_in - 1)
    i1 = (i0 + 1).clamp(max=n_in - 1)
    w = (pos - i0).to(x.dtype).to(x.device)
    return x[..., i0.to(x.device)] * (1 - w) + x[..., i1.to(x.device)] * w


class _ResidualConv(nn.Module):
    """``x + conv(gelu(layernorm(x)))`` with a dilated kernel-5 convolution; (B, C, F) -> (B, C, F)."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.conv = nn.Conv1d(channels, channels, 5, padding=2 * dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return x + self.conv(F.gelu(h))


class LogMelEncoder(nn.Module):
    """Log-mel spectrogram, dilated conv stack, motion-frame sampling, optional transformer.

    Args:
        n_mels: mel bands (M).
        channels: feature width (C = ``out_channels``).
        conv_layers: residual conv blocks at 100 Hz (dilations 1, 2, 4, ...).
        transformer_layers: transformer layers at the motion frame rate (0: none).
        heads: their attention heads.
    """

    def __init__(self, n_mels: int = 80, channels: int = 128, conv_layers: int = 4,
                 transformer_layers: int = 1, heads: int = 4, sample_rate: int = 16_000):
        super().__init__()
        if channels % heads:
            raise ValueError(f"logmel channels ({channels}) must be divisible by the heads ({heads})")
        self.register_buffer("filters", mel_filterbank(n_mels, N_FFT, sample_rate, 20.0, 7600.0),
                             persistent=False)
        self.stem = nn.Conv1d(n_mels, channels, 3, padding=1)
        self.blocks = nn.ModuleList(_ResidualConv(channels, 2 ** i) for i in range(conv_layers))
        self.norm = nn.LayerNorm(channels)
        self.transformer = None
        if transformer_layers > 0:
            layer = nn.TransformerEncoderLayer(channels, heads, 2 * channels, dropout=0.0,
                                               batch_first=True, norm_first=True, activation="gelu")
            self.transformer = nn.TransformerEncoder(layer, transformer_layers, enable_nested_tensor=False)
        self.out_channels = channels
        #: Fewest samples accepted (one STFT window); shorter audio is zero-padded by the caller.
        self.min_samples = WIN_LENGTH

    def forward(self, waveform: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Args: waveform (B, S) 16 kHz audio; num_frames T. Returns (B, T, C)."""
        x = self.stem(log_mel(waveform, self.filters))                      # (B, C, F)
        for block in self.blocks:
            x = block(x)
        x = sample_at_frames(x, waveform.shape[-1], num_frames)              # (B, C, T)
        x = self.norm(x.transpose(1, 2))                                     # (B, T, C)
        if self.transformer is not None:
            x = self.transformer(x)
        return x
