"""MDD writer/reader against an independent big-endian struct decoder."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.export.mdd import read_mdd, to_mdd
from tests.export.formats import decode_mdd


def test_round_trip_matches_spec(tmp_path, animation):
    _, _, motion = animation
    to_mdd(tmp_path / "a.mdd", motion, fps=25, start=2)
    got = decode_mdd(tmp_path / "a.mdd")
    np.testing.assert_array_equal(got["points"], motion.astype(np.float32))
    np.testing.assert_allclose(got["times"], (2 + np.arange(len(motion))) / 25, rtol=1e-6)
    cache = read_mdd(tmp_path / "a.mdd")
    np.testing.assert_array_equal(cache.points, got["points"])
    np.testing.assert_array_equal(cache.times, np.float32(got["times"]))


def test_is_big_endian(tmp_path):
    to_mdd(tmp_path / "a.mdd", np.ones((1, 1, 3)), fps=30)
    data = (tmp_path / "a.mdd").read_bytes()
    assert data[:8] == b"\0\0\0\1\0\0\0\1" and data[12:16] == b"\x3f\x80\0\0"  # 1.0f big-endian


def test_nan_refused(tmp_path):
    motion = np.zeros((3, 5, 3))
    motion[2, 1, 0] = np.inf
    with pytest.raises(MeshtalkError, match="first at frame 2"):
        to_mdd(tmp_path / "a.mdd", motion, fps=30)
    assert not (tmp_path / "a.mdd").exists()


def test_reader_checks_size(tmp_path):
    (tmp_path / "a.mdd").write_bytes(np.array([3, 4], ">i4").tobytes() + bytes(10))
    with pytest.raises(MeshtalkError, match="3 frames x 4 points"):
        read_mdd(tmp_path / "a.mdd")
