"""Chamfer, Hausdorff, kernel distance and the chunked kNN: hand values, naive loops, devices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from meshtalk.errors import MeshtalkError
from meshtalk.metrics.pointsets import (
    chamfer_distance,
    frame_distances,
    hausdorff_distance,
    kernel_distance,
    knn,
    nearest,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
BACKENDS = ["torch", "kdtree", "auto"]


def naive_nn(x, y):
    return [min(sum((a - b) ** 2 for a, b in zip(p, q)) for q in y) for p in x]


def naive_chamfer(x, y):
    dxy, dyx = naive_nn(x, y), naive_nn(y, x)
    return sum(dxy) / len(dxy) + sum(dyx) / len(dyx)


def naive_hausdorff(x, y):
    return math.sqrt(max(max(naive_nn(x, y)), max(naive_nn(y, x))))


def naive_varifold_sq(vx, fx, vy, fy, sigma):
    def measure(v, f):
        out = []
        for tri in f:
            a, b, c = (np.array(v[i], dtype=float) for i in tri)
            cr = np.cross(b - a, c - a)
            area2 = math.sqrt(float(cr @ cr))
            out.append(((a + b + c) / 3, cr / area2, area2 / 2))
        return out

    def inner(m1, m2):
        s = 0.0
        for c1, n1, w1 in m1:
            for c2, n2, w2 in m2:
                d2 = float((c1 - c2) @ (c1 - c2))
                s += w1 * w2 * math.exp(-d2 / sigma**2) * float(n1 @ n2) ** 2
        return s

    mx, my = measure(vx, fx), measure(vy, fy)
    return inner(mx, mx) - 2 * inner(mx, my) + inner(my, my)


def test_hand_computed_values():
    x = np.array([[0.0, 0, 0]])
    y = np.array([[1.0, 0, 0], [3.0, 0, 0]])
    assert chamfer_distance(x, y) == pytest.approx(1 + (1 + 9) / 2)
    assert chamfer_distance(x, y, squared=False) == pytest.approx(1 + (1 + 3) / 2)
    assert hausdorff_distance(x, y) == pytest.approx(3.0)
    # point-set kernel distance: ||δ0 - δd||² = 2 - 2 exp(-d²/σ²)
    d, s = 0.5, 0.7
    assert kernel_distance(x, x + [d, 0, 0], sigma=s) == pytest.approx(math.sqrt(2 - 2 * math.exp(-(d**2) / s**2)))
    # varifold: a triangle against its translate by d: area² · 2(1 - exp(-d²/σ²))
    v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    f = np.array([[0, 1, 2]])
    got = kernel_distance(v, v + [0, 0, d], sigma=s, faces_x=f, faces_y=f)
    assert got == pytest.approx(0.5 * math.sqrt(2 * (1 - math.exp(-(d**2) / s**2))))
    # unoriented (binet) kernel ignores a flipped normal, the oriented current does not
    assert kernel_distance(v, v, sigma=s, faces_x=f, faces_y=f[:, ::-1]) == pytest.approx(0.0, abs=1e-12)
    assert kernel_distance(v, v, sigma=s, faces_x=f, faces_y=f[:, ::-1], kind="current") == pytest.approx(1.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_against_naive_loops(backend, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(37, 3)), rng.normal(size=(52, 3))
    assert chamfer_distance(x, y, backend=backend, max_block=100) == pytest.approx(naive_chamfer(x, y), rel=1e-12)
    assert hausdorff_distance(x, y, backend=backend, max_block=100) == pytest.approx(naive_hausdorff(x, y), rel=1e-12)


def test_knn_matches_sorting_and_chunking_is_invisible():
    rng = np.random.default_rng(2)
    q, r = rng.normal(size=(300, 3)), rng.normal(size=(500, 3))
    full = ((q[:, None] - r[None]) ** 2).sum(-1)
    ref_idx = np.argsort(full, axis=1)[:, :4]
    for backend in ("torch", "kdtree"):
        for block in (200, 5000, 1 << 23):
            d, i = knn(q, r, 4, backend=backend, max_block=block)
            assert np.array_equal(i.numpy(), ref_idx)
            assert d.numpy() == pytest.approx(np.take_along_axis(full, ref_idx, 1), rel=1e-12)
    d1, i1 = nearest(q, r)
    assert d1.shape == (300,) and np.array_equal(i1.numpy(), ref_idx[:, 0])


def test_kernel_distance_against_naive_loops_and_chunking():
    rng = np.random.default_rng(3)
    vx, vy = rng.normal(size=(12, 3)), rng.normal(size=(9, 3))
    fx, fy = rng.choice(12, (15, 3), replace=True), rng.choice(9, (10, 3), replace=True)
    fx = fx[[len(set(t)) == 3 for t in fx]]
    fy = fy[[len(set(t)) == 3 for t in fy]]
    ref = math.sqrt(max(naive_varifold_sq(vx, fx, vy, fy, 0.8), 0.0))
    for block in (3, 50, 1 << 23):
        assert kernel_distance(vx, vy, sigma=0.8, faces_x=fx, faces_y=fy, max_block=block) == pytest.approx(ref, rel=1e-10)
    # point sets: MMD with uniform weights
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(15, 3)) + 0.3
    k = lambda a, b: sum(math.exp(-sum((p - q) ** 2) / 0.5**2) for p in a for q in b)  # noqa: E731
    mmd2 = k(x, x) / 400 + k(y, y) / 225 - 2 * k(x, y) / 300
    assert kernel_distance(x, y, sigma=0.5, max_block=17) == pytest.approx(math.sqrt(mmd2), rel=1e-10)


def test_metric_properties_on_meshes(head):
    v, f = np.asarray(head.vertices)[::4], None
    assert chamfer_distance(v, v) == 0.0 and hausdorff_distance(v, v) == 0.0
    moved = v + [0.001, 0, 0]
    assert hausdorff_distance(v, moved) <= 0.001 + 1e-12
    assert kernel_distance(v[:2000], moved[:2000], sigma=0.01) > 0
    assert f is None


@pytest.mark.parametrize("device", DEVICES)
def test_tensor_input_gives_differentiable_tensor(device):
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.normal(size=(40, 3)), device=device, requires_grad=True)
    y = torch.tensor(rng.normal(size=(30, 3)), device=device)
    cd = chamfer_distance(x, y, backend="torch", max_block=64)
    assert isinstance(cd, torch.Tensor) and cd.device.type == device
    cd.backward()
    # analytic gradient of the x->y term plus the y->x term, by finite differences
    eps = 1e-6
    xn = x.detach().cpu().numpy()
    yn = y.cpu().numpy()
    i, c = 5, 1
    xp, xm = xn.copy(), xn.copy()
    xp[i, c] += eps
    xm[i, c] -= eps
    fd = (naive_chamfer(xp, yn) - naive_chamfer(xm, yn)) / (2 * eps)
    assert x.grad[i, c].item() == pytest.approx(fd, rel=1e-5, abs=1e-8)
    assert isinstance(kernel_distance(x, y, sigma=1.0), torch.Tensor)
    assert hausdorff_distance(x.detach(), y).item() == pytest.approx(naive_hausdorff(xn, yn), rel=1e-12)


def test_frame_distances_per_frame():
    rng = np.random.default_rng(6)
    p = rng.normal(size=(3, 25, 3))
    g = rng.normal(size=(3, 30, 3))
    fd = frame_distances(p, g, sigma=0.5)
    for t in range(3):
        assert fd.chamfer[t] == pytest.approx(naive_chamfer(p[t], g[t]), rel=1e-12)
        assert fd.hausdorff[t] == pytest.approx(naive_hausdorff(p[t], g[t]), rel=1e-12)
    assert fd.kernel.shape == (3,) and fd.sigma == 0.5
    sub = frame_distances(p, g, max_points=10)
    assert sub.kernel is None and sub.chamfer.shape == (3,)
    with pytest.raises(MeshtalkError, match="equal T"):
        frame_distances(p, g[:2])


def test_validation():
    good = np.zeros((4, 3))
    for bad in (np.zeros((0, 3)), np.zeros(3), np.array([[np.nan, 0, 0]]), np.array([["a", "b", "c"]])):
        with pytest.raises(MeshtalkError):
            chamfer_distance(bad, good)
    with pytest.raises(MeshtalkError, match="dimension"):
        knn(np.zeros((3, 2)), good)
    with pytest.raises(MeshtalkError, match="k must be"):
        knn(good, good, k=5)
    with pytest.raises(MeshtalkError, match="unknown backend"):
        knn(good, good, backend="faiss")
    with pytest.raises(MeshtalkError, match="sigma"):
        kernel_distance(good, good, sigma=0)
    with pytest.raises(MeshtalkError, match="both meshes or for neither"):
        kernel_distance(good, good, sigma=1, faces_x=np.array([[0, 1, 2]]))
    with pytest.raises(MeshtalkError, match="out of range"):
        kernel_distance(good, good, sigma=1, faces_x=np.array([[0, 1, 9]]), faces_y=np.array([[0, 1, 2]]))
    with pytest.raises(MeshtalkError, match="kind"):
        kernel_distance(good, good, sigma=1, kind="normal")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(3000, 3)), rng.normal(size=(2000, 3))
    cpu = chamfer_distance(x, y, backend="torch")
    gpu = chamfer_distance(x, y, backend="torch", device="cuda")
    assert gpu == pytest.approx(cpu, rel=1e-12)
    assert kernel_distance(x, y, sigma=0.3, device="cuda") == pytest.approx(kernel_distance(x, y, sigma=0.3), rel=1e-10)
