"""PC2 writer/reader against an independent struct decoder of the format."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.export.pc2 import read_pc2, to_pc2
from tests.export.formats import decode_pc2


def test_round_trip_matches_spec(tmp_path, animation):
    _, _, motion = animation
    path = to_pc2(tmp_path / "a.pc2", motion, fps=30, start=3)
    got = decode_pc2(path)
    assert got["signature"] == b"POINTCACHE2\0" and got["version"] == 1
    assert got["start"] == 3.0 and got["rate"] == 1.0
    np.testing.assert_array_equal(got["points"], motion.astype(np.float32))
    assert np.abs(got["points"] - motion).max() <= 1e-6 * np.abs(motion).max()
    cache = read_pc2(path)
    np.testing.assert_array_equal(cache.points, got["points"])
    assert cache.start == 3.0 and cache.sample_rate == 1.0


def test_accepts_flat_frames(tmp_path, animation):
    _, _, motion = animation
    to_pc2(tmp_path / "a.pc2", motion.reshape(len(motion), -1), fps=25)
    np.testing.assert_array_equal(decode_pc2(tmp_path / "a.pc2")["points"], motion.astype(np.float32))


@pytest.mark.parametrize("bad, fps, match", [
    (np.zeros((0, 4, 3)), 30, "empty"),
    (np.zeros((2, 4, 2)), 30, "shape"),
    (np.full((2, 4, 3), np.nan), 30, "NaN"),
    (np.full((2, 4, 3), 1e39), 30, "float32"),
    (np.zeros((2, 4, 3)), 0, "fps"),
    (np.zeros((2, 4, 3)), float("nan"), "fps"),
    (np.array([["a"] * 3] * 2), 30, "real"),
])
def test_bad_input_writes_nothing(tmp_path, bad, fps, match):
    with pytest.raises(MeshtalkError, match=match):
        to_pc2(tmp_path / "a.pc2", bad, fps=fps)
    assert list(tmp_path.iterdir()) == []


def test_disk_full_leaves_nothing(tmp_path, animation, monkeypatch):
    _, _, motion = animation
    calls = []

    def failing(fh, data):
        calls.append(1)
        fh.write(bytes(memoryview(data).cast("B")[:100]))
        raise OSError(errno.ENOSPC, "No space left on device")

    from meshtalk.export import _atomic

    monkeypatch.setattr(_atomic, "write_chunked", failing)  # the shared frame writer's sink
    with pytest.raises(MeshtalkError, match="no space left") as err:
        to_pc2(tmp_path / "a.pc2", motion, fps=30)
    assert "\n" not in str(err.value) and calls
    assert list(tmp_path.iterdir()) == []


def test_reader_rejects_other_files(tmp_path):
    (tmp_path / "x.pc2").write_bytes(b"NOTACACHE000" + bytes(20))
    with pytest.raises(MeshtalkError, match="not a PC2"):
        read_pc2(tmp_path / "x.pc2")
    (tmp_path / "y.pc2").write_bytes(b"POINTCACHE2\0" + np.array([1, 5], "<i4").tobytes()
                                     + np.array([0, 1], "<f4").tobytes() + np.array([2], "<i4").tobytes())
    with pytest.raises(MeshtalkError, match="2 frames x 5 points"):
        read_pc2(tmp_path / "y.pc2")
