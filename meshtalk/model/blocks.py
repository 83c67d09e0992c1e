"""The DiffusionNet block and trunk, on sparse operators and a truncated eigenbasis.

A block maps per-vertex features ``x: (B, V, C)`` to ``x + MLP([x, diffuse(x), gradfeat(diffuse(x))])``.
The B axis carries frames (or any batch of signals on one mesh): all B signals share the
mesh's operators, and every operator product is done once on a (V, B*C) matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from meshtalk.model.config import DiffusionNetConfig
from meshtalk.model.diffusion import LearnedTimeDiffusion
from meshtalk.model.gradients import SpatialGradientFeatures, tangent_gradients_vertex_major

if TYPE_CHECKING:  # pragma: no cover
    from meshtalk.geometry import SpectralOperators


def mlp(sizes: Sequence[int], *, dropout: float = 0.0) -> nn.Sequential:
    """A per-vertex MLP ``sizes[0] -> ... -> sizes[-1]`` with ReLU between layers (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        if dropout > 0 and i > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DiffusionNetBlock(nn.Module):
    """Diffusion + spatial gradient features + per-vertex MLP, with a residual connection.

    Args:
        width: channels C.
        mlp_hidden: hidden sizes of the MLP.
        dropout: dropout inside the MLP.
        gradient_features: use spatial gradient features.
        gradient_rotations: let gradient features learn tangent-plane rotations.
        diffusion_time_init: initial diffusion time.
        spectral_taper: fraction of the eigenbasis faded out at its top (0: hard cut).
    """

    def __init__(
        self,
        width: int,
        *,
        mlp_hidden: Sequence[int] = (32, 32),
        dropout: float = 0.0,
        gradient_features: bool = True,
        gradient_rotations: bool = True,
        diffusion_time_init: float = 0.0,
        spectral_taper: float = 0.0,
    ):
        super().__init__()
        self.width = width
        self.diffusion = LearnedTimeDiffusion(width, time_init=diffusion_time_init,
                                              spectral_taper=spectral_taper)
        self.gradient_features = (
            SpatialGradientFeatures(width, with_rotations=gradient_rotations) if gradient_features else None
        )
        n_in = width * (3 if gradient_features else 2)
        self.mlp = mlp([n_in, *mlp_hidden, width], dropout=dropout)

    def forward(self, x: torch.Tensor, ops: SpectralOperators) -> torch.Tensor:
        """Apply the block to vertex-major features.

        Args:
            x: (V, B, C) contiguous features (vertices first: operator products then act on
                (V, B*C) views without copies).
            ops: the mesh's operators.

        Returns:
            (V, B, C) features.
        """
        x_diffused = self.diffusion.forward_vertex_major(x, ops)
        parts = [x, x_diffused]
        if self.gradient_features is not None:
            gx, gy = tangent_gradients_vertex_major(x_diffused, ops)
            parts.append(self.gradient_features(gx, gy))
        return x + self.mlp(torch.cat(parts, dim=-1))


class DiffusionNet(nn.Module):
    """``first_lin -> blocks -> last_lin`` on the vertices of one mesh.

    Args:
        in_channels: input channels per vertex.
        out_channels: output channels per vertex.
        config: trunk configuration (width, number of blocks, MLP, options).
        zero_last: initialise ``last_lin`` to zero (the network then outputs 0 at init).
        with_first_lin: build ``first_lin``; without it, inputs must already have ``width`` channels
            (used when a fusion module produces the first hidden features).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        config: DiffusionNetConfig | None = None,
        *,
        zero_last: bool = False,
        with_first_lin: bool = True,
    ):
        super().__init__()
        config = config or DiffusionNetConfig()
        self.config = config
        self.first_lin = nn.Linear(in_channels, config.width) if with_first_lin else None
        self.blocks = nn.ModuleList(
            DiffusionNetBlock(
                config.width,
                mlp_hidden=config.mlp_hidden,
                dropout=config.dropout,
                gradient_features=config.gradient_features,
                gradient_rotations=config.gradient_rotations,
                diffusion_time_init=config.diffusion_time_init,
                spectral_taper=config.spectral_taper,
            )
            for _ in range(config.n_blocks)
        )
        self.last_lin = nn.Linear(config.width, out_channels)
        if zero_last:
            nn.init.zeros_(self.last_lin.weight)
            nn.init.zeros_(self.last_lin.bias)

    def forward(self, x: torch.Tensor, ops: SpectralOperators) -> torch.Tensor:
        """Run the trunk.

        Args:
            x: (B, V, C_in) or (V, C_in) features (``C_in = width`` without ``first_lin``).
            ops: the mesh's operators.

        Returns:
            (B, V, C_out) or (V, C_out).
        """
        squeeze = x.dim() == 2
        if squeeze:
            x = x[None]
        out = self.forward_vertex_major(x.transpose(0, 1), ops).transpose(0, 1)
        return out[0] if squeeze else out

    def forward_vertex_major(self, x: torch.Tensor, ops: SpectralOperators) -> torch.Tensor:
        """Run the trunk on vertex-major features (the layout the blocks work in).

        Args:
            x: (V, B, C_in) features.
            ops: the mesh's operators.

        Returns:
            (V, B, C_out).
        """
        if self.first_lin is not None:
            x = self.first_lin(x)
        x = x.contiguous()
        for block in self.blocks:
            x = block(x, ops)
        return self.last_lin(x)
