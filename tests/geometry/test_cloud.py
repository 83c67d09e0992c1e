"""Point-cloud neighbourhoods and the facing-pair cut, against analytic spectra."""

import dataclasses

import numpy as np
import pytest

from meshtalk.geometry import compute_operators
from meshtalk.geometry.cache import operator_key
from meshtalk.geometry.cloud import cloud_neighbors, facing_pairs, knn, local_triangulations
from meshtalk.geometry.gradients import knn_neighbors
from meshtalk.geometry.laplacian import point_cloud_laplacian
from meshtalk.geometry.operators import OperatorSettings
from tests.geometry.shapes import fibonacci_sphere


def _square(n: int, z: float, seed: int) -> np.ndarray:
    """``n`` jittered-grid points of the unit square at height ``z``."""
    m = int(round(n ** 0.5))
    g = (np.stack(np.meshgrid(np.arange(m), np.arange(m), indexing="ij"), -1).reshape(-1, 2) + 0.5) / m
    g += np.random.default_rng(seed).uniform(-0.3, 0.3, g.shape) / m
    return np.concatenate([g, np.full((len(g), 1), z)], axis=1)


def _square_eigenvalues(count: int) -> np.ndarray:
    """Neumann eigenvalues of the unit square, pi^2 (a^2 + b^2), ascending."""
    vals = sorted(np.pi ** 2 * (a * a + b * b) for a in range(8) for b in range(8))
    return np.array(vals[:count])


def test_nothing_is_cut_on_a_sphere_and_its_spectrum_is_the_analytic_one():
    v, _ = fibonacci_sphere(3000)
    assert not facing_pairs(v, v, knn(v, 30)).any()             # convex: every chord runs behind
    ops = compute_operators(v, None, k=9, normals=v, cut_facing=True)
    expect = [0, 2, 2, 2, 6, 6, 6, 6, 6]                          # l (l + 1), multiplicity 2l + 1
    np.testing.assert_allclose(ops.evals.numpy(), expect, atol=0.15)


def test_flat_square_spectrum_with_the_cut_matches_the_neumann_one():
    p = _square(1600, 0.0, seed=1)
    nrm = np.tile([0.0, 0.0, 1.0], (len(p), 1))
    assert not facing_pairs(p, nrm, knn(p, 30)).any()            # a plane: every chord in it
    ops = compute_operators(p, None, k=6, normals=nrm, cut_facing=True)
    expect = _square_eigenvalues(6)                              # 0, pi^2, pi^2, 2 pi^2, 4 pi^2, 4 pi^2
    np.testing.assert_allclose(ops.evals.numpy()[1:], expect[1:], rtol=0.05)
    assert abs(ops.evals[0]) < 1e-6


def test_two_facing_sheets_closer_than_the_neighbourhood_come_apart():
    # two unit squares 0.02 apart (points 0.025 apart: 30 neighbours reach across), normals facing
    bottom, top = _square(1600, 0.0, seed=2), _square(1600, 0.02, seed=3)
    p = np.concatenate([bottom, top])
    nrm = np.concatenate([np.tile([0.0, 0.0, 1.0], (1600, 1)), np.tile([0.0, 0.0, -1.0], (1600, 1))])
    side = np.repeat([0, 1], 1600)
    src, dst = knn_neighbors(p, 30)
    assert (side[src] != side[dst]).mean() > 0.3                 # the plain neighbourhoods mix the sheets
    src, dst = knn_neighbors(p, 30, normals=nrm, cut_facing=True)
    assert (side[src] == side[dst]).all() and len(src) > 20 * len(p)
    L, _ = point_cloud_laplacian(p, normals=nrm, cut_facing=True)
    assert abs(L[side == 0][:, side == 1]).max() == 0            # no Laplacian weight across the gap
    cut = compute_operators(p, None, k=4, normals=nrm, cut_facing=True).evals.numpy()
    joined = compute_operators(p, None, k=4, normals=nrm).evals.numpy()
    assert cut[1] < 1e-6 * cut[2]                                # two components: two zero eigenvalues
    np.testing.assert_allclose(cut[2:4], [np.pi ** 2] * 2, rtol=0.05)  # each sheet's own first mode
    assert joined[1] > 1.0                                       # joined: one surface


def test_a_smooth_concave_surface_keeps_its_pairs():
    # the inside of a cylinder of radius 1 (normals inward), points about 0.05 apart: a chord of
    # the 30-neighbour radius (~0.15) leaves the tangent plane at ~0.08, far below the cut's 0.3
    t = np.random.default_rng(4).uniform(0, 2 * np.pi, 4000)
    z = np.random.default_rng(5).uniform(0, 2.0, 4000)
    p = np.stack([np.cos(t), np.sin(t), z], 1)
    inward = -np.stack([np.cos(t), np.sin(t), 0 * t], 1)
    assert not facing_pairs(p, inward, knn(p, 30)).any()


