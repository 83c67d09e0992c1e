"""Point-to-surface residuals against analytic surfaces (spheres, planes) and a loop oracle."""

import numpy as np
import pytest
import torch

from meshtalk.train.losses import chamfer_loss, surface_loss
from meshtalk.train.surface_distance import knn_masked, local_quadric_residual
from tests.model._ops import ellipsoid, ellipsoid_fibonacci


def _fibonacci_sphere(n):
    i = np.arange(n) + 0.5
    phi, theta = np.arccos(1 - 2 * i / n), np.pi * (1 + 5 ** 0.5) * i
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], 1)


def _icosphere(subdivisions):
    import trimesh

    return np.asarray(trimesh.creation.icosphere(subdivisions=subdivisions).vertices)


def test_residual_is_the_distance_to_a_sphere_sampled_another_way():
    """Queries at radius 1 + delta against samples of the unit sphere: |r| = |delta| (analytic),
    whereas the nearest-sample distance is dominated by the sample spacing."""
    samples = torch.tensor(_fibonacci_sphere(2000))[None]
    dirs = _icosphere(3)
    for delta in (0.0, 0.01, -0.02):
        queries = torch.tensor(dirs * (1 + delta))[None]
        r = local_quadric_residual(queries, samples, k=8)
        assert torch.allclose(r.abs(), torch.full_like(r, abs(delta)), atol=2e-4), (delta, r.abs().max())
    nearest = torch.cdist(torch.tensor(dirs)[None], samples).min(-1).values
    assert nearest.mean() > 0.01                          # what Chamfer would see for delta = 0


def test_correct_deformation_on_another_meshing_has_near_zero_loss():
    """The same smooth deformation applied to two meshings of one ellipsoid: the surface loss is
    tiny next to the neutral prediction's, Chamfer is not."""
    from tests.model._synth import mouth_field

    v, f = ellipsoid(3)
    vr, fr = ellipsoid_fibonacci(1500)
    pred = torch.tensor(v + 2 * mouth_field(v, f))[None]
    target = torch.tensor(vr + 2 * mouth_field(vr, fr))[None]
    neutral = torch.tensor(v)[None]
    correct, wrong = surface_loss(pred, target), surface_loss(neutral, target)
    assert correct < 0.01 * wrong, (correct, wrong)
    assert chamfer_loss(pred, target) > wrong              # Chamfer's sampling bias hides the motion


def test_plane_is_exact_and_padding_is_never_a_sample():
    rng = np.random.default_rng(0)
    xy = rng.uniform(-1, 1, (2, 60, 2))
    samples = np.concatenate([xy, np.zeros((2, 60, 1))], -1)          # the plane z = 0
    queries = np.concatenate([rng.uniform(-0.5, 0.5, (2, 7, 2)), rng.normal(0, 0.1, (2, 7, 1))], -1)
    lengths = torch.tensor([60, 25])
    padded = torch.tensor(samples)
    padded[1, 25:] = torch.tensor([0.0, 0.0, 0.3])                     # off the plane: must not be used
    r = local_quadric_residual(torch.tensor(queries), padded, lengths, k=10)
    assert torch.allclose(r.abs(), torch.tensor(np.abs(queries[..., 2])), atol=1e-9)
    idx = knn_masked(torch.tensor(queries), padded, lengths, 10)
    assert int(idx[1].max()) < 25


def test_gradients_match_finite_differences():
    """Exact for the queries on a curved surface; exact for the samples where the fit is exact
    (a plane), since the frame held constant then has no first-order effect."""
    rng = np.random.default_rng(1)
    sphere = torch.tensor(_fibonacci_sphere(80) * (1 + 0.01 * rng.standard_normal((80, 1))))[None]
    queries = torch.tensor(_fibonacci_sphere(5) * 1.02)[None].requires_grad_(True)
    assert torch.autograd.gradcheck(lambda q: local_quadric_residual(q, sphere, k=9), (queries,),
                                    eps=1e-7, atol=1e-6)
    plane = torch.tensor(np.concatenate([rng.uniform(-1, 1, (1, 40, 2)), np.zeros((1, 40, 1))], -1))
    off = torch.tensor(np.concatenate([rng.uniform(-0.4, 0.4, (1, 4, 2)), rng.normal(0, 0.1, (1, 4, 1))], -1))
    plane.requires_grad_(True)
    off.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda q, s: local_quadric_residual(q, s, k=9), (off, plane),
                                    eps=1e-7, atol=1e-6)


@pytest.mark.parametrize("frame_chunk, point_chunk", [(1, 3), (2, 50), (8, 4096)])
def test_chunked_equals_unchunked_and_ignores_padding(frame_chunk, point_chunk):
    torch.manual_seed(0)
    v, _ = ellipsoid(2)
    vr, _ = ellipsoid_fibonacci(300)
    pred = torch.tensor(v, dtype=torch.float32)[None] + 0.01 * torch.randn(5, len(v), 3)
    target = torch.tensor(vr, dtype=torch.float32)[None].repeat(5, 1, 1)
    lengths = torch.tensor([300, 200, 300, 150, 300])
    for t, n in enumerate(lengths):
        target[t, n:] = 0.0
    whole = surface_loss(pred, target, lengths, reverse=0.5)
    chunked = surface_loss(pred, target, lengths, reverse=0.5, frame_chunk=frame_chunk, point_chunk=point_chunk)
    assert torch.allclose(whole, chunked, rtol=1e-5)
    far = target.clone()
    for t, n in enumerate(lengths):
        far[t, n:] = 1e3
    assert torch.allclose(surface_loss(pred, far, lengths, reverse=0.5), whole, rtol=1e-5)
    # loop oracle: one frame at a time, without padding
    per_frame = [surface_loss(pred[t:t + 1], target[t:t + 1, :n], reverse=0.5) for t, n in enumerate(lengths)]
    assert torch.allclose(whole, torch.stack(per_frame).mean(), rtol=1e-5)


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError, match="same T"):
        surface_loss(torch.zeros(2, 5, 3), torch.zeros(3, 5, 3))
    with pytest.raises(ValueError, match="target_lengths"):
        surface_loss(torch.zeros(2, 5, 3), torch.zeros(2, 5, 3), torch.tensor([2, 5]))
    with pytest.raises(ValueError, match="reference"):
        surface_loss(torch.zeros(2, 5, 3), torch.zeros(2, 5, 3), reference=torch.zeros(4))
    with pytest.raises(ValueError, match="same B"):
        local_quadric_residual(torch.zeros(1, 4, 3), torch.zeros(2, 9, 3))
