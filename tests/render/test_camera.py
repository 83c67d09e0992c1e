"""Tests for meshtalk/render/camera.py: framing the face, fixed over a sequence."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.render.camera import frame_face, look_at

from .conftest import head_mesh, talking_motion


def corners(points):
    lo, hi = points.min(axis=0), points.max(axis=0)
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                     for z in (lo[2], hi[2])])


def test_look_at_is_a_rotation_facing_the_target():
    pose = look_at(np.array([0.0, 0.0, 5.0]), np.zeros(3), np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(pose[:3, :3], np.eye(3), atol=1e-12)
    pose = look_at(np.array([3.0, 0.0, 0.0]), np.zeros(3), np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(-pose[:3, 2], [-1.0, 0.0, 0.0], atol=1e-12)


def test_default_camera_looks_at_the_front_along_minus_z():
    verts, _ = head_mesh(2)
    cam = frame_face(verts + [1.0, 2.0, 3.0])
    np.testing.assert_allclose(cam.forward, [0.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(cam.position[:2], [1.0, 2.0], atol=1e-9)
    assert cam.position[2] > 3.0 + 0.09
    centre = cam.project(np.array([[1.0, 2.0, 3.0]]), 100, 100)
    np.testing.assert_allclose(centre, [[50.0, 50.0]], atol=1e-9)


@pytest.mark.parametrize("aspect", [1.0, 2.0])
def test_whole_sequence_in_view_and_tightly_framed(aspect):
    verts, _ = head_mesh(2)
    motion = talking_motion(verts, 5)
    margin = 1.1
    cam = frame_face(motion, aspect=aspect, margin=margin)
    w, h = int(200 * aspect), 200
    px = cam.project(corners(motion.reshape(-1, 3)), w, h)
    # All corners of the bounds inside the image, with the margin left on at least one side.
    inside_x = np.abs(px[:, 0] - w / 2) / (w / 2)
    inside_y = np.abs(px[:, 1] - h / 2) / (h / 2)
    assert inside_x.max() <= 1 / margin + 1e-9 and inside_y.max() <= 1 / margin + 1e-9
    assert max(inside_x.max(), inside_y.max()) == pytest.approx(1 / margin, rel=1e-6)
    assert cam.znear < np.min(np.linalg.norm(motion.reshape(-1, 3) - cam.position, axis=1))
    assert cam.zfar > np.max(np.linalg.norm(motion.reshape(-1, 3) - cam.position, axis=1))


def test_face_direction_override():
    verts, _ = head_mesh(2)
    cam = frame_face(verts, face_direction=(1.0, 0.0, 0.0), up=(0.0, 0.0, 1.0))
    np.testing.assert_allclose(cam.forward, [-1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(cam.pose[:3, 1], [0.0, 0.0, 1.0], atol=1e-12)
    assert cam.position[0] > verts[:, 0].max()


def test_up_parallel_to_direction_still_gives_a_valid_pose():
    verts, _ = head_mesh(1)
    cam = frame_face(verts, face_direction=(0.0, 1.0, 0.0), up=(0.0, 1.0, 0.0))
    np.testing.assert_allclose(cam.pose[:3, :3] @ cam.pose[:3, :3].T, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("bad, kwargs", [
    (np.full((4, 3), np.nan), {}),
    (np.zeros((0, 3)), {}),
    (np.ones((4, 3)), {"face_direction": (0.0, 0.0, 0.0)}),
    (np.ones((4, 3)), {"margin": 0.5}),
])
def test_bad_input_raises(bad, kwargs):
    with pytest.raises(ValueError):
        frame_face(bad, **kwargs)
