"""Tests of meshtalk/data/synth/heads.py: procedural heads, landmarks, template meshes."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from meshtalk.data.synth.heads import (
    HeadParams,
    head_sdf,
    make_head,
    make_heads,
    mesh_sdf,
    project_to_surface,
)
from meshtalk.errors import MeshtalkError

pytest.importorskip("skimage", reason="synthetic heads need scikit-image: pip install 'meshtalk[synth]'")


@functools.lru_cache(maxsize=None)
def _head(seed: int):
    return make_head(seed)


def _edges(faces: np.ndarray) -> np.ndarray:
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return e


def _boundary_vertices(faces: np.ndarray) -> np.ndarray:
    undirected = np.sort(_edges(faces), axis=1)
    unique, counts = np.unique(undirected, axis=0, return_counts=True)
    assert counts.max() == 2, "non-manifold edge"
    return np.unique(unique[counts == 1])


def test_template_is_an_oriented_manifold_open_only_at_the_mouth():
    head = _head(0)
    v, f = head.verts, head.faces
    assert 5000 <= len(v) <= 8000
    assert v.dtype == np.float64 and f.dtype == np.int64
    # oriented 2-manifold: every directed edge once, every undirected edge in one or two faces
    directed = _edges(f)
    assert len(np.unique(directed, axis=0)) == len(directed)
    undirected = np.sort(directed, axis=1)
    n_edges = len(np.unique(undirected, axis=0))
    # a disc: a sphere with one hole, the mouth (V − E + F = 1)
    assert len(v) - n_edges + len(f) == 1
    rim = v[_boundary_vertices(f)]
    lm = head.landmarks
    half_width = 0.5 * np.linalg.norm(lm.left_corner - lm.right_corner)
    assert np.abs(rim[:, 0]).max() < 1.2 * half_width
    assert np.abs(rim[:, 1] - lm.mouth_center[1]).max() < 0.006
    # outward: positive enclosed volume of about an adult head and neck (3–7 litres)
    t = v[f]
    volume = np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0
    assert 0.003 < volume < 0.007
    # vertices lie on the zero level set (within 0.1 mm)
    assert np.abs(head.sdf(v)).max() < 1e-4


def test_head_is_metric_faces_plus_z_and_up_plus_y():
    head = _head(1)
    v = head.verts
    size = v.max(0) - v.min(0)
    assert 0.13 < size[0] < 0.21  # width incl. ears
    assert 0.22 < size[1] < 0.36  # crown to neck cut
    assert 0.17 < size[2] < 0.26  # back of head to nose tip
    # the nose tip is the most forward point, near the midline, above the mouth
    tip = v[np.argmax(v[:, 2])]
    assert abs(tip[0]) < 0.01
    assert tip[1] > head.landmarks.upper_lip[1]
    # the crown is the top
    top = v[np.argmax(v[:, 1])]
    assert abs(top[0]) < 0.02


def test_landmarks_are_on_the_surface_and_consistent():
    head = _head(2)
    lm = head.landmarks
    on_surface = np.stack([lm.left_corner, lm.right_corner, lm.upper_lip, lm.lower_lip])
    assert np.abs(head.sdf(on_surface)).max() < 1e-6
    assert head.sdf(np.stack([lm.hinge_left, lm.hinge_right])).max() < -0.01  # inside
    assert lm.left_corner[0] > 0 > lm.right_corner[0]
    np.testing.assert_allclose(lm.left_corner * [-1, 1, 1], lm.right_corner, atol=1e-9)
    assert lm.upper_lip[1] > lm.lower_lip[1]
    assert 0.0005 < lm.rest_gap < 0.002
    mouth_width = np.linalg.norm(lm.left_corner - lm.right_corner)
    assert 0.035 < mouth_width < 0.065
    np.testing.assert_allclose(lm.hinge_axis, [1.0, 0.0, 0.0], atol=1e-12)
    # hinge: above and behind the mouth
    assert lm.hinge_center[1] > lm.mouth_center[1] + 0.03
    assert lm.hinge_center[2] < lm.mouth_center[2] - 0.08


def test_heads_are_distinct_and_deterministic():
    a, b = _head(0), _head(1)
    assert a.params != b.params
    assert a.landmarks.rest_gap != b.landmarks.rest_gap
    again = make_head(0)
    np.testing.assert_array_equal(again.verts, a.verts)
    np.testing.assert_array_equal(again.faces, a.faces)
    # the two surfaces differ by millimetres, not micrometres
    assert np.abs(b.sdf(a.verts)).mean() > 1e-3


def test_template_is_denser_around_the_mouth():
    head = _head(0)
    v, f = head.verts, head.faces
    e = np.sort(_edges(f), axis=1)
    length = np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1)
    mid = 0.5 * (v[e[:, 0]] + v[e[:, 1]])
    near_mouth = np.linalg.norm(mid - head.landmarks.mouth_center, axis=1) < 0.03
    crown = mid[:, 1] > 0.08 * head.params.scale
    assert length[near_mouth].mean() < 0.75 * length[crown].mean()


def test_mesh_sdf_vertex_count_and_projection():
    params = HeadParams()
    verts, faces = mesh_sdf(params, 3000, relax_iterations=0)
    assert abs(len(verts) / 3000 - 1) < 0.15
    assert np.abs(head_sdf(verts, params)).max() < 1e-4
    moved = verts + 0.001 * np.random.default_rng(0).standard_normal(verts.shape)
    assert np.abs(head_sdf(project_to_surface(moved, params), params)).max() < 1e-5


def test_sdf_sign_inside_and_outside():
    params = HeadParams()
    assert head_sdf(np.array([[0.0, 0.0, 0.0]]), params)[0] < -0.03  # head centre
    assert head_sdf(np.array([[0.0, 0.0, 0.5]]), params)[0] > 0.3  # far in front


@pytest.mark.parametrize("bad", [np.zeros((4, 2)), np.zeros(3), np.full((2, 3), np.nan),
                                 np.array([["a", "b", "c"]])])
def test_sdf_rejects_bad_points(bad):
    with pytest.raises(MeshtalkError):
        head_sdf(bad, HeadParams())


def test_bad_arguments_raise_one_line_errors():
    with pytest.raises(MeshtalkError, match="seed"):
        make_head(-1)
    with pytest.raises(MeshtalkError, match="target_vertices"):
        mesh_sdf(HeadParams(), 10)
    with pytest.raises(MeshtalkError, match="face_density"):
        mesh_sdf(HeadParams(), 3000, face_density=0.5)
    with pytest.raises(MeshtalkError, match="count"):
        make_heads(0)
    with pytest.raises(MeshtalkError):
        project_to_surface(np.zeros((3, 4)), HeadParams())


def test_templates_share_one_topology_in_correspondence():
    a, b = _head(0), _head(1)
    np.testing.assert_array_equal(a.faces, b.faces)
    assert len(a.verts) == len(b.verts)
    # vertex i is the same anatomical point: the vertex at a's landmarks sits at b's landmarks
    for name in ("upper_lip", "lower_lip", "left_corner", "right_corner"):
        i = np.argmin(np.linalg.norm(a.verts - getattr(a.landmarks, name), axis=1))
        assert np.linalg.norm(b.verts[i] - getattr(b.landmarks, name)) < 0.004, name
    # no triangle turned over on the way (normals agree with the other head's)
    def normals(v):
        t = v[a.faces]
        n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        return n / np.linalg.norm(n, axis=1, keepdims=True)

    agree = np.einsum("ij,ij->i", normals(a.verts), normals(b.verts))
    assert np.mean(agree < 0) < 1e-3


def test_lip_midpoints_are_on_the_front_surface_at_the_metric_offset():
    head = _head(2)
    lm = head.landmarks
    width = np.linalg.norm(lm.left_corner - lm.right_corner)
    up, lo = head.lip_midpoints()
    assert np.abs(head.sdf(np.stack([up, lo]))).max() < 1e-6
    # 12 % of the mouth width above / below the mouth centre, at its lateral position
    np.testing.assert_allclose([up[1] - lm.mouth_center[1], lm.mouth_center[1] - lo[1]], 0.12 * width, atol=1e-9)
    np.testing.assert_allclose([up[0], lo[0]], lm.mouth_center[0], atol=1e-12)
    # front surface: nothing of the head lies in front of them along +z
    for p in (up, lo):
        ahead = p + np.linspace(1e-4, 0.05, 200)[:, None] * np.array([0.0, 0.0, 1.0])
        assert head.sdf(ahead).min() > 0
    # outside the slit: farther from the mouth centre than the rims
    assert min(up[1] - lm.upper_lip[1], lm.lower_lip[1] - lo[1]) > 0.003
    up2, _ = head.lip_midpoints(offset=0.2)
    assert up2[1] - lm.mouth_center[1] == pytest.approx(0.2 * width)
