"""meshtalk/bench/speed.py: one tiny size measured in a subprocess gives positive finite numbers."""

from __future__ import annotations

import math

import pytest

from meshtalk.bench.speed import measure_speed
from meshtalk.errors import MeshtalkError


def test_one_tiny_size(tiny_model_dir):
    rows = measure_speed([600], tiny_model_dir, seconds=0.5, threads=1, repeats=1)
    assert len(rows) == 1
    r = rows[0]
    assert r.target_vertices == 600
    assert 400 < r.vertices < 800 and r.faces > r.vertices
    assert r.frames == 15
    for value in (r.precompute_s, r.audio_encode_s, r.decode_ms_per_frame, r.peak_rss_mib):
        assert math.isfinite(value) and value > 0
    assert r.peak_rss_mib < 8192        # a subprocess of its own, not the test runner


@pytest.mark.parametrize("sizes", [[], [50], [0, 2000]])
def test_bad_sizes(sizes):
    with pytest.raises(MeshtalkError, match="sizes"):
        measure_speed(sizes)
