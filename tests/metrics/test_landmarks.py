"""Lip landmarks on a procedural head and its re-meshings; frames; mask transfer."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.metrics.landmarks import (
    LANDMARK_NAMES,
    FaceFrame,
    closest_points_on_mesh,
    estimate_face_frame,
    find_lip_landmarks,
    lip_region_mask,
    transfer_region_mask,
)
from meshtalk.metrics.masks import RegionMask
from tests.metrics import heads


@pytest.fixture(scope="module")
def remeshed(head):
    return heads.remeshings(head, seed=0)


@pytest.fixture(scope="module")
def template_landmarks(head):
    return find_lip_landmarks(head.vertices, head.faces)


def test_landmarks_sit_on_the_analytic_mouth(template_landmarks):
    lm = template_landmarks
    # the lip groove ends near x = ±25 mm at y = -45 mm; the corners are where it fades
    assert lm["right_corner"][0] == pytest.approx(-heads.MOUTH_HALF_WIDTH, abs=1.5e-3)
    assert lm["left_corner"][0] == pytest.approx(heads.MOUTH_HALF_WIDTH, abs=1.5e-3)
    assert lm["stomion"][:2] == pytest.approx([0.0, heads.MOUTH_Y], abs=1e-3)
    assert lm.mouth_width == pytest.approx(2 * heads.MOUTH_HALF_WIDTH, rel=0.06)
    # upper above and lower below the lip line, on the midline, offset 0.12 · width
    assert lm["upper_lip"][1] - heads.MOUTH_Y == pytest.approx(0.12 * lm.mouth_width, rel=0.1)
    assert heads.MOUTH_Y - lm["lower_lip"][1] == pytest.approx(0.12 * lm.mouth_width, rel=0.1)
    assert abs(lm["upper_lip"][0]) < 1e-3 and abs(lm["lower_lip"][0]) < 1e-3
    assert lm.nose_tip[2] > lm["stomion"][2]
    assert lm.vertex_indices.shape == (5,)


def test_landmarks_lie_on_the_mesh(head, template_landmarks):
    v, f = np.asarray(head.vertices), np.asarray(head.faces)
    q, _, _ = closest_points_on_mesh(template_landmarks.positions, v, f)
    assert np.linalg.norm(q - template_landmarks.positions, axis=1).max() < 1e-9
    # the nearest vertex is within about one edge length (1.7 mm here)
    nv = v[template_landmarks.vertex_indices]
    assert np.linalg.norm(nv - template_landmarks.positions, axis=1).max() < 2.5e-3


def test_same_surface_point_on_five_remeshings_and_a_point_cloud(remeshed, template_landmarks):
    ref = template_landmarks
    tol = 0.02 * ref.mouth_width  # 2 % of the mouth width (~1 mm)
    for name, (v, f) in remeshed.items():
        lm = find_lip_landmarks(v, f)
        err = np.linalg.norm(lm.positions - ref.positions, axis=1)
        assert err.max() < tol, f"{name}: {dict(zip(LANDMARK_NAMES, np.round(err / ref.mouth_width * 100, 2)))} % of width"


def test_auto_orientation_recovers_a_rotated_head(small_head):
    v, f = np.asarray(small_head.vertices), np.asarray(small_head.faces)
    ref = find_lip_landmarks(v, f)
    for seed in (0, 1):
        rot = heads.random_rotation(seed)
        shift = np.array([0.3, -0.1, 0.2])
        moved = v @ rot.T + shift
        frame = estimate_face_frame(moved, f)
        assert frame.up @ rot[:, 1] > 0.99 and frame.forward @ rot[:, 2] > 0.99
        lm = find_lip_landmarks(moved, f, orientation="auto")
        back = (lm.positions - shift) @ rot
        assert np.linalg.norm(back - ref.positions, axis=1).max() < 0.02 * ref.mouth_width
        # the same, with the axes given by the user
        lm2 = find_lip_landmarks(moved, f, orientation=(rot[:, 1], rot[:, 2]))
        assert np.linalg.norm((lm2.positions - shift) @ rot - ref.positions, axis=1).max() < 0.02 * ref.mouth_width


def test_face_frame_round_trip_and_validation():
    fr = FaceFrame.from_axes((0, 2, 0.1), (0, 0, 3), origin=(1, 2, 3))
    assert fr.forward == pytest.approx([0, 0, 1]) and fr.up == pytest.approx([0, 1, 0])
    assert fr.lateral == pytest.approx([1, 0, 0])
    p = np.random.default_rng(0).normal(size=(5, 3))
    assert fr.to_world(fr.to_local(p)) == pytest.approx(p)
    with pytest.raises(MeshtalkError, match="parallel"):
        FaceFrame.from_axes((0, 0, 1), (0, 0, 2))
    with pytest.raises(MeshtalkError, match="no direction"):
        FaceFrame.from_axes((0, 1, 0), (0, 0, 0))


def test_wrong_orientation_and_bad_input_give_one_line_errors(small_head):
    v, f = np.asarray(small_head.vertices), np.asarray(small_head.faces)
    with pytest.raises(MeshtalkError) as err:
        find_lip_landmarks(v, f, orientation=((0, -1, 0), (0, 0, -1)))  # looking at the back of the head
    assert "\n" not in str(err.value)
    with pytest.raises(MeshtalkError, match="orientation must be"):
        find_lip_landmarks(v, f, orientation="sideways")
    with pytest.raises(MeshtalkError, match=r"\(V, 3\)"):
        find_lip_landmarks(v[:, :2], f)
    with pytest.raises(MeshtalkError, match="out of range"):
        find_lip_landmarks(v, f + len(v))
    with pytest.raises(MeshtalkError, match="NaN"):
        find_lip_landmarks(np.where(np.arange(len(v))[:, None] == 3, np.nan, v), f)
    with pytest.raises(MeshtalkError, match="corner_threshold"):
        find_lip_landmarks(v, f, corner_threshold=1.5)


def test_closest_points_against_brute_force():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(30, 3))
    f = np.array([t for t in rng.integers(0, 30, (60, 3)) if len(set(t)) == 3])
    q = rng.normal(size=(200, 3)) * 1.5
    got, fi, bary = closest_points_on_mesh(q, v, f, k=len(f))
    # brute force: dense barycentric sampling of every triangle
    s = np.linspace(0, 1, 41)
    uu, ww = np.meshgrid(s, s)
    keep = uu + ww <= 1
    uu, ww = uu[keep], ww[keep]
    dense = (1 - uu - ww)[None, :, None] * v[f[:, 0]][:, None] + uu[None, :, None] * v[f[:, 1]][:, None] \
        + ww[None, :, None] * v[f[:, 2]][:, None]
    dense = dense.reshape(-1, 3)
    brute = np.sqrt(((q[:, None] - dense[None]) ** 2).sum(-1)).min(1)
    mine = np.linalg.norm(got - q, axis=1)
    assert np.all(mine <= brute + 1e-12)
    assert np.all(mine >= brute - 0.05)
    assert bary.sum(1) == pytest.approx(np.ones(len(q)))
    assert np.einsum("ij,ijk->ik", bary, v[f[fi]]) == pytest.approx(got)


def test_lip_region_and_transfer(head, remeshed, template_landmarks):
    v, f = np.asarray(head.vertices), np.asarray(head.faces)
    region = lip_region_mask(v, template_landmarks)
    assert region.n_vertices == len(v) and "automatic" in region.source
    pts = v[region.indices]
    w = template_landmarks.mouth_width
    assert np.abs(pts[:, 0]).max() < 0.5 * w * 1.4 and np.abs(pts[:, 1] - heads.MOUTH_Y).max() < 0.4 * w
    assert template_landmarks.index("stomion") in set(region.indices.tolist())
    # to a permuted copy: every vertex keeps its membership
    perm = np.argsort(np.lexsort(v.T))
    pv = np.empty_like(v)
    pv[perm] = v
    moved = transfer_region_mask(region, v, f, pv)
    assert np.array_equal(moved.as_bool(len(v))[perm], region.as_bool(len(v)))
    assert "transferred from lips-auto" in moved.describe()
    # a half-space mask keeps its boundary within one edge length on another meshing
    half = RegionMask("left", np.flatnonzero(v[:, 0] > 0), "test", n_vertices=len(v))
    dv, df = remeshed["decimated"]
    got = transfer_region_mask(half, v, f, dv).as_bool(len(dv))
    wrong = got != (dv[:, 0] > 0)
    assert np.abs(dv[wrong, 0]).max() < 0.005
    # without faces: nearest vertex
    got2 = transfer_region_mask(half, v, None, dv).as_bool(len(dv))
    assert np.abs(dv[got2 != (dv[:, 0] > 0), 0]).max() < 0.005
    with pytest.raises(MeshtalkError, match="no target vertex"):
        transfer_region_mask(half, v, f, dv, max_distance=-1.0)
