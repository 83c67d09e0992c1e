"""Geometry core: loading, diagnosis, Laplacians, eigenbasis, frames, gradients, operator cache.

Never imports :mod:`meshtalk.model`.
"""

from meshtalk.geometry.cache import OperatorCache, default_cache_dir
from meshtalk.geometry.eigen import Eigenbasis, laplacian_eigenbasis
from meshtalk.geometry.io import Mesh, MeshReport, inspect_mesh, load_mesh, validate_mesh
from meshtalk.geometry.laplacian import cotan_laplacian, laplacian_and_mass
from meshtalk.geometry.operators import OperatorSettings, SpectralOperators, compute_operators

__all__ = [
    "Eigenbasis",
    "Mesh",
    "MeshReport",
    "OperatorCache",
    "OperatorSettings",
    "SpectralOperators",
    "compute_operators",
    "cotan_laplacian",
    "default_cache_dir",
    "inspect_mesh",
    "laplacian_and_mass",
    "laplacian_eigenbasis",
    "load_mesh",
    "validate_mesh",
]
