"""Tests of meshtalk/data/synth/motion.py: the mouth/jaw displacement field in R³."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pytest

from meshtalk.data.synth.heads import make_head, mesh_sdf
from meshtalk.data.synth.motion import (
    MotionParams,
    MouthField,
    MouthFrame,
    articulation_array,
    displace,
    lip_opening,
    rest_articulation,
)
from meshtalk.errors import MeshtalkError

pytest.importorskip("skimage", reason="synthetic heads need scikit-image: pip install 'meshtalk[synth]'")


@functools.lru_cache(maxsize=None)
def _head(seed: int = 3):
    return make_head(seed)


@dataclass
class _Curves:
    """Stand-in with the interface of articulation.Articulation."""

    fps: float
    jaw: np.ndarray
    lip_aperture: np.ndarray
    protrusion: np.ndarray
    spread: np.ndarray


def _speechlike(frames: int = 60, seed: int = 0) -> _Curves:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 30.0
    jaw = 0.5 + 0.45 * np.sin(2 * np.pi * 2.1 * t + rng.uniform(0, 6))
    aperture = np.clip(jaw * 0.9 + 0.1 * np.sin(2 * np.pi * 3.3 * t), 0.05, 1.0)
    aperture *= 1.0 - np.exp(-(((t - 12 / 30.0) / 0.06) ** 2))  # a bilabial, jaw part open
    protrusion = 0.5 + 0.5 * np.sin(2 * np.pi * 0.9 * t)
    spread = 0.8 * np.sin(2 * np.pi * 1.3 * t)
    return _Curves(30.0, jaw, aperture, protrusion, spread)


def _random_articulations(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0, 1, n), rng.uniform(0, 1, n), rng.uniform(0, 1, n),
                            rng.uniform(-1, 1, n)])


def test_rest_articulation_is_the_identity():
    head = _head()
    d = displace(head.verts, head, rest_articulation(head))
    assert d.shape == (1, len(head.verts), 3)
    assert np.abs(d).max() < 1e-12


def test_upper_face_and_back_of_head_do_not_move():
    head = _head()
    frame = MouthFrame.of(head)
    q = frame.to_local(head.verts)
    s = head.params.scale
    still = (q[:, 1] > 0.025 * s) | (q[:, 2] < frame.hinge[2] - 0.016 * s) | (q[:, 1] < -0.096 * s)
    assert still.sum() > len(head.verts) // 2
    d = displace(head.verts[still], head, _random_articulations(20))
    assert np.abs(d).max() == 0.0
    # ... while the lower face does
    moving = displace(head.verts[~still], head, np.array([[0.7, 0.6, 0.5, 0.5]]))
    assert np.linalg.norm(moving, axis=-1).max() > 0.008


@pytest.mark.parametrize("jaw", [0.0, 0.3, 0.7, 1.0])
def test_lips_close_on_zero_aperture_whatever_the_jaw(jaw):
    head = _head()
    art = np.array([[jaw, 0.0, 0.4, -0.3], [jaw, 0.0, 0.0, 0.8]])
    # lips in contact as on the neutral head: the landmarks keep their rest distance
    np.testing.assert_allclose(lip_opening(head, art), head.landmarks.rest_gap, atol=1e-9)
    assert head.landmarks.rest_gap < 0.002


def test_lip_opening_follows_aperture_and_jaw_lowers_the_chin():
    head = _head()
    params = MotionParams()
    aperture = np.array([0.2, 0.5, 0.8])
    art = np.column_stack([0.8 * aperture, aperture, np.zeros(3), np.zeros(3)])
    opening = lip_opening(head, art, params)
    lm = head.landmarks
    rest = lm.upper_lip - lm.lower_lip  # lips in contact: (0, 1.6 mm, tiny depth offset)
    lift = aperture[:, None] * params.max_lip_aperture * head.params.scale * np.array([0, 1, 0])
    np.testing.assert_allclose(opening, np.linalg.norm(rest + lift, axis=1), rtol=1e-9)
    np.testing.assert_allclose(opening - lm.rest_gap,
                               aperture * params.max_lip_aperture * head.params.scale, atol=2e-5)
    # the chin (lowest front point of the face) moves down and back with the jaw
    v = head.verts
    front = v[:, 2] > head.landmarks.mouth_center[2] - 0.03
    chin = np.argmin(np.where(front & (v[:, 1] > head.landmarks.mouth_center[1] - 0.06), v[:, 1],
                              np.inf))
    d = displace(v[chin:chin + 1], head, np.array([[1.0, 0.6, 0, 0]]))[0, 0]
    radius = np.linalg.norm((v[chin] - head.landmarks.hinge_center)[1:])
    # a rigid rotation by max_jaw_angle at the chin, which moves with the mandible
    np.testing.assert_allclose(np.linalg.norm(d), 2 * radius * np.sin(params.max_jaw_angle / 2),
                               rtol=0.02)
    assert d[1] < -0.01


def test_field_is_smooth_in_space():
    """Finite differences are bounded and converge (C¹) away from the mouth slit."""
    head = _head()
    field = MouthField(head)
    rng = np.random.default_rng(0)
    c = head.landmarks.mouth_center
    pts = c + rng.uniform([-0.06, -0.07, -0.1], [0.06, 0.05, 0.01], size=(4000, 3))
    q = field.frame.to_local(pts)
    pts = pts[np.abs(q[:, 1]) > 0.004 * head.params.scale]  # lips part across the slit
    art = np.array([[0.8, 0.7, 0.6, 0.8]])
    base = displace(pts, head, art)[0]
    slopes = []
    for h in (1e-4, 5e-5):
        grads = np.stack([(displace(pts + h * e, head, art)[0] - base) / h for e in np.eye(3)])
        slopes.append(grads)
    lipschitz = np.abs(slopes[1]).max()
    assert lipschitz < 3.0  # displacement (m) per metre
    # first differences converge: the derivative exists (C¹)
    assert np.abs(slopes[0] - slopes[1]).max() < 0.05 * max(lipschitz, 1e-3)


def test_field_is_steep_only_across_the_slit():
    head = _head()
    lm = head.landmarks
    art = np.array([[0.6, 0.6, 0.0, 0.0]])
    # crossing the slit the displacement jumps by the whole opening within ~2 mm
    d_up, d_low = displace(np.stack([lm.upper_lip, lm.lower_lip]), head, art)[0]
    assert np.linalg.norm(d_up - d_low) > 0.01


def test_slit_walls_move_with_their_own_lip():
    """Points on the mouth slit's upper wall, from the lip front to 12 mm inside, move like the
    upper lip midpoint (not down with the jaw), those on the lower wall like the lower one: the
    jaw's dividing surface follows the slit, not the occlusal plane that is tilted towards the
    hinge (which cut the upper wall about a millimetre behind the front)."""
    head = _head()
    lm = head.landmarks
    field = MouthField(head)
    fr = field.frame
    s = head.params.scale
    art = np.array([[0.8, 0.6, 0.0, 0.0]])
    depth = np.linspace(0.0, 0.012 * s, 13)
    d_up, d_low = displace(np.stack([lm.upper_lip, lm.lower_lip]), head, art)[0]
    for side, ref in ((+1, d_up), (-1, d_low)):
        local = np.stack([np.zeros_like(depth), np.full_like(depth, side * 0.0006 * s), -depth], axis=1)
        pts = fr.origin + local @ fr.axes
        d = displace(pts, head, art)[0]
        # vertical motion: the same sign as the lip's own and no less than 60 % of it
        assert np.all(np.sign(d[:, 1]) == np.sign(ref[1])), (side, d[:, 1], ref[1])
        assert np.all(np.abs(d[:, 1]) > 0.6 * abs(ref[1])), (side, d[:, 1], ref[1])
    assert d_up[1] > 0 > d_low[1]


def test_field_is_continuous_in_time():
    head = _head()
    curves = _speechlike(90)
    d = displace(head.verts, head, curves)
    assert d.shape == (90, len(head.verts), 3)
    a = articulation_array(curves)
    # frame-to-frame change bounded by the change of the curves (Lipschitz in time)
    step = np.linalg.norm(np.diff(d, axis=0), axis=-1).max(axis=1)
    curve_step = np.abs(np.diff(a, axis=0)).max(axis=1)
    assert np.all(step <= 0.04 * head.params.scale * curve_step + 1e-12)
    assert lip_opening(head, a[12:13])[0] < head.landmarks.rest_gap + 1e-4


def _closest_on_mesh(verts, faces, points):
    """Naive oracle: closest point on a triangle mesh (k nearest centroid candidates)."""
    from scipy.spatial import cKDTree

    tri = verts[faces]
    tree = cKDTree(tri.mean(axis=1))
    _, cand = tree.query(points, k=24)
    best = np.full(len(points), np.inf)
    best_face = np.zeros(len(points), dtype=int)
    best_bary = np.zeros((len(points), 3))
    for j in range(cand.shape[1]):
        f = cand[:, j]
        a, b, c = tri[f, 0], tri[f, 1], tri[f, 2]
        # sample barycentric grid finely enough (oracle, not speed): 1/40 steps
        for bary in _BARY:
            p = bary[0] * a + bary[1] * b + bary[2] * c
            dist = np.linalg.norm(p - points, axis=1)
            better = dist < best
            best[better] = dist[better]
            best_face[better] = f[better]
            best_bary[better] = bary
    return best_face, best_bary, best


_N = 12
_BARY = np.array([(i / _N, j / _N, 1 - (i + j) / _N) for i in range(_N + 1)
                  for j in range(_N + 1 - i)])


def test_two_meshings_get_the_same_displacement_at_the_same_surface_points():
    head = _head()
    other_verts, other_faces = mesh_sdf(head.params, 2500, face_density=1.0)
    art = _random_articulations(3, seed=5)
    d_template = displace(head.verts, head, art)
    d_other = displace(other_verts, head, art)
    # transfer the template's displacement onto the other meshing at the nearest surface points
    face, bary, dist = _closest_on_mesh(head.verts, head.faces, other_verts)
    assert np.median(dist) < 5e-4
    transferred = np.einsum("fk,tfkd->tfd", bary, d_template[:, head.faces[face]])
    err = np.linalg.norm(transferred - d_other, axis=-1)
    scale = np.linalg.norm(d_other, axis=-1)
    moving = scale.max(axis=0) > 1e-4
    assert np.median(err[:, moving]) < 0.01 * np.median(scale[:, moving])
    assert err[:, moving].mean() < 0.05 * scale[:, moving].mean()


@pytest.mark.parametrize("bad", [np.zeros((5, 3)), np.zeros((2, 4, 4)), np.array([[0, np.nan, 0, 0]]),
                                 {"jaw": [0, 1], "lip_aperture": [0], "protrusion": [0, 0],
                                  "spread": [0, 0]},
                                 {"jaw": [0.1]}])
def test_bad_articulations_raise(bad):
    with pytest.raises(MeshtalkError):
        articulation_array(bad)


def test_bad_points_raise():
    head = _head()
    with pytest.raises(MeshtalkError):
        displace(np.zeros((3, 2)), head, np.zeros(4))


def test_articulation_forms_agree():
    head = _head()
    curves = _speechlike(12)
    arr = articulation_array(curves)
    as_dict = {k: getattr(curves, k) for k in ("jaw", "lip_aperture", "protrusion", "spread")}
    np.testing.assert_array_equal(articulation_array(as_dict), arr)
    np.testing.assert_array_equal(displace(head.verts[:50], head, arr),
                                  displace(head.verts[:50], head, curves))


def test_no_vertex_sits_on_the_mouth_line():
    """Every meshing puts each vertex on one lip: none in the field's blend across the slit."""
    from meshtalk.data.synth.scans import decimate, point_cloud, remesh, subdivide

    head = _head()
    frame = MouthFrame.of(head)
    s = head.params.scale
    meshings = [head.verts, remesh(head, 3000).verts, remesh(head, 20000, relax_iterations=0).verts,
                decimate(head, 3000).verts, subdivide(head, 1).verts, point_cloud(head, 5000).verts]
    for verts in meshings:
        q = frame.to_local(verts)
        in_mouth = (np.abs(q[:, 0]) < frame.half_width) & (q[:, 2] > -0.02 * s)
        assert in_mouth.sum() > 10
        assert np.abs(q[in_mouth, 1]).min() > 0.0004 * s
