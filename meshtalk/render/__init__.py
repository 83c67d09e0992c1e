"""Headless rendering of face motion, and videos with the speech muxed in.

Needs the ``render`` extra (``pip install 'meshtalk[render]'``: pyrender, PyOpenGL>=3.1.5,
imageio-ffmpeg, pillow) and a headless OpenGL (OSMesa: ``apt-get install libosmesa6``, or EGL).
Nothing here imports OpenGL until the first render, so the platform can still be chosen
(see :mod:`meshtalk.render.backend`).

Main entry point: :func:`render_video`.
"""

from meshtalk.render.backend import select_platform
from meshtalk.render.camera import Camera, frame_face
from meshtalk.render.colormap import colorbar, heat_colors
from meshtalk.render.renderer import (
    Frame,
    MeshRenderer,
    RenderError,
    orient_faces,
    side_by_side,
    vertex_normals,
)
from meshtalk.render.sequence import RenderSummary, as_motion, render_video, sequence_bounds
from meshtalk.render.video import VideoWriter, audio_duration, find_ffmpeg

__all__ = [
    "Camera",
    "Frame",
    "MeshRenderer",
    "RenderError",
    "RenderSummary",
    "VideoWriter",
    "as_motion",
    "audio_duration",
    "colorbar",
    "find_ffmpeg",
    "frame_face",
    "heat_colors",
    "orient_faces",
    "render_video",
    "select_platform",
    "sequence_bounds",
    "side_by_side",
    "vertex_normals",
]
