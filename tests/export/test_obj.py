"""neutral.obj keeps the vertex order exactly and reads back bit-exactly as float32."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.export.obj import write_obj
from tests.export.formats import parse_obj


def test_order_and_values_preserved(tmp_path, animation):
    verts, faces, _ = animation
    # a duplicate vertex and an unreferenced one must survive (no merging, no clean-up)
    verts = np.vstack([verts, verts[:1], [[5.0, 5.0, 5.0]]])
    write_obj(tmp_path / "n.obj", verts, faces)
    got_v, got_f, kinds = parse_obj(tmp_path / "n.obj")
    assert kinds == ["f", "v"]  # no vt/vn: nothing for an importer to split on
    np.testing.assert_array_equal(np.float32(got_v), np.float32(verts))
    np.testing.assert_array_equal(got_f, faces)


def test_float32_exact_for_awkward_values(tmp_path):
    verts = np.float32([[1 / 3, -1e-7, 123456.789], [np.pi, 1e-30, -0.0], [7, 8, 9]])
    write_obj(tmp_path / "n.obj", verts, np.array([[0, 1, 2]]))
    np.testing.assert_array_equal(np.float32(parse_obj(tmp_path / "n.obj")[0]), verts)


@pytest.mark.parametrize("faces, match", [
    (np.array([[0, 1, 3]]), "out of range"),
    (np.array([[0.0, 1.0, 2.0]]), "integers"),
    (np.zeros((0, 3), int), "F > 0"),
])
def test_bad_faces(tmp_path, faces, match):
    with pytest.raises(MeshtalkError, match=match):
        write_obj(tmp_path / "n.obj", np.zeros((3, 3)), faces)
    assert not (tmp_path / "n.obj").exists()


def test_output_path_is_a_directory(tmp_path):
    (tmp_path / "n.obj").mkdir()
    with pytest.raises(MeshtalkError, match="is a directory"):
        write_obj(tmp_path / "n.obj", np.zeros((3, 3)), np.array([[0, 1, 2]]))
