from dataclasses import dataclass

import pytest
import torch

from meshtalk.model.blocks import DiffusionNet
from meshtalk.model.config import DiffusionNetConfig
from tests.model._ops import ellipsoid, make_ops


@pytest.fixture(scope="module")
def ops():
    v, f = ellipsoid(2)
    return make_ops(v, f, 24)


@dataclass(frozen=True)
class _DenseOps:
    mass: torch.Tensor
    evals: torch.Tensor
    evecs: torch.Tensor
    grad_x: torch.Tensor
    grad_y: torch.Tensor


def test_sparse_equals_dense_operator_network(ops):
    """The reference densifies the operators; the result must be the same network."""
    torch.manual_seed(0)
    net = DiffusionNet(3, 5, DiffusionNetConfig(width=8, n_blocks=2, mlp_hidden=(8,)))
    with torch.no_grad():
        for b in net.blocks:
            b.diffusion.diffusion_time.uniform_(0, 0.2)
    dense = _DenseOps(ops.mass, ops.evals, ops.evecs, ops.grad_x.to_dense(), ops.grad_y.to_dense())
    x = torch.randn(4, len(ops.mass), 3)
    torch.testing.assert_close(net(x, ops), net(x, dense), atol=1e-5, rtol=1e-4)


def test_frames_are_independent_in_a_batch(ops):
    torch.manual_seed(1)
    net = DiffusionNet(3, 2, DiffusionNetConfig(width=8, n_blocks=2, mlp_hidden=(8,)))
    x = torch.randn(3, len(ops.mass), 3)
    out = net(x, ops)
    for b in range(3):
        torch.testing.assert_close(out[b], net(x[b], ops), atol=1e-5, rtol=1e-4)


def test_zero_last_layer_outputs_zero_and_still_learns(ops):
    net = DiffusionNet(3, 3, DiffusionNetConfig(width=8, n_blocks=1, mlp_hidden=(8,)), zero_last=True)
    x = torch.randn(len(ops.mass), 3)
    out = net(x, ops)
    assert torch.count_nonzero(out) == 0
    (out - 1).pow(2).mean().backward()
    assert net.last_lin.weight.grad.abs().sum() > 0


def test_options_without_gradient_features(ops):
    cfg = DiffusionNetConfig(width=8, n_blocks=2, mlp_hidden=(8,), gradient_features=False)
    net = DiffusionNet(3, 2, cfg)
    assert net.blocks[0].gradient_features is None
    assert net(torch.randn(len(ops.mass), 3), ops).shape == (len(ops.mass), 2)
