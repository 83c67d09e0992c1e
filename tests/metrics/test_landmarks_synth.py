"""Lip landmarks and the face frame on the data engine's procedural heads and their meshings.

Ground truth comes from the data engine, not from ``landmarks.py``: each head's own mouth
landmarks (:class:`meshtalk.data.synth.heads.MouthLandmarks`), its signed distance function (lip
points at the documented offset are found by bisection along rays on it), and each meshing's own
mouth opening (the lateral ends of the boundary loop that ``cut_mouth`` leaves between the lips).
"""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.metrics.landmarks import LANDMARK_NAMES, estimate_face_frame, find_lip_landmarks
from tests.metrics.heads import random_rotation

pytest.importorskip("skimage")
pytest.importorskip("fast_simplification")

#: The issue's tolerance: 2 mm (the synthetic mouths are 44-49 mm wide, so 2 % is about 1 mm).
TOL = 0.002
#: Meshings checked besides the template (remeshings coarser than ~20k vertices do not resolve the
#: mouth to 2 mm; see docs/metrics.md).
MESHINGS = (
    ("remesh", {"target_vertices": 20000}),
    ("decimate", {"target_vertices": 4000}),
    ("subdivide", {"levels": 1}),
    ("noise", {"sigma": 0.0003, "seed": 0}),
    ("holes", {"count": 4, "seed": 0}),
)


@pytest.fixture(scope="module", params=[7, 0], ids=lambda s: f"head{s}")
def head_meshings(request):
    from meshtalk.data.synth.heads import make_head
    from meshtalk.data.synth.scans import make_scan

    head = make_head(request.param)
    out = [("template", head.verts, head.faces)]
    for kind, kw in MESHINGS:
        scan = make_scan(head, kind, **kw)
        out.append((scan.name, scan.verts, scan.faces))
    return head, out


def _surface_below(head, xy: np.ndarray) -> np.ndarray:
    """Front-most surface points of the head's SDF at ``xy (N, 2)``: bisection along -z rays."""
    n = xy.shape[0]
    ts = np.linspace(0.0, 0.4, 801)
    origin = np.column_stack([xy, np.full(n, 0.3)])
    pts = origin[:, None, :] - ts[None, :, None] * np.array([0.0, 0.0, 1.0])
    inside = head.sdf(pts.reshape(-1, 3)).reshape(n, -1) < 0
    first = np.argmax(inside, axis=1)
    lo, hi = ts[first - 1], ts[first]
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        out = head.sdf(origin - mid[:, None] * np.array([0.0, 0.0, 1.0])) > 0
        lo, hi = np.where(out, mid, lo), np.where(out, hi, mid)
    return origin - (0.5 * (lo + hi))[:, None] * np.array([0.0, 0.0, 1.0])


def _opening_ends(verts: np.ndarray, faces: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(2, 3) right and left ends of the mesh's mouth opening (boundary vertices near the mouth)."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    b = verts[np.unique(uniq[counts == 1])]
    b = b[(np.abs(b[:, 0] - centre[0]) < 0.03) & (np.abs(b[:, 1] - centre[1]) < 0.01) & (b[:, 2] > centre[2] - 0.02)]
    return np.stack([b[np.argmin(b[:, 0])], b[np.argmax(b[:, 0])]])


def test_landmarks_on_synthetic_heads_and_meshings(head_meshings):
    head, meshings = head_meshings
    true = head.landmarks
    width = float(np.linalg.norm(true.left_corner - true.right_corner))
    centre = true.mouth_center
    for name, verts, faces in meshings:
        lm = find_lip_landmarks(verts, faces)
        where = f"{head.name}/{name}"
        # lip midpoints: on the engine's surface, lip_offset (12 %) of the mouth width above and
        # below the true mouth centre
        expect = _surface_below(head, np.array([[centre[0], centre[1] + 0.12 * width],
                                                [centre[0], centre[1] - 0.12 * width]]))
        err = np.linalg.norm(lm.positions[2:4] - expect, axis=1)
        assert err.max() < TOL, f"{where}: lip midpoints off by {np.round(err * 1e3, 2)} mm"
        # corners: the ends of this meshing's own mouth opening (2 mm) ...
        ends = _opening_ends(verts, faces, centre)
        err = np.linalg.norm(lm.positions[:2] - ends, axis=1)
        assert err.max() < TOL, f"{where}: corners {np.round(err * 1e3, 2)} mm from the opening's ends"
        # ... which the engine cuts a little wider than its corner landmarks (0.97 of the slit's
        # half-width; the cut reaches ~1.05 of it, plus up to half an edge)
        err = np.linalg.norm(lm.positions[:2] - np.stack([true.right_corner, true.left_corner]), axis=1)
        assert err.max() < 0.005, f"{where}: corners {np.round(err * 1e3, 2)} mm from the head's own"
        assert lm.mouth_width == pytest.approx(width, rel=0.15), where
        # the stomion sits on the lip line, half-way between the corners (within 3 mm of the
        # engine's mouth centre, lateral and vertical: its depth in an open mouth is not defined)
        assert np.linalg.norm(lm["stomion"][:2] - centre[:2]) < 0.003, where
        assert lm["upper_lip"][1] > centre[1] > lm["lower_lip"][1], where


def test_same_surface_point_across_meshings(head_meshings):
    """The issue's criterion: landmarks within 2 mm of the template's, on the meshings whose mouth
    opening is the template's (subdivision, noise, holes) and on a 20k remeshing. (The quadric
    decimation's opening ends up to 3.2 mm from the template's, so its corners do too.)"""
    head, meshings = head_meshings
    ref = find_lip_landmarks(head.verts, head.faces)
    for name, verts, faces in meshings[1:]:
        if name.startswith("decimate"):
            continue
        lm = find_lip_landmarks(verts, faces)
        err = np.linalg.norm(lm.positions[:4] - ref.positions[:4], axis=1)
        assert err.max() < TOL, f"{head.name}/{name}: {dict(zip(LANDMARK_NAMES, np.round(err * 1e3, 2)))} mm"


def test_face_frame_of_rotated_and_subdivided_synthetic_scans(head_meshings):
    head, meshings = head_meshings
    by_name = {name: (v, f) for name, v, f in meshings}
    for name in ("template", "subdivide_1"):
        v, f = by_name[name]
        for seed in (None, 3):
            rot = np.eye(3) if seed is None else random_rotation(seed)
            frame = estimate_face_frame(v @ rot.T + np.array([0.5, -0.2, 0.1]), f)
            # +y up and +z forward in the head's own coordinates, within 3 degrees
            assert frame.up @ rot[:, 1] > np.cos(np.radians(3)), f"{head.name}/{name} rot {seed}: up {frame.up}"
            assert frame.forward @ rot[:, 2] > np.cos(np.radians(3)), f"{head.name}/{name} rot {seed}: fwd {frame.forward}"
