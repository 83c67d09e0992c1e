"""Small inputs for the end-to-end animate tests: a decimated demo head and short speech clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"


def small_head(n_vertices: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """The demo head (held out of training; +y up, face +z, metres) decimated to ~n vertices.

    Returns:
        verts (V, 3) float64, faces (F, 3) int64.
    """
    import fast_simplification

    from meshtalk.geometry import load_mesh

    m = load_mesh(DEMO / "head.obj")
    v, f = fast_simplification.simplify(m.verts, m.faces.astype(np.int32),
                                        target_reduction=1.0 - n_vertices / len(m.verts))
    v, f = np.asarray(v, np.float64), np.asarray(f, np.int64)
    used = np.unique(f)
    remap = np.full(len(v), -1)
    remap[used] = np.arange(len(used))
    return v[used], remap[f]


def write_obj(path: Path, verts: np.ndarray, faces: np.ndarray) -> Path:
    lines = [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in verts]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")
    return path


def speech_clip(seconds: float = 1.5, offset: float = 1.0) -> np.ndarray:
    """(S,) float32 16 kHz: a slice of the demo speech (a held-out voice)."""
    import soundfile as sf

    data, sr = sf.read(str(DEMO / "speech.wav"), dtype="float32")
    assert sr == 16000
    a = int(offset * sr)
    return data[a:a + int(seconds * sr)]


def write_wav(path: Path, samples: np.ndarray, sr: int = 16000) -> Path:
    import soundfile as sf

    sf.write(str(path), samples, sr, subtype="PCM_16")
    return path
