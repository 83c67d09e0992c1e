"""meshtalk: make any 3D face mesh talk.

Topology-agnostic, speech-driven 3D face animation: a geometry core (Laplacian, mass,
Laplace–Beltrami eigenbasis, tangent gradients; cached), a DiffusionNet-style model conditioned
on wav2vec2-family audio features, lip-sync metrics, and export to Blender.
"""

__version__ = "0.1.0"

_SUBMODULES = {"geometry", "model", "data", "train", "metrics", "export", "render", "pipeline",
               "placement", "inference", "bench"}


def __getattr__(name: str):
    """Lazy access: ``meshtalk.animate`` and the subpackages load on first use (fast CLI start)."""
    import importlib

    if name in ("animate", "animate_to_folder"):
        return getattr(importlib.import_module("meshtalk.pipeline"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"meshtalk.{name}")
    raise AttributeError(f"module 'meshtalk' has no attribute {name!r}")
