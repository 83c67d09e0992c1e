"""Tests of meshtalk/data/synth/scans.py: re-meshings of a head with exact motion targets."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from meshtalk.data.synth.heads import make_head
from meshtalk.data.synth.motion import displace
from meshtalk.data.synth.scans import (
    add_noise,
    cut_holes,
    decimate,
    make_scan,
    make_scans,
    permute,
    point_cloud,
    remesh,
    subdivide,
)
from meshtalk.errors import MeshtalkError

pytest.importorskip("skimage", reason="synthetic heads need scikit-image: pip install 'meshtalk[synth]'")


@functools.lru_cache(maxsize=None)
def _head():
    return make_head(4)


def _boundary_edges(faces: np.ndarray) -> np.ndarray:
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(e, axis=0, return_counts=True)
    assert counts.max() <= 2, "non-manifold edge"
    return unique[counts == 1]


def _open_only_at_the_mouth(verts: np.ndarray, faces: np.ndarray, head) -> bool:
    """The only boundary is the lip line (heads have an open mouth)."""
    rim = verts[np.unique(_boundary_edges(faces))]
    lm = head.landmarks
    half_width = 0.5 * np.linalg.norm(lm.left_corner - lm.right_corner)
    edge = np.linalg.norm(verts[faces[:, 0]] - verts[faces[:, 1]], axis=1).mean()
    return (len(rim) > 0 and np.abs(rim[:, 0]).max() < 1.2 * half_width + edge
            and np.abs(rim[:, 1] - lm.mouth_center[1]).max() < max(0.008, 1.5 * edge))


@pytest.mark.parametrize("target", [2000, 12000])
def test_remesh_vertex_counts_and_surface(target):
    head = _head()
    scan = remesh(head, target)
    assert abs(len(scan.verts) / target - 1) < 0.15
    assert _open_only_at_the_mouth(scan.verts, scan.faces, head)
    assert np.abs(head.sdf(scan.verts)).max() < 1e-6
    # isotropic: edge lengths vary far less than on the face-dense template
    e = scan.faces[:, [0, 1]]
    length = np.linalg.norm(scan.verts[e[:, 0]] - scan.verts[e[:, 1]], axis=1)
    assert np.percentile(length, 95) / np.percentile(length, 5) < 4.0
    assert scan.provenance["kind"] == "remesh" and scan.provenance["head"] == head.name


@pytest.mark.slow
def test_remesh_reaches_100k_vertices():
    head = _head()
    scan = remesh(head, 100000, relax_iterations=0)
    assert abs(len(scan.verts) / 100000 - 1) < 0.15
    assert _open_only_at_the_mouth(scan.verts, scan.faces, head)


def test_decimate_and_subdivide_counts():
    pytest.importorskip("fast_simplification", reason="decimation needs meshtalk[synth]")
    head = _head()
    dec = decimate(head, 3000)
    assert abs(len(dec.verts) / 3000 - 1) < 0.15
    assert np.abs(head.sdf(dec.verts)).mean() < 3e-4  # decimation leaves the surface a little
    sub = subdivide(head, 1)
    # one new vertex per edge, four faces per face
    n_edges = len(np.unique(np.sort(np.concatenate(
        [head.faces[:, [0, 1]], head.faces[:, [1, 2]], head.faces[:, [2, 0]]]), axis=1), axis=0))
    assert len(sub.verts) == len(head.verts) + n_edges
    assert len(sub.faces) == 4 * len(head.faces)
    np.testing.assert_array_equal(sub.verts[: len(head.verts)], head.verts)
    assert _open_only_at_the_mouth(sub.verts, sub.faces, head)
    assert np.abs(head.sdf(sub.verts)).max() < 1e-6


def test_holes_really_exist_and_spare_the_lips():
    head = _head()
    scan = cut_holes(head, count=3, radius=0.006, seed=1)
    mouth_rim = len(_boundary_edges(head.faces))
    boundary = _boundary_edges(scan.faces)
    assert len(boundary) > mouth_rim + 3 * 6  # each hole has a rim of several edges
    assert len(scan.faces) < len(head.faces)
    rim = scan.verts[np.unique(boundary)]
    rim = rim[np.linalg.norm(rim - head.landmarks.mouth_center, axis=1) > 0.03]  # not the mouth
    # every rim vertex is near one of the centres
    centres = np.array(scan.provenance["centres"])
    near = np.linalg.norm(rim[:, None] - centres[None], axis=2).min(axis=1)
    assert near.max() < 0.006 + 0.01


def test_noise_has_the_requested_sigma():
    head = _head()
    scan = add_noise(head, 0.0005, seed=2)
    delta = scan.verts - head.verts
    assert abs(delta.std() / 0.0005 - 1) < 0.05
    np.testing.assert_array_equal(scan.faces, head.faces)
    again = add_noise(head, 0.0005, seed=2)
    np.testing.assert_array_equal(again.verts, scan.verts)


def test_permutation_really_permutes():
    head = _head()
    scan = permute(head, seed=3)
    order = np.random.default_rng([3, 0x9E4]).permutation(len(head.verts))
    assert not np.array_equal(order, np.arange(len(order)))
    np.testing.assert_array_equal(scan.verts, head.verts[order])
    # the same triangles, as sets of positions
    a = np.sort(head.verts[head.faces].reshape(len(head.faces), -1), axis=0)
    b = np.sort(scan.verts[scan.faces].reshape(len(scan.faces), -1), axis=0)
    np.testing.assert_array_equal(a, b)
    # orientation is preserved face by face
    tri = scan.verts[scan.faces]
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()
    assert volume > 0


def test_point_cloud_samples_the_surface_with_outward_normals():
    head = _head()
    scan = point_cloud(head, 3000, seed=0)
    assert scan.is_point_cloud and scan.faces.shape == (0, 3)
    assert len(scan.verts) == 3000
    assert np.abs(head.sdf(scan.verts)).max() < 1e-6
    np.testing.assert_allclose(np.linalg.norm(scan.normals, axis=1), 1.0, atol=1e-9)
    outside = head.sdf(scan.verts + 0.001 * scan.normals)
    assert np.mean(outside > 0) > 0.99


def test_targets_are_exact_for_every_scan():
    """Motion of a permuted scan is the permuted motion of the template."""
    head = _head()
    art = np.array([[0.7, 0.5, 0.3, -0.2]])
    scan = permute(head, seed=5)
    order = np.random.default_rng([5, 0x9E4]).permutation(len(head.verts))
    np.testing.assert_array_equal(displace(scan.verts, head, art),
                                  displace(head.verts, head, art)[:, order])


def test_make_scans_suite_and_errors():
    head = _head()
    suite = (("remesh", {"target_vertices": 2000}), ("holes", {"count": 2}), ("permute", {}))
    scans = make_scans(head, suite, seed=1)
    assert [s.name for s in scans] == ["remesh_2k", "holes_2", "permute"]
    with pytest.raises(MeshtalkError, match="unknown scan kind"):
        make_scan(head, "voxelize")
    with pytest.raises(MeshtalkError):
        subdivide(head, 0)
    with pytest.raises(MeshtalkError):
        add_noise(head, -1.0)
    with pytest.raises(MeshtalkError):
        cut_holes(head, count=0)
    with pytest.raises(MeshtalkError):
        point_cloud(head, 10)
    with pytest.raises(MeshtalkError):
        decimate(head, 3000, source_vertices=2000)


def test_noisy_vertices_keep_the_motion_of_their_own_lip():
    """Noise is a measurement error: a rim vertex pushed across the mouth line still moves with its lip."""
    head = _head()
    scan = add_noise(head, 0.0005, seed=2)
    np.testing.assert_array_equal(scan.motion_points, head.verts)
    assert remesh(head, 2000).motion_points is None and point_cloud(head, 500).motion_points is None
    art = np.array([[0.9, 0.9, 0.0, 0.0]])                       # jaw and lips wide open
    truth = displace(head.verts, head, art)[0]                   # the template's exact motion
    np.testing.assert_array_equal(displace(scan.motion_source, head, art)[0], truth)
    # vertices that the noise moved across the mouth line (there are some at 0.5 mm): evaluated at
    # their noisy position the field would tear them to the other lip
    lm = head.landmarks
    near = (np.abs(head.verts[:, 0]) < 0.3 * np.linalg.norm(lm.left_corner - lm.right_corner))
    crossed = near & (np.sign(scan.verts[:, 1] - lm.mouth_center[1]) != np.sign(head.verts[:, 1] - lm.mouth_center[1]))
    assert crossed.sum() > 0
    torn = displace(scan.verts, head, art)[0]
    assert np.abs(torn[crossed, 1] - truth[crossed, 1]).max() > 0.002
    # a permutation or holes of the noisy scan carry the same clean points along
    perm = permute(head, seed=3, base=scan)
    order = np.random.default_rng([3, 0x9E4]).permutation(len(head.verts))
    np.testing.assert_array_equal(perm.motion_points, head.verts[order])
    holes = cut_holes(head, 2, seed=1, base=scan)
    assert holes.motion_points is not None and len(holes.motion_points) == len(holes.verts)
