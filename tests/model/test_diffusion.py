import pytest
import torch

from meshtalk.model.diffusion import LearnedTimeDiffusion, from_spectral, to_spectral
from tests.model._ops import ellipsoid, make_ops


@pytest.fixture(scope="module")
def ops():
    v, f = ellipsoid(2)
    return make_ops(v, f, 24)


def test_eigenvector_decays_by_its_eigenvalue(ops):
    """Analytic heat flow: diffusing eigenfunction i for time t multiplies it by exp(-lambda_i t)."""
    diff = LearnedTimeDiffusion(3)
    times = torch.tensor([0.0, 0.05, 0.3])
    with torch.no_grad():
        diff.diffusion_time.copy_(times)
    i = 5
    x = ops.evecs[:, i:i + 1].repeat(1, 3)[None]                     # (1, V, 3)
    out = diff(x, ops)[0]
    expected = ops.evecs[:, i:i + 1] * torch.exp(-ops.evals[i] * times.clamp(min=1e-8))[None]
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-4)


def test_matches_naive_per_channel_loop(ops):
    torch.manual_seed(0)
    diff = LearnedTimeDiffusion(4, time_init=0.1)
    with torch.no_grad():
        diff.diffusion_time.uniform_(0, 0.5)
    x = torch.randn(3, len(ops.mass), 4)
    out = diff(x, ops)
    for b in range(3):
        for c in range(4):
            coef = ops.evecs.T @ (ops.mass * x[b, :, c])
            ref = ops.evecs @ (coef * torch.exp(-ops.evals * diff.diffusion_time[c]))
            torch.testing.assert_close(out[b, :, c], ref, atol=1e-5, rtol=1e-4)


def test_spectral_round_trip_and_unbatched_input(ops):
    x = ops.evecs[:, :4][None] @ torch.randn(4, 2)                     # (1, V, 2) in the span
    torch.testing.assert_close(from_spectral(to_spectral(x, ops.evecs, ops.mass), ops.evecs), x,
                               atol=1e-5, rtol=1e-4)
    diff = LearnedTimeDiffusion(2)
    torch.testing.assert_close(diff(x[0], ops), diff(x, ops)[0])


def test_diffusion_time_learns_and_gradients_flow(ops):
    diff = LearnedTimeDiffusion(2, time_init=0.1)
    x = torch.randn(1, len(ops.mass), 2)
    diff(x, ops).pow(2).sum().backward()
    assert diff.diffusion_time.grad is not None and torch.all(diff.diffusion_time.grad != 0)


def test_wrong_channel_count_is_reported(ops):
    with pytest.raises(ValueError, match="channels"):
        LearnedTimeDiffusion(3)(torch.zeros(1, len(ops.mass), 2), ops)
