"""Offscreen rendering of a deforming triangle mesh, frame by frame, with checks on every frame.

A :class:`MeshRenderer` owns one offscreen OpenGL context, a fixed camera and three-point
lighting; :meth:`MeshRenderer.render` draws one frame of vertex positions with smooth shading
(vertex normals recomputed from that frame) and optional per-vertex colours, and refuses to return
a blank frame. :func:`side_by_side` lays panels out next to each other with labels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from meshtalk.errors import MeshtalkError
from meshtalk.render.backend import ensure_platform, import_pyrender
from meshtalk.render.camera import Camera, look_at

logger = logging.getLogger(__name__)

#: A light warm grey, like unpainted clay: reads shape well and does not compete with heat maps.
SKIN_COLOR = (0.80, 0.76, 0.72)
BACKGROUND = (0.94, 0.94, 0.95)

# Three-point lighting, in camera axes (x right, y up, z towards the viewer): direction the light
# comes *from*, RGB colour, intensity. Key: upper left front; fill: right, softer, cooler;
# rim: behind and above, separating the silhouette from the background.
_LIGHTS = (
    ((-1.0, 0.8, 1.0), (1.00, 0.96, 0.90), 2.4),
    ((1.3, 0.0, 0.8), (0.85, 0.90, 1.00), 0.8),
    ((0.3, 1.0, -1.5), (1.00, 1.00, 1.00), 1.8),
)

#: A rendered frame is refused when the mesh covers less than this fraction of the image ...
MIN_COVERAGE = 0.002
#: ... or when the shaded mesh has less than this pixel standard deviation (0–255 scale).
MIN_SHADING_STD = 1.0


class RenderError(MeshtalkError):
    """A frame could not be rendered, or came out blank."""


@dataclass(frozen=True)
class Frame:
    """One rendered image.

    Attributes:
        color: (H, W, 3) uint8 RGB.
        depth: (H, W) float32 camera distance, 0 where no surface was hit.
    """

    color: np.ndarray
    depth: np.ndarray

    @property
    def coverage(self) -> float:
        """Fraction of pixels covered by the mesh."""
        return float(np.mean(self.depth > 0))


def vertex_face_incidence(faces: np.ndarray, num_verts: int) -> sp.csr_matrix:
    """Sparse (V, F) matrix with a 1 where vertex v is a corner of face f.

    Args:
        faces: (F, 3) int vertex indices.
        num_verts: V.

    Returns:
        (V, F) CSR float64; ``incidence @ face_values`` sums face values onto their corners.
    """
    faces = np.asarray(faces, np.int64)
    rows = faces.reshape(-1)
    cols = np.repeat(np.arange(len(faces)), 3)
    return sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(num_verts, len(faces)))


def vertex_normals(verts: np.ndarray, faces: np.ndarray,
                   incidence: sp.csr_matrix | None = None) -> np.ndarray:
    """Area-weighted unit vertex normals (computed in float64), fast enough for every frame.

    Same normals as :func:`meshtalk.geometry.frames.mesh_vertex_normals`, but the face-to-vertex
    sum is one sparse product with an incidence matrix built once per topology (about half the
    time per frame).

    Args:
        verts: (V, 3) positions.
        faces: (F, 3) int, counter-clockwise seen from outside.
        incidence: (V, F) from :func:`vertex_face_incidence` (reuse it across frames).

    Returns:
        (V, 3) float32 unit normals; +Z for vertices without a non-degenerate face.
    """
    verts = np.asarray(verts, np.float64)
    if incidence is None:
        incidence = vertex_face_incidence(faces, len(verts))
    p = verts[faces]
    cross = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])  # length = 2 * area
    normals = incidence @ cross
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, norm, out=np.zeros_like(normals), where=norm > 0)
    normals[norm[:, 0] == 0] = (0.0, 0.0, 1.0)
    return normals.astype(np.float32)


def orient_faces(verts: np.ndarray, faces: np.ndarray, toward: Sequence[float]) -> np.ndarray:
    """Faces wound so that the front of the face has outward normals.

    Looks at the frontmost 2% of vertices along ``toward`` (nose, lips, brows): if their
    normals point away from the viewer on average, the mesh is wound clockwise and every
    triangle is flipped. Works for closed heads and open face masks alike.

    Args:
        verts: (V, 3) a representative frame (e.g. the neutral mesh).
        faces: (F, 3) int.
        toward: (3,) direction from the face towards the viewer.

    Returns:
        (F, 3) ``faces`` itself, or a flipped copy.
    """
    toward = np.asarray(toward, np.float64)
    toward = toward / np.linalg.norm(toward)
    normals = vertex_normals(verts, faces)
    used = np.zeros(len(verts), bool)
    used[np.asarray(faces).reshape(-1)] = True
    depth = np.where(used, np.asarray(verts, np.float64) @ toward, -np.inf)
    count = max(1, int(0.02 * used.sum()))
    front = np.argpartition(-depth, count - 1)[:count]
    if float(np.mean(normals[front] @ toward)) < 0:
        logger.info("the mesh is wound clockwise; flipping its triangles for rendering")
        return np.ascontiguousarray(np.asarray(faces)[:, ::-1])
    return np.asarray(faces)


def check_frame(frame: Frame, index: int | None = None) -> None:
    """Refuse a frame that shows no mesh or only a uniform colour.

    Args:
        frame: the rendered frame.
        index: frame number for the message.

    Raises:
        RenderError: the mesh covers less than :data:`MIN_COVERAGE` of the image, or its pixels
            have a standard deviation below :data:`MIN_SHADING_STD` (e.g. an all-black frame).
    """
    where = "frame" if index is None else f"frame {index}"
    color = frame.color
    if color.size == 0 or not color.any():
        raise RenderError(f"{where} rendered all black (OpenGL produced no image)")
    mask = frame.depth > 0
    coverage = float(mask.mean())
    if coverage < MIN_COVERAGE:
        raise RenderError(
            f"{where} is blank: the mesh covers {100 * coverage:.2f}% of the image "
            "(is it outside the camera view?)"
        )
    pixels = color[mask]
    step = max(1, len(pixels) // 20000)  # a strided sample is plenty to tell shading from none
    std = float(pixels[::step].astype(np.float32).std())
    if std < MIN_SHADING_STD:
        raise RenderError(
            f"{where} is uniform: the mesh's pixels have std {std:.2f} (no shading; broken "
            "normals or lighting, or a failed OpenGL context)"
        )


class MeshRenderer:
    """Render frames of one mesh topology from one fixed camera.

    Example::

        cam = frame_face(motion)
        with MeshRenderer(faces, cam, size=512) as r:
            for verts in motion:
                image = r.render(verts).color

    Args:
        faces: (F, 3) int vertex indices, counter-clockwise seen from outside.
        camera: the camera (see :func:`meshtalk.render.camera.frame_face`).
        size: image size, ``S`` for S×S or ``(width, height)``.
        base_color: RGB in [0, 1] of the surface when no per-vertex colours are given.
        background: RGB in [0, 1].
        roughness: material roughness in [0, 1] (non-metallic material).
        supersample: render at this many times the size and average down (anti-aliasing).
            Default: 2 on OSMesa, which has no multisampling, and 1 on EGL, which uses 4×
            multisampling already.
    """

    def __init__(
        self,
        faces: np.ndarray,
        camera: Camera,
        size: int | tuple[int, int] = 512,
        *,
        base_color: Sequence[float] = SKIN_COLOR,
        background: Sequence[float] = BACKGROUND,
        roughness: float = 0.6,
        supersample: int | None = None,
    ):
        faces = np.asarray(faces)
        if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] == 0:
            raise ValueError(f"faces must be (F, 3) with F > 0, got shape {faces.shape}")
        if not np.issubdtype(faces.dtype, np.integer) or faces.min() < 0:
            raise ValueError(f"faces must be non-negative integers, got dtype {faces.dtype}")
        self.faces = faces.astype(np.uint32)
        self.width, self.height = (size, size) if np.isscalar(size) else tuple(size)
        self.camera = camera
        self._incidence: sp.csr_matrix | None = None
        self._num_verts = int(faces.max()) + 1
        if supersample is not None and (int(supersample) != supersample
                                        or not 1 <= supersample <= 4):
            raise ValueError(f"supersample must be an integer in 1..4, got {supersample}")
        pyrender = import_pyrender()
        self._pyrender = pyrender
        if supersample is None:
            supersample = 2 if ensure_platform() == "osmesa" else 1
        self.supersample = int(supersample)
        self._scene = pyrender.Scene(bg_color=[*background, 1.0], ambient_light=[0.06] * 3)
        cam = pyrender.PerspectiveCamera(yfov=camera.yfov, znear=camera.znear, zfar=camera.zfar,
                                         aspectRatio=self.width / self.height)
        self._scene.add(cam, pose=camera.pose)
        rot = camera.pose[:3, :3]
        for direction, color, intensity in _LIGHTS:
            towards = rot @ np.asarray(direction, np.float64)  # world direction to the light
            light = pyrender.DirectionalLight(color=np.asarray(color), intensity=intensity)
            self._scene.add(light, pose=look_at(towards, np.zeros(3), rot[:, 1]))
        # Double-sided: scans and templates are open (neck, eye holes, mouth); their inner side
        # shows, unlit, like a cavity instead of letting the background through.
        self._plain = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=[*base_color, 1.0], metallicFactor=0.0, roughnessFactor=roughness,
            doubleSided=True)
        self._painted = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=0.0, roughnessFactor=roughness,
            doubleSided=True)
        self._mesh_node = None
        try:
            self._renderer = pyrender.OffscreenRenderer(self.width * self.supersample,
                                                        self.height * self.supersample)
        except Exception as exc:  # noqa: BLE001 - any OpenGL failure becomes one line
            raise RenderError(f"could not create an offscreen OpenGL context: {_one_line(exc)}") \
                from exc
        _reuse_shader_programs(self._renderer)

    def render(self, verts: np.ndarray, colors: np.ndarray | None = None,
               index: int | None = None) -> Frame:
        """Render one frame and check it (see :func:`check_frame`).

        Args:
            verts: (V, 3) float positions; V must cover every index in ``faces``.
            colors: optional (V, 3) RGB in [0, 1] per vertex (e.g. :func:`heat_colors`).
            index: frame number, for error messages.

        Returns:
            The rendered frame.

        Raises:
            ValueError: wrong shapes or non-finite positions.
            RenderError: rendering failed or the frame is blank.
        """
        verts = np.asarray(verts)
        if verts.ndim != 2 or verts.shape[1] != 3 or verts.shape[0] < self._num_verts:
            raise ValueError(f"verts must be (V, 3) with V >= {self._num_verts}, "
                             f"got shape {verts.shape}")
        if not np.all(np.isfinite(verts)):
            raise ValueError("verts contain NaN or inf")
        if self._incidence is None or self._incidence.shape[0] != len(verts):
            self._incidence = vertex_face_incidence(self.faces, len(verts))
        normals = vertex_normals(verts, self.faces, self._incidence)
        pr = self._pyrender
        if colors is not None:
            colors = np.asarray(colors, np.float32)
            if colors.shape != (len(verts), 3):
                raise ValueError(f"colors must be (V, 3) = {(len(verts), 3)}, got {colors.shape}")
            rgba = np.concatenate([colors, np.ones((len(verts), 1), np.float32)], axis=1)
        try:
            prim = pr.Primitive(
                positions=verts.astype(np.float32), normals=normals, indices=self.faces,
                color_0=None if colors is None else rgba,
                material=self._plain if colors is None else self._painted,
                mode=pr.constants.GLTF.TRIANGLES)
            if self._mesh_node is not None:
                self._scene.remove_node(self._mesh_node)
            self._mesh_node = self._scene.add(pr.Mesh([prim]))
            color, depth = self._renderer.render(self._scene)
        except Exception as exc:  # noqa: BLE001 - any OpenGL failure becomes one line
            where = "a frame" if index is None else f"frame {index}"
            raise RenderError(f"rendering {where} failed: {_one_line(exc)}") from exc
        color, depth = color[..., :3], np.asarray(depth, np.float32)
        if self.supersample > 1:
            color, depth = _downsample(color, depth, self.supersample)
        frame = Frame(np.ascontiguousarray(color), depth)
        check_frame(frame, index)
        return frame

    def close(self) -> None:
        """Release the OpenGL context (also done on ``with`` exit)."""
        renderer, self._renderer = getattr(self, "_renderer", None), None
        if renderer is not None:
            try:
                renderer.delete()
            except Exception:  # noqa: BLE001 - teardown must not mask the real error
                logger.debug("offscreen renderer teardown failed", exc_info=True)

    def __enter__(self) -> MeshRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def side_by_side(
    panels: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    *,
    legend: np.ndarray | None = None,
    background: Sequence[float] = BACKGROUND,
) -> np.ndarray:
    """Place images of equal height next to each other, with a label above each.

    The result's width and height are even (as H.264 in yuv420p requires).

    Args:
        panels: N images, each (H, W_i, 3) uint8.
        labels: N strings drawn at the top centre of each panel (None: no labels).
        legend: optional (H, W_l, 3) uint8 image appended on the right (e.g. a colour bar).
        background: RGB in [0, 1] of the padding.

    Returns:
        (H', W', 3) uint8 with H' = H rounded up to even and W' >= sum of widths, even.
    """
    from PIL import Image, ImageDraw

    from meshtalk.render.colormap import label_font

    if not panels:
        raise ValueError("side_by_side needs at least one panel")
    heights = {p.shape[0] for p in panels} | ({legend.shape[0]} if legend is not None else set())
    if len(heights) != 1:
        raise ValueError(f"panels must have equal heights, got {sorted(heights)}")
    if labels is not None and len(labels) != len(panels):
        raise ValueError(f"got {len(labels)} labels for {len(panels)} panels")
    row = list(panels) + ([legend] if legend is not None else [])
    image = np.concatenate(row, axis=1)
    h, w = image.shape[:2]
    bg = (np.asarray(background) * 255).round().astype(np.uint8)
    padded = np.empty((h + h % 2, w + w % 2, 3), np.uint8)
    padded[:] = bg
    padded[:h, :w] = image
    if not labels:
        return padded
    img = Image.fromarray(padded)
    draw = ImageDraw.Draw(img)
    font = label_font(max(12, h // 24))
    x0 = 0
    for panel, label in zip(panels, labels):
        width = panel.shape[1]
        box = draw.textbbox((0, 0), label, font=font)
        tx = x0 + max(4, (width - (box[2] - box[0])) // 2)
        draw.text((tx, max(4, h // 60)), label, fill=(30, 30, 30), font=font)
        x0 += width
    return np.asarray(img)


def _reuse_shader_programs(offscreen) -> None:
    """Make pyrender compile each shader program once per renderer, not once per frame.

    pyrender keys its program cache on the current context object; with OSMesa, PyOpenGL hands
    out a new pointer object for the same context on every call, so each frame compiled the
    shaders again (about 6 ms) and kept the old programs alive. One renderer owns one context,
    so the key can leave the context out.
    """
    cache = getattr(getattr(offscreen, "_renderer", None), "_program_cache", None)
    if cache is None or not hasattr(cache, "get_program") or not hasattr(cache, "clear"):
        logger.debug("pyrender internals changed; shader programs are not shared")
        return
    programs: dict = {}
    compile_program, clear = cache.get_program, cache.clear

    def get_program(vertex_shader, fragment_shader, geometry_shader=None, defines=None):
        key = (vertex_shader, fragment_shader, geometry_shader,
               tuple(sorted((defines or {}).items())))
        if key not in programs:
            programs[key] = compile_program(vertex_shader, fragment_shader,
                                            geometry_shader=geometry_shader, defines=defines)
        return programs[key]

    def clear_all():
        programs.clear()
        clear()

    cache.get_program = get_program
    cache.clear = clear_all


def _downsample(color: np.ndarray, depth: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Average k×k blocks of colour (box filter) and keep the nearest depth of each block.

    Args:
        color: (k*H, k*W, 3) uint8.
        depth: (k*H, k*W) float32, 0 where empty.

    Returns:
        (H, W, 3) uint8 and (H, W) float32.
    """
    from PIL import Image

    h, w = color.shape[0] // k, color.shape[1] // k
    small = np.asarray(Image.fromarray(np.ascontiguousarray(color)).reduce(k))
    blocks = depth[: h * k, : w * k].reshape(h, k, w, k)
    near = np.where(blocks > 0, blocks, np.inf).min(axis=(1, 3))
    return small, np.where(np.isfinite(near), near, 0.0).astype(np.float32)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
