import numpy as np
import pytest
import torch

from meshtalk.errors import MeshtalkError
from meshtalk.geometry import eigen
from meshtalk.geometry.operators import compute_operators
from tests.geometry.shapes import bumpy_sphere, fibonacci_sphere


def _check(ops, n):
    assert ops.mass.shape == (n,) and ops.evecs.shape[0] == n and ops.frames.shape == (n, 3, 3)
    assert ops.L.layout == torch.sparse_csr and ops.grad_x.shape == (n, n)
    for t in (ops.mass, ops.evals, ops.evecs, ops.frames):
        assert t.dtype == torch.float32 and torch.isfinite(t).all()
    m = ops.mass.double()
    gram = ops.evecs.double().T @ (m[:, None] * ops.evecs.double())
    assert (gram - torch.eye(ops.k, dtype=torch.float64)).abs().max() < 1e-4


def test_mesh_operators():
    v, f = bumpy_sphere(2500)
    ops = compute_operators(v, f, 32)
    _check(ops, 2500)
    assert ops.laplacian == "cotan"
    assert float(ops.residuals.max()) < 1e-4
    ones = torch.ones(2500, 1)
    assert (ops.L @ ones).abs().max() < 1e-4


def test_point_cloud_operators_approximate_the_sphere_spectrum():
    v, _ = fibonacci_sphere(4000)
    ops = compute_operators(v, None, 16)
    _check(ops, 4000)
    assert ops.laplacian == "pointcloud"
    np.testing.assert_allclose(ops.evals[1:4].numpy(), 2.0, rtol=0.05)
    np.testing.assert_allclose(ops.evals[4:9].numpy(), 6.0, rtol=0.05)


def test_raw_scan_with_fin_degenerate_faces_and_unused_vertices():
    v, f = bumpy_sphere(2000)
    n = len(v)
    v = np.concatenate([v, [[5.0, 5.0, 5.0]], [[0.0, 0.0, 1.6]]])
    f = np.concatenate([f, [[0, 1, 0]], [[f[0, 0], f[0, 1], n + 1]], [[3, 4, 5]]])  # degenerate, fin, ...
    ops = compute_operators(v, f, 24)
    _check(ops, n + 2)
    assert ops.laplacian == "robust"
    assert ops.mass[n] == 0  # the unused vertex is a passenger
    nearest = int(np.argmin(np.linalg.norm(v[:n] - v[n], axis=1)))
    assert torch.equal(ops.evecs[n], ops.evecs[nearest])


def test_huge_scan_is_refused_up_front(monkeypatch):
    monkeypatch.setattr(eigen, "available_memory_bytes", lambda: 2 * 2**30)
    with pytest.raises(MeshtalkError, match="decimate") as exc:
        eigen.check_memory(2_000_000, 128, name="scan.ply")
    assert "GiB" in str(exc.value) and "scan.ply" in str(exc.value)
    eigen.check_memory(5_000, 128)  # small meshes pass


@pytest.mark.slow
def test_two_million_vertex_scan_is_refused_before_any_heavy_allocation(monkeypatch):
    from tests.geometry.shapes import grid

    v, f = grid(1415)  # 2,002,225 vertices, 4M faces
    monkeypatch.setattr(eigen, "available_memory_bytes", lambda: 22 * 2**30)  # this machine class
    with pytest.raises(MeshtalkError, match=r"2002225 vertices need about .* GiB .* decimate"):
        compute_operators(v, f, 128, name="scan2M.ply")


def test_given_normals_build_the_frames_and_key_the_cache(tmp_path):
    from meshtalk.geometry.cache import operator_key
    from meshtalk.geometry.operators import OperatorSettings

    v, _ = fibonacci_sphere(800)
    exact = v / np.linalg.norm(v, axis=1, keepdims=True)       # the sphere's true normals
    tilted = exact + 0.3 * np.roll(exact, 1, axis=1)
    ops = compute_operators(v, None, 16, normals=3.0 * tilted, cache=tmp_path)
    want = tilted / np.linalg.norm(tilted, axis=1, keepdims=True)
    np.testing.assert_allclose(ops.frames[:, 2].numpy(), want, atol=1e-6)
    # the frames stay orthonormal about the given normal
    f = ops.frames.double()
    torch.testing.assert_close(f @ f.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(800, 3, 3),
                               atol=1e-6, rtol=0)
    # estimated normals on a sphere's points are the radial ones, up to the sampling
    est = compute_operators(v, None, 16, cache=tmp_path)
    assert np.min(np.abs(np.einsum("vd,vd->v", est.frames[:, 2].numpy(), exact))) > 0.99
    # a cache entry per set of normals; no normals keeps the key it always had
    settings = OperatorSettings(k=16, laplacian="auto", eigen_method="auto", tol=1e-6, n_neighbors=30,
                                mollify_factor=1e-5)
    assert operator_key(v, None, settings) == operator_key(v, None, settings, None)
    assert operator_key(v, None, settings, want) != operator_key(v, None, settings)
    again = compute_operators(v, None, 16, normals=3.0 * tilted, cache=tmp_path)
    torch.testing.assert_close(again.frames, ops.frames)
    with pytest.raises(MeshtalkError, match="normals"):
        compute_operators(v, None, 16, normals=np.zeros_like(v))
    with pytest.raises(MeshtalkError, match="shape"):
        compute_operators(v, None, 16, normals=v[:10])
