"""meshtalk: make any 3D face mesh talk.

Topology-agnostic, speech-driven 3D face animation: a geometry core (Laplacian, mass,
Laplace–Beltrami eigenbasis, tangent gradients; cached), a DiffusionNet-style model conditioned
on wav2vec2-family audio features, lip-sync metrics, and export to Blender.
"""

__version__ = "0.1.0"
