"""A procedural test head with a nose and a mouth, and re-meshings of it (numpy + trimesh).

Units are metres, +y up, +z forward (the FLAME/VOCA convention). The analytic surface is an
ellipsoid (semi-axes 75, 100, 90 mm) whose front is pushed out by a nose and two lips separated by
a lip groove centred at y = MOUTH_Y and ending near x = ±MOUTH_HALF_WIDTH.
"""

from __future__ import annotations

import numpy as np
import trimesh

MOUTH_Y = -0.045
MOUTH_HALF_WIDTH = 0.025
RADII = np.array([0.075, 0.100, 0.090])


def _logistic(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(u))


def front_offset(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Forward displacement of the face features at (x, y), metres."""
    nose = 0.022 * np.exp(-(x**2) / (2 * 0.009**2) - (y - 0.005) ** 2 / (2 * 0.016**2))
    lat_lips = _logistic((np.abs(x) - 0.028) / 0.003)
    upper = 0.004 * np.exp(-((y - MOUTH_Y - 0.007) ** 2) / (2 * 0.004**2)) * lat_lips
    lower = 0.0045 * np.exp(-((y - MOUTH_Y + 0.008) ** 2) / (2 * 0.0045**2)) * lat_lips
    groove = -0.004 * np.exp(-((y - MOUTH_Y) ** 2) / (2 * 0.0022**2)) * _logistic((np.abs(x) - MOUTH_HALF_WIDTH) / 0.0015)
    return nose + upper + lower + groove


def head_surface(directions: np.ndarray) -> np.ndarray:
    """Map unit directions ``(N, 3)`` to points of the head surface ``(N, 3)``."""
    d = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    p = d * RADII
    gate = np.clip(p[:, 2] / 0.04, 0.0, 1.0) ** 2
    p[:, 2] += gate * front_offset(p[:, 0], p[:, 1])
    return p


def make_head(subdivisions: int = 6) -> trimesh.Trimesh:
    """The template head: an icosphere pushed onto :func:`head_surface`."""
    s = trimesh.creation.icosphere(subdivisions=subdivisions)
    return trimesh.Trimesh(head_surface(np.asarray(s.vertices)), np.asarray(s.faces), process=False)


def make_uv_head(count: int = 260) -> trimesh.Trimesh:
    """An independent meshing of the same analytic head (a UV sphere)."""
    s = trimesh.creation.uv_sphere(count=[count, count])
    return trimesh.Trimesh(head_surface(np.asarray(s.vertices)), np.asarray(s.faces), process=False)


def remeshings(head: trimesh.Trimesh, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Five re-meshings of ``head`` and a point-cloud sample: name → (vertices, faces or None)."""
    rng = np.random.default_rng(seed)
    v, f = np.asarray(head.vertices), np.asarray(head.faces)
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    sv, sf = trimesh.remesh.subdivide(v, f)
    out["subdivided"] = (np.asarray(sv), np.asarray(sf))
    dec = head.simplify_quadric_decimation(face_count=len(f) // 3)
    out["decimated"] = (np.asarray(dec.vertices), np.asarray(dec.faces))
    perm = rng.permutation(len(v))
    inv = np.argsort(perm)
    out["permuted"] = (v[perm], inv[f][rng.permutation(len(f))])
    out["noisy"] = (v + rng.normal(scale=1e-4, size=v.shape), f)
    uv = make_uv_head()
    out["uv-sphere"] = (np.asarray(uv.vertices), np.asarray(uv.faces))
    pts, _ = trimesh.sample.sample_surface(head, 150_000, seed=seed)
    out["point-cloud"] = (np.asarray(pts), None)
    return out


def random_rotation(seed: int) -> np.ndarray:
    """A random proper rotation ``(3, 3)``."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def opening_signal(n_frames: int, fps: float = 30.0, seed: int = 0) -> np.ndarray:
    """A speech-like jaw-opening signal ``(T,)`` in metres: random syllable bumps, 0 to ~8 mm."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / fps
    a = np.zeros(n_frames)
    start = 0.1
    while start < t[-1]:
        dur = rng.uniform(0.12, 0.3)
        amp = rng.uniform(0.003, 0.008)
        inside = (t >= start) & (t < start + dur)
        a[inside] += amp * np.sin(np.pi * (t[inside] - start) / dur) ** 2
        start += dur + rng.uniform(0.02, 0.12)
    return a


def talking_sequence(vertices: np.ndarray, opening: np.ndarray) -> np.ndarray:
    """Animate a neutral head ``(V, 3)``: the lower lip and jaw move down by ``opening[t]``.

    Returns ``(T, V, 3)``.
    """
    v = np.asarray(vertices, dtype=np.float64)
    below = np.clip((MOUTH_Y - v[:, 1]) / 0.003, 0.0, 1.0)  # 0 above the lip line, 1 below it
    lateral = np.exp(-(v[:, 0] ** 2) / (2 * 0.035**2))
    front = np.clip(v[:, 2] / 0.03, 0.0, 1.0)
    w = below * lateral * front
    out = np.repeat(v[None], len(opening), axis=0)
    out[:, :, 1] -= np.asarray(opening)[:, None] * w[None, :]
    return out


def speech_audio(opening: np.ndarray, fps: float = 30.0, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Noise whose loudness follows the opening signal (speech is loud when the mouth is open)."""
    rng = np.random.default_rng(seed)
    n = int(len(opening) / fps * sample_rate)
    env = np.interp(np.arange(n) / sample_rate, np.arange(len(opening)) / fps, opening)
    return (env / max(opening.max(), 1e-12) * 0.5 + 0.01) * rng.normal(size=n)
