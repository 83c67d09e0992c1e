import numpy as np
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


def test_time_initialised_at_zero_still_learns(ops):
    """The default init (0) sits at the clamp bound: a plain clamp would give it zero gradient
    forever. Descent that raises the time gets through; descent that would push it below 0 does not."""
    diff = LearnedTimeDiffusion(2)                                     # time_init = 0
    x = torch.randn(1, len(ops.mass), 2, generator=torch.Generator().manual_seed(0))
    smooth = LearnedTimeDiffusion(2, time_init=0.05)(x, ops).detach()   # a target that needs t > 0
    opt = torch.optim.SGD(diff.parameters(), lr=1e-3)
    for _ in range(20):
        opt.zero_grad()
        (diff(x, ops) - smooth).pow(2).sum().backward()
        opt.step()
    assert torch.all(diff.diffusion_time > 1e-3), diff.diffusion_time
    coefs = torch.randn(len(ops.evals), 2, generator=torch.Generator().manual_seed(1))
    in_span = (ops.evecs @ coefs)[None]
    sharper = (ops.evecs @ (coefs * torch.exp(0.05 * ops.evals)[:, None]))[None]   # heat flow backwards
    sharp = LearnedTimeDiffusion(2)
    (sharp(in_span, ops) - sharper).pow(2).sum().backward()
    assert torch.all(sharp.diffusion_time.grad == 0)


def test_spectral_taper_weights_are_a_raised_cosine():
    from meshtalk.model.diffusion import spectral_taper_weights

    evals = torch.tensor([0.0, 5.0, 7.0, 8.5, 10.0])
    w = spectral_taper_weights(evals, 0.3)                           # flat up to 7, zero at 10
    expected = torch.tensor([1.0, 1.0, 1.0, 0.5, 0.0])
    torch.testing.assert_close(w, expected, atol=1e-6, rtol=0)
    assert torch.all(spectral_taper_weights(evals, 0.0) == 1)
    with pytest.raises(ValueError, match="spectral_taper"):
        LearnedTimeDiffusion(2, spectral_taper=1.0)


def test_taper_makes_two_meshings_agree_where_a_cluster_straddles_k():
    """On this ellipsoid eigenvalues 23 and 24 are a near-degenerate pair: a hard cut at K = 24
    keeps one of them, and which one depends on the meshing. Projecting the same smooth field on
    two meshings then disagrees; the taper fades both out."""
    from tests.model._ops import ellipsoid_fibonacci
    from tests.model.test_topology import _transfer

    va, fa = ellipsoid(3)
    vb, fb = ellipsoid_fibonacci(900)
    oa, ob = make_ops(va, fa, 24), make_ops(vb, fb, 24)
    assert float(oa.evals[23] / oa.evals[22]) > 1.1 and float(oa.evals[23]) > 0.99 * float(make_ops(va, fa, 25).evals[24])

    def field(v):
        x, y, z = v.T
        return torch.tensor(np.stack([x ** 4, x * y * z * z, y ** 2 * z ** 2 - x ** 2, z ** 4 + x * y], 1), dtype=torch.float32)

    disagreement = {}
    for taper in (0.0, 0.3):
        diff = LearnedTimeDiffusion(4, spectral_taper=taper)
        with torch.no_grad():
            da, db = diff(field(va), oa).numpy(), diff(field(vb), ob).numpy()
        moved = _transfer(va, fa, da[None], vb)[0]
        disagreement[taper] = np.linalg.norm(db - moved, axis=1).mean() / np.linalg.norm(db, axis=1).mean()
    assert disagreement[0.3] < 0.5 * disagreement[0.0] and disagreement[0.3] < 0.015, disagreement
