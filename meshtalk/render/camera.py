"""A fixed perspective camera that frames a face over a whole sequence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Vertical field of view of the default camera (radians). Narrow, like a portrait lens, so the
#: face is not distorted.
DEFAULT_YFOV = np.deg2rad(22.0)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera in OpenGL convention (looks along its local -Z, +Y up).

    Attributes:
        pose: (4, 4) float64 camera-to-world transform.
        yfov: vertical field of view in radians.
        znear, zfar: clipping distances (world units).
        aspect: width / height of the image.
    """

    pose: np.ndarray
    yfov: float
    znear: float
    zfar: float
    aspect: float = 1.0

    @property
    def position(self) -> np.ndarray:
        """(3,) camera centre in world coordinates."""
        return self.pose[:3, 3]

    @property
    def forward(self) -> np.ndarray:
        """(3,) unit viewing direction in world coordinates."""
        return -self.pose[:3, 2]

    def project(self, points: np.ndarray, width: int, height: int) -> np.ndarray:
        """Pixel coordinates of world points (x to the right, y down, origin top-left).

        Args:
            points: (N, 3) world coordinates in front of the camera.
            width, height: image size in pixels.

        Returns:
            (N, 2) float64 pixel coordinates.
        """
        world_to_cam = np.linalg.inv(self.pose)
        p = np.asarray(points, np.float64) @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
        f = 0.5 * height / np.tan(0.5 * self.yfov)
        x = 0.5 * width + f * p[:, 0] / -p[:, 2]
        y = 0.5 * height - f * p[:, 1] / -p[:, 2]
        return np.stack([x, y], axis=1)


def _unit(v: np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(v, np.float64).reshape(-1)
    n = np.linalg.norm(v)
    if v.shape != (3,) or not np.isfinite(n) or n == 0:
        raise ValueError(f"{name} must be a non-zero 3-vector, got {v.tolist()}")
    return v / n


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Camera-to-world pose of a camera at ``eye`` looking at ``target``.

    Args:
        eye, target: (3,) world points.
        up: (3,) approximate up direction; if parallel to the view, another axis is used.

    Returns:
        (4, 4) float64 pose (columns: right, up, backward, position).
    """
    back = _unit(np.asarray(eye, np.float64) - np.asarray(target, np.float64), "eye - target")
    up = _unit(up, "up")
    if abs(np.dot(up, back)) > 0.999:
        up = np.eye(3)[np.argmin(np.abs(back))]
    right = np.cross(up, back)
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, true_up, back, eye
    return pose


def frame_face(
    verts: np.ndarray,
    face_direction: np.ndarray | tuple[float, float, float] = (0.0, 0.0, 1.0),
    up: np.ndarray | tuple[float, float, float] = (0.0, 1.0, 0.0),
    *,
    yfov: float = DEFAULT_YFOV,
    aspect: float = 1.0,
    margin: float = 1.12,
) -> Camera:
    """A camera in front of the face that keeps every frame of the sequence in view.

    The camera looks at the centre of the axis-aligned bounds of all frames, from the side the
    face points to, at the smallest distance at which every corner of those bounds lies inside
    the view with ``margin`` to spare. It does not move during the sequence.

    Args:
        verts: (V, 3) a mesh, or (T, V, 3) a whole sequence (bounds over all frames).
        face_direction: (3,) direction the face looks at, i.e. from the face towards the camera
            (default +Z, the convention of FLAME, VOCASET and BIWI templates).
        up: (3,) the head's up direction (default +Y).
        yfov: vertical field of view in radians.
        aspect: image width / height.
        margin: >= 1, how much room to leave around the face (1 = touching the image border).

    Returns:
        The camera.

    Raises:
        ValueError: empty or non-finite vertices, or a zero direction.
    """
    pts = np.asarray(verts, np.float64).reshape(-1, 3)
    if pts.size == 0 or not np.all(np.isfinite(pts)):
        raise ValueError(f"frame_face needs finite vertices, got array of shape {np.shape(verts)}")
    if not margin >= 1.0:
        raise ValueError(f"margin must be >= 1, got {margin}")
    back = _unit(face_direction, "face_direction")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = 0.5 * (lo + hi)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])])
    pose = look_at(centre + back, centre, up)
    rot = pose[:3, :3]
    local = (corners - centre) @ rot  # (8, 3) in camera axes: right, up, backward
    tan_y = np.tan(0.5 * yfov)
    tan_x = tan_y * aspect
    # A corner at depth d - z (d: camera distance from centre) is inside when |x| <= tan*(d - z).
    dist = max(
        np.max(margin * np.abs(local[:, 0]) / tan_x + local[:, 2]),
        np.max(margin * np.abs(local[:, 1]) / tan_y + local[:, 2]),
    )
    radius = 0.5 * float(np.linalg.norm(hi - lo))
    if radius == 0.0:
        radius = 1.0
    dist = max(dist, 1e-3 * radius + np.max(local[:, 2]))
    pose = look_at(centre + dist * back, centre, up)
    znear = max(dist - radius * 1.5, dist * 1e-3)
    zfar = dist + radius * 1.5
    return Camera(pose=pose, yfov=float(yfov), znear=float(znear), zfar=float(zfar),
                  aspect=float(aspect))
