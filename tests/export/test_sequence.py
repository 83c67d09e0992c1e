"""Per-frame OBJ/PLY sequences, decoded independently."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.export import sequence
from meshtalk.export.sequence import write_sequence
from tests.export.formats import parse_obj


def test_obj_frames(tmp_path, animation):
    _, faces, motion = animation
    paths = write_sequence(tmp_path / "frames", motion[:5], faces, file_format="obj")
    assert [p.name for p in paths] == [f"frame_{t:05d}.obj" for t in range(5)]
    for t, p in enumerate(paths):
        v, f, _ = parse_obj(p)
        np.testing.assert_array_equal(np.float32(v), np.float32(motion[t]))
        np.testing.assert_array_equal(f, faces)


def test_ply_frames(tmp_path, animation):
    _, faces, motion = animation
    paths = write_sequence(tmp_path / "frames", motion[:3], faces, file_format="ply")
    data = paths[2].read_bytes()
    head, body = data.split(b"end_header\n", 1)
    assert b"binary_little_endian" in head and f"element vertex {motion.shape[1]}".encode() in head
    v = np.frombuffer(body[:12 * motion.shape[1]], "<f4").reshape(-1, 3)
    np.testing.assert_array_equal(v, np.float32(motion[2]))
    rec = np.frombuffer(body[12 * motion.shape[1]:], dtype=[("n", "u1"), ("i", "<i4", (3,))])
    assert np.all(rec["n"] == 3)
    np.testing.assert_array_equal(rec["i"], faces)


def test_failure_mid_sequence_leaves_nothing(tmp_path, animation, monkeypatch):
    _, faces, motion = animation
    real = sequence.write_chunked
    count = []

    def flaky(fh, data):
        count.append(1)
        if len(count) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fh, data)

    monkeypatch.setattr(sequence, "write_chunked", flaky)
    with pytest.raises(MeshtalkError, match="no space left"):
        write_sequence(tmp_path / "frames", motion[:5], faces)
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_needs_overwrite(tmp_path, animation):
    _, faces, motion = animation
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "mine.txt").write_text("keep")
    with pytest.raises(MeshtalkError, match="already exists"):
        write_sequence(tmp_path / "frames", motion[:2], faces)
    assert (tmp_path / "frames" / "mine.txt").read_text() == "keep"
    write_sequence(tmp_path / "frames", motion[:2], faces, overwrite=True)
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["frame_00000.obj", "frame_00001.obj"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
