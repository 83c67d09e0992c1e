"""Tests for meshtalk.data.synth.engines: the parts that do not need a real engine."""

from __future__ import annotations

import numpy as np

from meshtalk.data.synth.engines import _contiguous, _stop_closures


def test_stop_closure_moves_to_the_silent_gap():
    # A loud vowel 0–0.2 s, a silent closure 0.2–0.26 s, a burst at 0.26 s (espeak's /p/ event).
    sr = 16000
    t = np.arange(int(0.4 * sr)) / sr
    audio = np.where(t < 0.2, 0.5 * np.sin(2 * np.pi * 150 * t), 0.0)
    audio[int(0.26 * sr):int(0.27 * sr)] = 0.3
    segments = [("SIL", 0.0, 0.05), ("AA", 0.05, 0.26), ("P", 0.26, 0.32), ("SIL", 0.32, 0.4)]
    moved = _stop_closures(segments, audio, sr)
    assert abs(moved[2][1] - 0.2) < 0.004 and moved[1][2] == moved[2][1]
    assert moved[0] == segments[0] and moved[3] == segments[3]
    # Bounded: never more than 80 ms back, never more than 60 % of the phone before.
    long_gap = [("AA", 0.0, 0.1), ("P", 0.3, 0.35)]
    quiet = np.zeros(int(0.4 * sr))
    quiet[: int(0.1 * sr)] = 0.5
    assert _stop_closures(long_gap, quiet, sr)[1][1] >= 0.3 - 0.08 - 1e-9
    after_pause = [("SIL", 0.0, 0.2), ("P", 0.2, 0.3)]
    assert _stop_closures(after_pause, audio, sr) == after_pause


def test_contiguous_fills_gaps_and_merges_pauses():
    out = _contiguous([("SIL", 0.0, 0.1), ("AA", 0.15, 0.3), ("SIL", 0.3, 0.35), ("SIL", 0.35, 0.5)], 0.6)
    assert out == (("SIL", 0.0, 0.15), ("AA", 0.15, 0.3), ("SIL", 0.3, 0.6))
    # Segments past the audio's end are clipped away.
    assert _contiguous([("AA", 0.0, 0.3), ("B", 0.3, 0.9)], 0.5) == (("AA", 0.0, 0.3), ("B", 0.3, 0.5))
