import numpy as np
import pytest
import torch

from meshtalk.train.losses import chamfer_loss, lip_weighted_mse, velocity_loss, vertex_mse


def test_vertex_mse_and_lip_weights():
    torch.manual_seed(0)
    p, g = torch.randn(4, 5, 3), torch.randn(4, 5, 3)
    assert torch.isclose(vertex_mse(p, g), ((p - g) ** 2).sum() / 60)
    w = torch.tensor([1.0, 0, 0, 1, 0])
    expected = (((p - g) ** 2)[:, [0, 3]]).mean()
    assert torch.isclose(lip_weighted_mse(p, g, w), expected)
    with pytest.raises(ValueError, match="weights"):
        lip_weighted_mse(p, g, torch.ones(4))


def test_velocity_loss_differences_over_time_not_vertices():
    torch.manual_seed(0)
    g = torch.randn(6, 5, 3)
    # a constant offset over time has the right velocities
    assert velocity_loss(g + torch.randn(1, 5, 3), g) < 1e-10
    # permuting vertices identically in pred and target changes nothing; a time-varying error does
    perm = torch.randperm(5)
    p = g + torch.linspace(0, 1, 6)[:, None, None]
    assert torch.isclose(velocity_loss(p[:, perm], g[:, perm]), velocity_loss(p, g))
    assert torch.isclose(velocity_loss(p, g), torch.tensor(0.2 ** 2))
    assert velocity_loss(g[:1], g[:1]) == 0


def _naive_chamfer(pred, target, lengths):
    total = 0.0
    for t in range(len(pred)):
        P, Q = pred[t].numpy().astype(np.float64), target[t, : lengths[t]].numpy().astype(np.float64)
        d = ((P[:, None] - Q[None]) ** 2).sum(-1)
        total += d.min(1).mean() + d.min(0).mean()
    return total / len(pred)


@pytest.mark.parametrize("frame_chunk, point_chunk", [(1, 3), (2, 7), (8, 4096)])
def test_chamfer_matches_loop_oracle_and_ignores_padding(frame_chunk, point_chunk):
    torch.manual_seed(0)
    pred = torch.randn(5, 11, 3)
    target = torch.randn(5, 9, 3)
    lengths = torch.tensor([9, 4, 7, 1, 9])
    padded = target.clone()
    for t, n in enumerate(lengths):
        padded[t, n:] = 0.0          # zeros in the padding would pull predictions if used
    loss = chamfer_loss(pred, padded, lengths, frame_chunk=frame_chunk, point_chunk=point_chunk)
    assert abs(float(loss) - _naive_chamfer(pred, padded, lengths)) < 1e-5
    far = padded.clone()
    for t, n in enumerate(lengths):
        far[t, n:] = 1e3
    assert torch.isclose(chamfer_loss(pred, far, lengths), loss)


def test_chamfer_is_zero_for_a_permutation_and_differentiable():
    pts = torch.randn(3, 8, 3)
    perm = pts[:, torch.randperm(8)]
    assert chamfer_loss(pts, perm) < 1e-10
    pred = torch.randn(3, 8, 3, requires_grad=True)
    chamfer_loss(pred, pts, point_chunk=3).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_shape_errors():
    with pytest.raises(ValueError):
        vertex_mse(torch.zeros(2, 3, 3), torch.zeros(2, 4, 3))
    with pytest.raises(ValueError):
        chamfer_loss(torch.zeros(2, 3, 3), torch.zeros(3, 3, 3))
    with pytest.raises(ValueError, match="target_lengths"):
        chamfer_loss(torch.zeros(2, 3, 3), torch.zeros(2, 3, 3), torch.tensor([0, 3]))
