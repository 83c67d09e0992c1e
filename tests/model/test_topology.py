"""Topology agnosticism: one model, one surface meshed two ways, the same displacement field.

Acceptance: after nearest-point transfer, the displacement fields agree within 10% of the mean
displacement magnitude. Checked on the tiny trained model across meshings of different kinds and
sizes, and on the shipped default model with the demo head (20k vertices) against a decimated copy.
The transfer itself is checked against an analytic field, so its own error is known to be small.
"""

import numpy as np
import pytest
import torch

from meshtalk.model import TalkingHead
from tests.model._ops import ellipsoid, ellipsoid_fibonacci, make_ops
from tests.model._synth import audio_from_envelope, envelope, tiny_config, trained_model


def _transfer(src_verts, src_faces, field, dst_verts):
    """Nearest-point transfer: value of a per-vertex field of ``src`` at (approximately) the
    closest surface point of every ``dst`` vertex: among the triangles around the 3 nearest
    vertices, the one whose clamped barycentric projection is closest; its barycentric weights
    interpolate the field.

    Args:
        src_verts: (Vs, 3); src_faces: (F, 3); field: (T, Vs, 3); dst_verts: (Vd, 3).

    Returns:
        (T, Vd, 3).
    """
    from scipy.spatial import cKDTree

    _, near = cKDTree(src_verts).query(dst_verts, k=3)
    incident = [[] for _ in range(len(src_verts))]
    for fi, tri in enumerate(src_faces):
        for v in tri:
            incident[v].append(fi)
    weights = np.zeros((len(dst_verts), 3))
    corners = np.zeros((len(dst_verts), 3), np.int64)
    for i, p in enumerate(dst_verts):
        best = np.inf
        for fi in {f for v in near[i] for f in incident[v]}:
            a, b, c = src_verts[src_faces[fi]]
            m = np.stack([b - a, c - a], 1)
            uv = np.linalg.lstsq(m, p - a, rcond=None)[0]
            w = np.clip(np.array([1 - uv.sum(), uv[0], uv[1]]), 0, None)
            w /= w.sum()
            q = w @ np.stack([a, b, c])
            d = np.linalg.norm(p - q)
            if d < best:
                best, weights[i], corners[i] = d, w, src_faces[fi]
    return np.einsum("nk,tnkd->tnd", weights, field[:, corners])


def _relative(src_verts, src_faces, src_field, dst_verts, dst_field):
    moved = _transfer(src_verts, src_faces, src_field, dst_verts)
    return np.linalg.norm(dst_field - moved, axis=-1).mean() / np.linalg.norm(dst_field, axis=-1).mean()


def _displacements(model, verts, faces, audio, n_frames):
    ops = make_ops(verts, faces, model.config.k_eig)
    neutral = torch.tensor(verts, dtype=torch.float32)
    with torch.no_grad():
        out = model(neutral, ops, torch.tensor(audio), n_frames)
    return (out - neutral[None]).numpy()


def _relative_disagreement(model, audio, n_frames, other):
    va, fa = ellipsoid(3)                  # icosphere: 642 vertices
    vb, fb = other
    da = _displacements(model, va, fa, audio, n_frames)
    db = _displacements(model, vb, fb, audio, n_frames)
    return _relative(va, fa, da, vb, db), np.linalg.norm(db, axis=-1).mean()


def test_transfer_of_an_analytic_field_is_accurate():
    va, fa = ellipsoid(3)
    vb, _ = ellipsoid_fibonacci(900)
    field = lambda v: np.stack([np.sin(3 * v[:, 0]), v[:, 1] * v[:, 2], np.cos(2 * v[:, 2])], 1)[None]  # noqa: E731
    assert _relative(va, fa, field(va), vb, field(vb)) < 0.01


@pytest.mark.parametrize("other", ["fibonacci-642", "fibonacci-900", "fibonacci-1500", "icosphere-2562"])
def test_trained_model_agrees_across_meshings(other):
    """The tiny model (trained on the 162-vertex icosphere) on the 642-vertex icosphere vs another
    meshing: Fibonacci points (convex-hull triangulation) of several sizes, a finer icosphere."""
    kind, n = other.split("-")
    mesh = ellipsoid_fibonacci(int(n)) if kind == "fibonacci" else ellipsoid(4)
    model, _ = trained_model()
    a = envelope(30, seed=0)
    rel, scale = _relative_disagreement(model, audio_from_envelope(a, 0), 30, mesh)
    assert scale > 1e-3
    assert rel < 0.10, f"displacements disagree by {rel:.1%} of their mean magnitude"


def test_random_model_agrees_across_meshings():
    torch.manual_seed(3)
    model = TalkingHead(tiny_config()).eval()
    torch.nn.init.normal_(model.decoder.last_lin.weight, std=0.05)
    for block in [*model.geometry_encoder.blocks, *model.decoder.blocks]:
        torch.nn.init.uniform_(block.diffusion.diffusion_time, 0.0, 0.05)
    rng = np.random.default_rng(0)
    rel, _ = _relative_disagreement(model, rng.standard_normal(16000).astype(np.float32), 30,
                                    ellipsoid_fibonacci(900))
    assert rel < 0.10, f"displacements disagree by {rel:.1%} of their mean magnitude"


@pytest.mark.slow
def test_default_model_on_the_demo_head_and_a_decimated_copy():
    """The shipped model through ``meshtalk.animate`` (automatic placement of each mesh), on the
    20k-vertex demo head and the same head decimated to a quarter of its vertices, 2 s of the demo
    speech."""
    from pathlib import Path

    fast_simplification = pytest.importorskip("fast_simplification")
    import soundfile as sf
    import trimesh

    import meshtalk

    root = Path(__file__).resolve().parents[2] / "data"
    head, speech = root / "demo" / "head.obj", root / "demo" / "speech.wav"
    if not (head.is_file() and speech.is_file() and (root / "models" / "default").is_dir()):
        pytest.skip("demo data or default model not in this checkout")
    mesh = trimesh.load(head, process=False)
    va, fa = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces)
    vb, fb = fast_simplification.simplify(va.astype(np.float32), fa, target_reduction=0.75)
    vb = vb.astype(np.float64)
    wave, sr = sf.read(speech, dtype="float32")
    audio = (wave[: 2 * sr], sr)
    da = meshtalk.animate((va, fa), audio, None, cache=None) - va[None]
    db = meshtalk.animate((vb, fb), audio, None, cache=None) - vb[None]
    assert np.linalg.norm(db, axis=-1).mean() > 1e-4                 # metres: it does move
    rel = _relative(va, fa, da, vb, db)
    assert rel < 0.10, f"displacements disagree by {rel:.1%} of their mean magnitude"
