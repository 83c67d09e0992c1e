import numpy as np
import pytest
import trimesh

from meshtalk.errors import MeshtalkError
from meshtalk.geometry.laplacian import choose_laplacian, cotan_laplacian, laplacian_and_mass
from tests.geometry.shapes import bumpy_sphere, grid


def test_cotan_on_a_hand_computed_right_triangle():
    # right isosceles triangle (0,0),(1,0),(0,1): angles 90° at v0, 45° at v1 and v2
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float)
    L, m = cotan_laplacian(v, np.array([[0, 1, 2]]))
    c45 = 1.0 / np.tan(np.pi / 4)
    expect = np.array([[c45, -c45 / 2, -c45 / 2], [-c45 / 2, c45 / 2, 0.0], [-c45 / 2, 0.0, c45 / 2]])
    np.testing.assert_allclose(L.toarray(), expect, atol=1e-12)
    np.testing.assert_allclose(m, [1 / 6] * 3)


@pytest.mark.parametrize("kind", ["cotan", "robust"])
def test_laplacian_identities(kind):
    v, f = bumpy_sphere(2000)
    L, mass, used = laplacian_and_mass(v, f, kind=kind)
    assert used == kind
    assert abs(L @ np.ones(len(v))).max() < 1e-9  # constants in the kernel
    assert abs(L - L.T).max() < 1e-12  # symmetric
    x = np.random.default_rng(0).normal(size=len(v))
    assert x @ (L @ x) > 0  # positive semi-definite (sign convention)
    area = trimesh.Trimesh(v, f, process=False).area  # independent area
    assert mass.sum() == pytest.approx(area, rel=1e-9)


def test_point_cloud_laplacian_mass_approximates_area():
    v, f = bumpy_sphere(4000)
    L, mass, used = laplacian_and_mass(v, None)
    assert used == "pointcloud"
    assert mass.sum() == pytest.approx(trimesh.Trimesh(v, f, process=False).area, rel=0.05)


def test_auto_choice():
    v, f = grid(10)
    assert choose_laplacian(v, f) == "cotan"
    assert choose_laplacian(v, None) == "pointcloud"
    # a fin: three faces on one edge -> non-manifold -> robust
    fin = np.concatenate([f, [[11, 12, len(v)]]])  # (11, 12) is interior: a third face
    vv = np.concatenate([v, [[0.05, 0.0, 0.3]]])
    assert choose_laplacian(vv, fin) == "robust"
    degenerate = np.concatenate([f, [[0, 1, 2]]])  # collinear along the first grid row
    assert choose_laplacian(v, degenerate) == "robust"
    with pytest.raises(MeshtalkError, match="needs faces"):
        laplacian_and_mass(v, None, kind="cotan")
    with pytest.raises(MeshtalkError, match="unknown Laplacian"):
        laplacian_and_mass(v, f, kind="fancy")