def test_the_cut_is_symmetric_and_local_triangles_use_kept_pairs_only():
    bottom, top = _square(400, 0.0, seed=6), _square(400, 0.04, seed=7)
    p = np.concatenate([bottom, top])
    nrm = np.concatenate([np.tile([0.0, 0.0, 1.0], (400, 1)), np.tile([0.0, 0.0, -1.0], (400, 1))])
    nb = knn(p, 20)
    cut = facing_pairs(p, nrm, nb)
    pairs = {(i, int(j)) for i in range(len(p)) for j, c in zip(nb[i], cut[i]) if c}
    assert pairs and all((j, i) in pairs for i, j in pairs if i in nb[j])
    soup = local_triangulations(p, nrm, cloud_neighbors(p, 20, normals=nrm, cut_facing=True))
    assert (soup < 400).all(axis=1).sum() + (soup >= 400).all(axis=1).sum() == len(soup)


def test_the_cut_needs_normals_and_is_off_for_meshes_and_estimated_normals():
    v, f = fibonacci_sphere(500)
    with pytest.raises(ValueError, match="needs normals"):
        cloud_neighbors(v, 10, cut_facing=True)
    plain = compute_operators(v, f, k=5)
    asked = compute_operators(v, f, k=5, cut_facing=True)        # a mesh: ignored
    np.testing.assert_array_equal(plain.evals.numpy(), asked.evals.numpy())
    est = compute_operators(v, None, k=5)
    asked = compute_operators(v, None, k=5, cut_facing=True)     # no given normals: ignored
    np.testing.assert_array_equal(est.evals.numpy(), asked.evals.numpy())


def test_cache_keys_without_the_cut_are_the_old_ones():
    @dataclasses.dataclass(frozen=True)
    class Before:            # OperatorSettings as it was before cut_facing existed
        k: int = 128
        laplacian: str = "auto"
        eigen_method: str = "auto"
        tol: float = 1e-6
        n_neighbors: int = 30
        mollify_factor: float = 1e-5

    v, _ = fibonacci_sphere(100)
    assert operator_key(v, None, OperatorSettings(), v) == operator_key(v, None, Before(), v)
    assert operator_key(v, None, OperatorSettings(cut_facing=True), v) != operator_key(v, None, Before(), v)


def _crease(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A right-angle concave crease: the unit floor (normal +z) and a unit wall at x = 0 (normal +x)."""
    floor = _square(n, 0.0, seed=seed)
    wall = _square(n, 0.0, seed=seed + 1)[:, [2, 0, 1]]          # x = 0, (y, z) over the unit square
    p = np.concatenate([floor, wall])
    nrm = np.concatenate([np.tile([0.0, 0.0, 1.0], (n, 1)), np.tile([1.0, 0.0, 0.0], (n, 1))])
    return p, nrm


def test_the_opposed_rule_parts_facing_sheets_but_keeps_a_concave_crease_joined():
    # facing sheets: the normals point apart (n_i . n_j = -1), so both rules cut every pair across
    bottom, top = _square(900, 0.0, seed=8), _square(900, 0.03, seed=9)
    p = np.concatenate([bottom, top])
    nrm = np.concatenate([np.tile([0.0, 0.0, 1.0], (900, 1)), np.tile([0.0, 0.0, -1.0], (900, 1))])
    side = np.repeat([0, 1], 900)
    src, dst = knn_neighbors(p, 30, normals=nrm, cut_facing=True, cut_rule="opposed")
    assert (side[src] == side[dst]).all() and len(src) > 20 * len(p)
    ev = compute_operators(p, None, k=3, normals=nrm, cut_facing=True, cut_rule="opposed").evals.numpy()
    assert ev[1] < 1e-6 * ev[2]                                  # two components
    # a right-angle crease: the chord from the floor to the wall leaves the floor's tangent plane
    # by up to 90 degrees, so the full rule cuts pairs there; the normals are 90 degrees apart,
    # not opposed, so the opposed rule keeps the surface in one piece
    p, nrm = _crease(900, seed=10)
    nb = knn(p, 30)
    assert facing_pairs(p, nrm, nb).sum() > 100
    assert not facing_pairs(p, nrm, nb, rule="opposed").any()
    with pytest.raises(ValueError, match="unknown cut rule"):
        facing_pairs(p, nrm, nb, rule="sideways")


def test_cut_rule_keys_the_cache_only_when_it_changes_the_operators():
    v, _ = fibonacci_sphere(100)
    key = lambda **kw: operator_key(v, None, OperatorSettings(**kw), v)  # noqa: E731
    assert key(cut_facing=True, cut_rule="full") == key(cut_facing=True)          # the keys before the rule
    assert key(cut_facing=True, cut_rule="opposed") != key(cut_facing=True)
    assert key(cut_rule="opposed") == key()                                       # no cut: no rule
    from meshtalk.errors import MeshtalkError
    with pytest.raises(MeshtalkError, match="unknown cut rule"):
        OperatorSettings(cut_rule="sideways")


def test_the_model_configs_cut_rules_are_the_geometrys():
    import typing

    from meshtalk.geometry.cloud import CUT_RULES
    from meshtalk.model.config import CutRule

    assert typing.get_args(CutRule) == CUT_RULES
