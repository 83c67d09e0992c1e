import numpy as np
import pytest
import torch

from meshtalk.model.gradients import SpatialGradientFeatures, apply_vertex_operator, tangent_gradients
from tests.model._ops import ellipsoid, make_ops


@pytest.fixture(scope="module")
def mesh_ops():
    v, f = ellipsoid(3)
    return v, make_ops(v, f, 16)


def test_gradient_of_linear_field_is_its_tangent_projection(mesh_ops):
    """grad of f(x) = a.x at a vertex is a projected onto the tangent frame (up to discretisation)."""
    v, ops = mesh_ops
    a = np.array([0.3, -0.5, 0.8])
    f = torch.tensor(v @ a, dtype=torch.float32)[None, :, None]
    gx, gy = tangent_gradients(f, ops)
    frames = ops.frames.double().numpy()
    ex = frames[:, 0] @ a
    ey = frames[:, 1] @ a
    err = np.hypot(gx[0, :, 0].numpy() - ex, gy[0, :, 0].numpy() - ey)
    assert np.median(err) < 0.05 * np.linalg.norm(a)


def test_batched_operator_matches_loop(mesh_ops):
    _, ops = mesh_ops
    x = torch.randn(3, len(ops.mass), 5)
    out = apply_vertex_operator(ops.grad_x, x)
    dense = ops.grad_x.to_dense()
    for b in range(3):
        torch.testing.assert_close(out[b], dense @ x[b], atol=1e-5, rtol=1e-4)


def test_features_are_invariant_to_tangent_frame_rotation():
    """Rotating every tangent frame by the same angle rotates (gx, gy); features must not change
    for a rotation-equivariant (complex) map."""
    torch.manual_seed(0)
    feat = SpatialGradientFeatures(4, with_rotations=True)
    gx, gy = torch.randn(10, 4), torch.randn(10, 4)
    th = 0.7
    rx, ry = np.cos(th) * gx - np.sin(th) * gy, np.sin(th) * gx + np.cos(th) * gy
    torch.testing.assert_close(feat(gx, gy), feat(rx, ry), atol=1e-5, rtol=1e-5)


def test_real_map_identity_gives_tanh_squared_norm():
    feat = SpatialGradientFeatures(3, with_rotations=False)
    with torch.no_grad():
        feat.a_re.weight.copy_(torch.eye(3))
    gx, gy = torch.randn(5, 3), torch.randn(5, 3)
    torch.testing.assert_close(feat(gx, gy), torch.tanh(gx ** 2 + gy ** 2))
