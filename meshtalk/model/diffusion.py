"""Learned-time heat diffusion in the truncated Laplace-Beltrami eigenbasis.

For a per-vertex signal ``x`` and one learned time ``t_c`` per channel, the diffused signal is

    x_hat[:, c] = Phi @ (exp(-lambda * t_c) * (Phi^T @ (M x[:, c])))

with ``Phi`` the M-orthonormal eigenvectors (V, K), ``lambda`` the eigenvalues (K,) and ``M`` the
lumped mass. Cost is O(V K C) per frame and memory O(V K): no V x V matrix is ever formed.
Because ``M`` weights the projection, the result approximates the continuous heat flow and does
not depend on how the surface is sampled (the property that makes the network
topology-agnostic).
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


class LearnedTimeDiffusion(nn.Module):
    """Spectral heat diffusion with one learned, non-negative time per channel.

    Args:
        channels: number of channels C.
        time_init: initial diffusion time of every channel (0 = projection onto the basis).
    """

    def __init__(self, channels: int, *, time_init: float = 0.0):
        super().__init__()
        self.channels = channels
        self.diffusion_time = nn.Parameter(torch.full((channels,), float(time_init)))

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
        t = self.diffusion_time.clamp(min=1e-8)
        coefs = (ops.evecs * ops.mass[:, None]).T @ x.reshape(v, b * c)          # (K, B*C)
        decay = torch.exp(-ops.evals[:, None] * t[None, :])                      # (K, C)
        coefs = (coefs.reshape(-1, b, c) * decay[:, None, :]).reshape(-1, b * c)
        return (ops.evecs @ coefs).reshape(v, b, c)
