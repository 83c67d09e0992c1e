"""Export of animations to files that Blender (and other tools) read.

* :func:`export_animation` — every selected format into one folder, all or nothing.
* :func:`to_pc2` / :func:`read_pc2`, :func:`to_mdd` / :func:`read_mdd` — exact point caches for
  Blender's Mesh Cache modifier.
* :func:`to_glb` — glTF 2.0 binary: neutral mesh, morph targets (PCA or per frame), weights
  animation.
* :func:`write_obj` — the neutral mesh, vertex order kept; :func:`write_sequence` — one OBJ/PLY
  per frame.
* :func:`write_blender_script` — ``open_in_blender.py``.

Arrays: ``neutral_verts`` (V, 3), ``faces`` (F, 3) int 0-based, ``motion`` (T, V, 3) (or
(T, V*3)), all in the user's vertex order and axes (meshtalk: +Y up, face toward +Z). Computed in
float64, stored as float32. NaN/inf are refused before any file is opened.
"""

from meshtalk.export.blender_script import blender_script_text, write_blender_script
from meshtalk.export.bundle import DEFAULT_FORMATS, FILE_NAMES, FORMATS, ExportResult, export_animation
from meshtalk.export.gltf import GlbReport, MorphAnimation, encode_morph_animation, to_glb
from meshtalk.export.mdd import read_mdd, to_mdd
from meshtalk.export.obj import write_obj
from meshtalk.export.pc2 import PointCache, read_pc2, to_pc2
from meshtalk.export.sequence import write_sequence

__all__ = [
    "DEFAULT_FORMATS",
    "FILE_NAMES",
    "FORMATS",
    "ExportResult",
    "GlbReport",
    "MorphAnimation",
    "PointCache",
    "blender_script_text",
    "encode_morph_animation",
    "export_animation",
    "read_mdd",
    "read_pc2",
    "to_glb",
    "to_mdd",
    "to_pc2",
    "write_blender_script",
    "write_obj",
    "write_sequence",
]
