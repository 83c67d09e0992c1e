"""Spatial gradient features: how a feature changes across the surface, as an invariant scalar.

With the sparse tangent-plane gradient operators ``grad_x``, ``grad_y`` (V, V), each channel's
gradient at a vertex is a 2-vector, i.e. a complex number ``g = gx + i gy`` in the vertex's tangent
frame. A learned complex-linear map ``A`` (mixing channels, optionally rotating in the tangent
plane) gives ``A g``; the feature ``tanh(Re(conj(g) * A g))`` is the inner product of the
gradient with its transformed copy, which does not depend on the choice of tangent frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from meshtalk.geometry import SpectralOperators


def apply_vertex_operator(op: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply a (V, V) operator (sparse or dense) to a batch of per-vertex signals.

    Args:
        op: (V, V) sparse CSR/COO or dense matrix.
        x: (B, V, C) signals.

    Returns:
        (B, V, C) ``op @ x[b]`` for every b, computed as one product on a (V, B*C) matrix.
    """
    b, v, c = x.shape
    flat = x.transpose(0, 1).reshape(v, b * c)
    return (op @ flat).reshape(v, b, c).transpose(0, 1)


def tangent_gradients_vertex_major(x: torch.Tensor, ops: SpectralOperators) -> tuple[torch.Tensor, torch.Tensor]:
    """Tangent gradients of vertex-major signals.

    Args:
        x: (V, B, C) contiguous scalar fields.
        ops: uses ``grad_x``, ``grad_y`` (V, V) sparse.

    Returns:
        ``(gx, gy)``, each (V, B, C).
    """
    v = x.shape[0]
    flat = x.reshape(v, -1)
    return (ops.grad_x @ flat).reshape(x.shape), (ops.grad_y @ flat).reshape(x.shape)


def tangent_gradients(x: torch.Tensor, ops: SpectralOperators) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-vertex gradients of every channel in the vertex tangent frames.

    Args:
        x: (B, V, C) scalar fields.
        ops: uses ``grad_x``, ``grad_y`` (V, V) sparse.

    Returns:
        ``(gx, gy)``, each (B, V, C).
    """
    return apply_vertex_operator(ops.grad_x, x), apply_vertex_operator(ops.grad_y, x)


class SpatialGradientFeatures(nn.Module):
    """Rotation-invariant features of the tangent gradients of each channel.

    Args:
        channels: number of channels C (input and output).
        with_rotations: learn a complex map (rotation + scaling in the tangent plane) rather than
            a real one.
    """

    def __init__(self, channels: int, *, with_rotations: bool = True):
        super().__init__()
        self.channels = channels
        self.with_rotations = with_rotations
        self.a_re = nn.Linear(channels, channels, bias=False)
        self.a_im = nn.Linear(channels, channels, bias=False) if with_rotations else None

    def forward(self, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
        """Gradient features.

        Args:
            gx: (..., C) gradient component along the tangent x axis.
            gy: (..., C) gradient component along the tangent y axis.

        Returns:
            (..., C) features in (-1, 1).
        """
        if self.a_im is not None:
            bx = self.a_re(gx) - self.a_im(gy)
            by = self.a_re(gy) + self.a_im(gx)
        else:
            bx, by = self.a_re(gx), self.a_re(gy)
        return torch.tanh(gx * bx + gy * by)
