"""Placement of a scan into the canonical frame: exact inverse, equivariance, overrides, warnings."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.placement import CANONICAL_DIAGONAL, Placement, estimate_placement, parse_axis


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _head_like(rng: np.random.Generator, n: int = 3000) -> np.ndarray:
    """An ellipsoid 'head' (+y up) with a bump for a nose at +z: canonical orientation."""
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    p = d * np.array([0.08, 0.12, 0.1])
    nose = np.exp(-((d[:, 0] / 0.15) ** 2 + (d[:, 1] / 0.15) ** 2)) * (d[:, 2] > 0)
    p[:, 2] += 0.03 * nose
    return p


# 90-degree rotations: columns are images of the axes (proper rotations only)
_AXIS_ROTATIONS = [
    np.eye(3),
    np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float),   # about y
    np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float),   # about x
    np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], float),   # about z
]


def test_place_then_inverse_is_identity_to_1e9():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = Placement(_random_rotation(rng), float(np.exp(rng.normal(0, 3))), rng.normal(0, 100, 3))
        x = rng.normal(0, 50, size=(500, 3))
        assert np.max(np.abs(p.from_canonical(p.to_canonical(x)) - x)) <= 1e-9 * max(1.0, np.abs(x).max())
        c = rng.normal(size=(7, 500, 3))
        assert np.allclose(p.to_canonical(p.from_canonical(c)), c, atol=1e-9, rtol=0)
        d = rng.normal(size=(4, 500, 3))
        assert np.allclose(p.vectors_from_canonical(p.vectors_to_canonical(d)), d, atol=1e-12, rtol=0)


def test_vectors_follow_points():
    """A displacement mapped as a vector equals the difference of the mapped points."""
    rng = np.random.default_rng(1)
    p = Placement(_random_rotation(rng), 3.7, rng.normal(size=3))
    x, d = rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) * 0.01
    assert np.allclose(p.to_canonical(x + d) - p.to_canonical(x), p.vectors_to_canonical(d), atol=1e-12)


def test_explicit_axes_put_the_scan_in_the_canonical_frame():
    rng = np.random.default_rng(2)
    head = _head_like(rng)
    # the scan is z-up, looking along -x, in millimetres, far away
    rot = np.array([[0, 0, -1], [-1, 0, 0], [0, 1, 0]], float)  # canonical -> scan: y->z, z->-x
    scan = head @ rot.T * 1000.0 + np.array([500.0, -20.0, 1300.0])
    p = estimate_placement(scan, up="+z", front="-x")
    c = p.to_canonical(scan)
    assert np.allclose(p.rotation[1], [0, 0, 1]) and np.allclose(p.rotation[2], [-1, 0, 0])
    lo, hi = c.min(0), c.max(0)
    assert np.allclose((lo + hi) / 2, 0, atol=1e-9)
    assert np.linalg.norm(hi - lo) == pytest.approx(CANONICAL_DIAGONAL, rel=1e-12)
    # the canonical result is the original head, normalised
    ref = head - (head.min(0) + head.max(0)) / 2
    ref *= CANONICAL_DIAGONAL / np.linalg.norm(np.ptp(head, axis=0))
    assert np.allclose(c, ref, atol=1e-9)


@pytest.mark.parametrize("rot", _AXIS_ROTATIONS)
def test_canonical_result_is_invariant_to_similarity_of_the_input(rot):
    """Rotate (by axes given explicitly), scale and move the scan: the placed scan is unchanged."""
    rng = np.random.default_rng(3)
    head = _head_like(rng)
    base = estimate_placement(head, up="+y", front="+z").to_canonical(head)
    moved = 0.01 * head @ rot.T + np.array([3.0, -4.0, 5.0])
    p = estimate_placement(moved, up=rot @ [0, 1, 0], front=rot @ [0, 0, 1])
    assert np.allclose(p.to_canonical(moved), base, atol=1e-9)


def test_scale_from_units():
    rng = np.random.default_rng(4)
    head = _head_like(rng)
    p = estimate_placement(head * 1000, up="+y", front="+z", metres_per_unit=0.001, canonical_per_metre=12.5)
    assert p.scale == pytest.approx(0.0125)
    with pytest.raises(MeshtalkError, match="--scale"):
        estimate_placement(head, up="+y", front="+z", metres_per_unit=-1.0, canonical_per_metre=1.0)
    with pytest.raises(MeshtalkError, match="units"):
        estimate_placement(head, up="+y", front="+z", metres_per_unit=1.0, canonical_per_metre=None)


def test_far_from_training_data_warns_with_the_fix():
    rng = np.random.default_rng(5)
    head = _head_like(rng)
    ref = tuple(np.ptp(estimate_placement(head, up="+y", front="+z").to_canonical(head), axis=0))
    ok = estimate_placement(head, up="+y", front="+z", reference_extent=ref)
    assert ok.warnings == ()
    flat = head * np.array([1.0, 0.2, 1.0])  # a squashed, face-only-like shape
    bad = estimate_placement(flat, up="+y", front="+z", reference_extent=ref)
    assert len(bad.warnings) == 1 and "--up" in bad.warnings[0] and "--front" in bad.warnings[0]
    wide = head * np.array([2.5, 1.0, 1.0])   # proportions off, still taller than deep
    assert any("proportions" in w for w in estimate_placement(wide, up="+y", front="+z", reference_extent=ref).warnings)
    mm = estimate_placement(head * 1000, up="+y", front="+z", metres_per_unit=1.0,
                            canonical_per_metre=CANONICAL_DIAGONAL / np.linalg.norm(np.ptp(head, axis=0)),
                            reference_extent=ref)
    assert any("--scale 0.001" in w for w in mm.warnings)


def test_parse_axis():
    assert np.allclose(parse_axis("+y"), [0, 1, 0])
    assert np.allclose(parse_axis("-Z"), [0, 0, -1])
    assert np.allclose(parse_axis("x"), [1, 0, 0])
    assert np.allclose(parse_axis("0,3,4"), [0, 0.6, 0.8])
    assert parse_axis(None) is None
    for bad in ("up", "0,0", "0,0,0", "nan,1,0", [1, 2]):
        with pytest.raises(MeshtalkError):
            parse_axis(bad)


def test_bad_input_is_refused():
    rng = np.random.default_rng(6)
    head = _head_like(rng, 200)
    with pytest.raises(MeshtalkError, match="parallel"):
        estimate_placement(head, up="+y", front="-y")
    bad = head.copy()
    bad[3, 1] = np.nan
    with pytest.raises(MeshtalkError, match="NaN"):
        estimate_placement(bad, up="+y", front="+z")
    with pytest.raises(MeshtalkError, match=r"\(V, 3\)"):
        estimate_placement(head[:, :2])
    with pytest.raises(MeshtalkError, match="zero extent"):
        estimate_placement(np.ones((10, 3)), up="+y", front="+z")
    with pytest.raises(MeshtalkError, match="rotation"):
        Placement(np.diag([1.0, 1.0, -1.0]), 1.0, np.zeros(3))   # a reflection
    with pytest.raises(MeshtalkError, match="scale"):
        Placement(np.eye(3), 0.0, np.zeros(3))


@pytest.fixture(scope="module")
def demo_head():
    from meshtalk.geometry import load_mesh

    from pathlib import Path

    m = load_mesh(Path(__file__).resolve().parents[1] / "data" / "demo" / "head.obj")
    return m.verts, m.faces


@pytest.mark.parametrize("rot", _AXIS_ROTATIONS[1:])
def test_estimated_orientation_of_a_rotated_head(demo_head, rot):
    """The demo head (held out, +y up, face +z) turned by 90 degrees: the estimate undoes it."""
    verts, faces = demo_head
    p0 = estimate_placement(verts, faces)
    assert np.allclose(p0.rotation, np.eye(3))
    turned = verts @ rot.T * 25.4 + 7.0
    p = estimate_placement(turned, faces)
    assert np.allclose(p.rotation, rot.T, atol=1e-12)
    assert np.allclose(p.to_canonical(turned), p0.to_canonical(verts), atol=1e-9)


@pytest.mark.parametrize("n", [1200, 3000])
def test_coarse_scans_keep_their_up_axis(n):
    """Coarse meshes can fool the lip-valley up cue; an axis-aligned scan keeps +y (or +z) up."""
    from tests.cli._fixtures import small_head

    verts, faces = small_head(n)
    assert np.allclose(estimate_placement(verts, faces).rotation, np.eye(3))
    z_up = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float)   # y -> z, z -> -y
    p = estimate_placement(verts @ z_up.T, faces)
    assert np.allclose(p.rotation, z_up.T)


def test_a_scan_placed_on_its_back_warns():
    """Up and front swapped (deeper than tall in the estimated frame): a warning with the fix."""
    rng = np.random.default_rng(7)
    head = _head_like(rng)
    ref = tuple(np.ptp(estimate_placement(head, up="+y", front="+z").to_canonical(head), axis=0))
    p = estimate_placement(head, up="+z", front="-y", reference_extent=ref)
    assert any("--up and --front" in w for w in p.warnings)
