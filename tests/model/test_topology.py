"""Topology agnosticism: one model, one surface meshed two ways, the same displacement field."""

import numpy as np
import torch

from meshtalk.model import TalkingHead
from tests.model._ops import ellipsoid, ellipsoid_fibonacci, make_ops
from tests.model._synth import audio_from_envelope, envelope, tiny_config, trained_model


def _transfer(src_verts, src_faces, field, dst_verts):
    """Nearest-point transfer: value of a per-vertex field of ``src`` at (approximately) the
    closest surface point of every ``dst`` vertex: among the triangles around the 3 nearest
    vertices, the one whose clamped barycentric projection is closest; its barycentric weights
    interpolate the field."""
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


def _displacements(model, verts, faces, audio, n_frames):
    ops = make_ops(verts, faces, model.config.k_eig)
    neutral = torch.tensor(verts, dtype=torch.float32)
    with torch.no_grad():
        out = model(neutral, ops, torch.tensor(audio), n_frames)
    return (out - neutral[None]).numpy()


def _relative_disagreement(model, audio, n_frames, n_other=642):
    va, fa = ellipsoid(3)                  # icosphere: 642 vertices
    vb, fb = ellipsoid_fibonacci(n_other)  # Fibonacci sampling, convex-hull triangulation
    da = _displacements(model, va, fa, audio, n_frames)
    db = _displacements(model, vb, fb, audio, n_frames)
    da_on_b = _transfer(va, fa, da, vb)
    err = np.linalg.norm(db - da_on_b, axis=-1).mean()
    scale = np.linalg.norm(db, axis=-1).mean()
    return err / scale, scale


def test_trained_model_agrees_across_meshings():
    model, info = trained_model()
    a = envelope(30, seed=0)
    rel, scale = _relative_disagreement(model, audio_from_envelope(a, 0), 30)
    assert scale > 1e-3
    assert rel < 0.10, f"displacements disagree by {rel:.1%} of their mean magnitude"


def test_random_model_agrees_across_meshings():
    torch.manual_seed(3)
    model = TalkingHead(tiny_config()).eval()
    torch.nn.init.normal_(model.decoder.last_lin.weight, std=0.05)
    for block in [*model.geometry_encoder.blocks, *model.decoder.blocks]:
        torch.nn.init.uniform_(block.diffusion.diffusion_time, 0.0, 0.05)
    rng = np.random.default_rng(0)
    rel, _ = _relative_disagreement(model, rng.standard_normal(16000).astype(np.float32), 30, n_other=900)
    assert rel < 0.10, f"displacements disagree by {rel:.1%} of their mean magnitude"
