"""Learned-time heat diffusion in the truncated Laplace-Beltrami eigenbasis.

For a per-vertex signal ``x`` and one learned time ``t_c`` per channel, the diffused signal is

    x_hat[:, c] = Phi @ (exp(-lambda * t_c) * (Phi^T @ (M x[:, c])))

with ``Phi`` the M-orthonormal eigenvectors (V, K), ``lambda`` the eigenvalues (K,) and ``M`` the
lumped mass. Cost is O(V K C) per frame and memory O(V K): no V x V matrix is ever formed.
Because ``M`` weights the projection, the result approximates the continuous heat flow and does
not depend on how the surface is sampled (the property that makes the network
topology-agnostic).

Two details keep it so:

* The time is clamped to be non-negative in the forward pass, but the clamp lets gradients
  through whenever they would raise the time (:class:`_ClampMinRaising`). A plain ``clamp`` has
  zero gradient below its bound, so times initialised at 0 (the default) would never learn and
  every block would stay a bare projection onto the basis.
* ``spectral_taper`` optionally fades the top of the basis out with a raised cosine in
  ``lambda / lambda_K``. A hard cut at K keeps an arbitrary member of any near-degenerate
  eigenvalue cluster that straddles K; which one depends on the meshing, so a hard cut makes
  two meshings of one surface see different bases. With the taper those modes weigh ~0 on both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from meshtalk.geometry import SpectralOperators


def to_spectral(x: torch.Tensor, evecs: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    """Project per-vertex signals onto the eigenbasis.

    Args:
        x: (B, V, C) signals on the vertices.
        evecs: (V, K) M-orthonormal eigenvectors.
        mass: (V,) lumped mass.

    Returns:
        (B, K, C) spectral coefficients ``Phi^T M x``.
    """
    b, v, c = x.shape
    flat = x.transpose(0, 1).reshape(v, b * c)                      # (V, B*C)
    coefs = (evecs * mass[:, None]).T @ flat                        # (K, B*C)
    return coefs.reshape(-1, b, c).transpose(0, 1)                  # (B, K, C)


def from_spectral(coefs: torch.Tensor, evecs: torch.Tensor) -> torch.Tensor:
    """Synthesise per-vertex signals from spectral coefficients.

    Args:
        coefs: (B, K, C) coefficients.
        evecs: (V, K) eigenvectors.

    Returns:
        (B, V, C) signals ``Phi @ coefs``.
    """
    b, k, c = coefs.shape
    flat = coefs.transpose(0, 1).reshape(k, b * c)
    return (evecs @ flat).reshape(-1, b, c).transpose(0, 1)


#: Smallest diffusion time used in the forward pass.
MIN_TIME = 1e-8


class _ClampMinRaising(torch.autograd.Function):
    """``max(x, bound)`` whose gradient passes where ``x > bound`` or where descent raises ``x``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: float) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp(min=bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: D102
        (x,) = ctx.saved_tensors
        passes = (x > ctx.bound) | (grad < 0)
        return grad * passes, None


def spectral_taper_weights(evals: torch.Tensor, taper: float) -> torch.Tensor:
    """Per-mode weights that fade the top ``taper`` fraction of the spectrum out.

    Args:
        evals: (K,) eigenvalues, ascending, non-negative.
        taper: fraction in [0, 1): weights are 1 for ``lambda <= (1 - taper) lambda_K`` and fall
            as a raised cosine to 0 at ``lambda_K = max(evals)``; 0 gives all ones (a hard cut).

    Returns:
        (K,) weights in [0, 1].
    """
    if taper <= 0:
        return torch.ones_like(evals)
    top = evals.max().clamp(min=1e-12)
    frac = ((evals / top - (1.0 - taper)) / taper).clamp(0.0, 1.0)
    return 0.5 + 0.5 * torch.cos(torch.pi * frac)


class LearnedTimeDiffusion(nn.Module):
    """Spectral heat diffusion with one learned, non-negative time per channel.

    Args:
        channels: number of channels C.
        time_init: initial diffusion time of every channel (0 = projection onto the basis).
        spectral_taper: fraction of the spectrum faded out at its top (see
            :func:`spectral_taper_weights`); 0 keeps the hard cut at K.
    """

    def __init__(self, channels: int, *, time_init: float = 0.0, spectral_taper: float = 0.0):
        super().__init__()
        if not 0.0 <= spectral_taper < 1.0:
            raise ValueError(f"spectral_taper must be in [0, 1), got {spectral_taper}")
        self.channels = channels
        self.spectral_taper = float(spectral_taper)
        self.diffusion_time = nn.Parameter(torch.full((channels,), float(time_init)))

    def times(self) -> torch.Tensor:
        """(C,) the diffusion times used in the forward pass (>= ``MIN_TIME``)."""
        return _ClampMinRaising.apply(self.diffusion_time, MIN_TIME)

    def forward(self, x: torch.Tensor, ops: SpectralOperators) -> torch.Tensor:
        """Diffuse ``x``.

        Args:
            x: (B, V, C) or (V, C) per-vertex features.
            ops: operators of the mesh (uses ``evals`` (K,), ``evecs`` (V, K), ``mass`` (V,)).

        Returns:
            Diffused features, same shape as ``x``.
        """
        squeeze = x.dim() == 2
        if squeeze:
            x = x[None]
        if x.shape[-1] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got x of shape {tuple(x.shape)}")
        out = self.forward_vertex_major(x.transpose(0, 1).contiguous(), ops).transpose(0, 1)
        return out[0] if squeeze else out

    def forward_vertex_major(self, x: torch.Tensor, ops: SpectralOperators) -> torch.Tensor:
        """Diffuse vertex-major features without any copy of the input.

        Args:
            x: (V, B, C) contiguous features (vertices first, so the operator products act on a
                (V, B*C) view).
            ops: operators of the mesh.

        Returns:
            (V, B, C) diffused features.
        """
        v, b, c = x.shape
        t = self.times()
        coefs = (ops.evecs * ops.mass[:, None]).T @ x.reshape(v, b * c)          # (K, B*C)
        decay = torch.exp(-ops.evals[:, None] * t[None, :])                      # (K, C)
        if self.spectral_taper > 0:
            decay = decay * spectral_taper_weights(ops.evals, self.spectral_taper)[:, None]
        coefs = (coefs.reshape(-1, b, c) * decay[:, None, :]).reshape(-1, b * c)
        return (ops.evecs @ coefs).reshape(v, b, c)
