"""glb structure checked against the glTF 2.0 spec, and the morph animation against the motion."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.export.gltf import encode_morph_animation, to_glb
from tests.export.formats import decode_glb_animation


def reconstruct(glb: dict) -> np.ndarray:
    """What a glTF viewer shows at each keyframe: base + Σ w_k target_k, (T, V, 3)."""
    return glb["base"][None] + np.einsum("tk,kvc->tvc", glb["weights"], glb["targets"])


def per_vertex_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


@pytest.mark.parametrize("mode", ["pca", "exact"])
def test_structure_and_reported_error(tmp_path, animation, mode):
    neutral, faces, motion = animation
    report = to_glb(tmp_path / "a.glb", neutral, faces, motion, fps=25, mode=mode)
    glb = decode_glb_animation(tmp_path / "a.glb")  # validates alignment, min/max, sampler
    assert report.file_bytes == (tmp_path / "a.glb").stat().st_size
    np.testing.assert_array_equal(glb["faces"], faces)
    np.testing.assert_allclose(glb["times"], np.arange(len(motion)) / 25, rtol=1e-6)
    assert glb["weights"].min() >= 0 and glb["weights"].max() <= 1  # Blender clamps to sliders
    err = per_vertex_error(reconstruct(glb), motion)
    # the reported error is the error of the stored data (float64 evaluation of float32 arrays)
    assert err.max() == pytest.approx(report.max_error, rel=1e-6, abs=1e-12)
    assert err.mean() == pytest.approx(report.mean_error, rel=1e-6)
    # with no animation playing the default weights give the neutral mesh
    rest = glb["base"] + np.einsum("k,kvc->vc", glb["default_weights"], glb["targets"])
    assert per_vertex_error(rest, neutral).max() < 1e-6
    if mode == "exact":
        assert report.num_targets == len(motion) and report.max_error < 1e-6
        np.testing.assert_array_equal(glb["weights"], np.eye(len(motion)))
    else:
        assert report.num_targets < len(motion)
        diag = np.linalg.norm(neutral.max(0) - neutral.min(0))
        assert report.max_error <= 2e-4 * diag


def test_pca_error_budget_and_component_count(tmp_path, animation):
    neutral, faces, motion = animation
    budgets = [3e-3, 3e-4]
    counts = []
    for budget in budgets:
        anim = encode_morph_animation(neutral, motion, max_error=budget)
        assert anim.max_error <= budget
        counts.append(len(anim.targets))
        # the next smaller basis would break the budget: K is the smallest that meets it
        if len(anim.targets) > 1:
            smaller = encode_morph_animation(neutral, motion, n_components=len(anim.targets) - 1)
            assert smaller.max_error > budget
    assert counts[0] < counts[1]
    fixed = to_glb(tmp_path / "b.glb", neutral, faces, motion, 30, n_components=3)
    assert fixed.num_targets == 3 and fixed.max_error > 1e-4


def test_low_rank_motion_is_exact_with_its_rank(animation):
    neutral, _, _ = animation
    rng = np.random.default_rng(1)
    shapes = rng.standard_normal((2, *neutral.shape)) * 0.01
    coeffs = rng.uniform(-1, 1, (40, 2))
    motion = neutral[None] + np.einsum("tk,kvc->tvc", coeffs, shapes)
    anim = encode_morph_animation(neutral, motion)
    assert len(anim.targets) == 2 and anim.max_error < 1e-6


def test_static_motion(animation):
    neutral, _, _ = animation
    anim = encode_morph_animation(neutral, np.repeat(neutral[None], 5, axis=0))
    assert len(anim.targets) == 1 and anim.max_error < 1e-6 and np.all(np.isfinite(anim.weights))


def test_long_clips_take_directions_from_a_frame_sample():
    """Beyond MAX_BASIS_FRAMES the basis comes from evenly spaced frames; all frames are encoded."""
    rng = np.random.default_rng(2)
    neutral = rng.standard_normal((30, 3))
    shapes = rng.standard_normal((5, 30, 3)) * 0.01
    coeffs = np.sin(np.arange(2500)[:, None] * rng.uniform(0.01, 0.3, 5))
    motion = neutral[None] + np.einsum("tk,kvc->tvc", coeffs, shapes)
    anim = encode_morph_animation(neutral, motion, max_error=1e-6)
    assert len(anim.targets) == 5 and anim.max_error < 1e-6 and anim.weights.shape == (2500, 5)


def test_large_meshes_get_32_bit_indices(tmp_path):
    n = 70000
    verts = np.zeros((n, 3))
    verts[:, 0] = np.arange(n)
    faces = np.stack([np.arange(n - 2), np.arange(1, n - 1), np.arange(2, n)], axis=1)
    to_glb(tmp_path / "big.glb", verts, faces, verts[None].repeat(2, 0), 30, mode="exact")
    glb = decode_glb_animation(tmp_path / "big.glb")
    assert glb["doc"]["accessors"][1]["componentType"] == 5125
    np.testing.assert_array_equal(glb["faces"], faces)


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "fast"}, "glb mode"),
    ({"n_components": 0}, "n_components"),
    ({"max_error": -1.0}, "max_error"),
])
def test_bad_options(tmp_path, animation, kwargs, match):
    neutral, faces, motion = animation
    with pytest.raises(MeshtalkError, match=match):
        to_glb(tmp_path / "a.glb", neutral, faces, motion, 30, **kwargs)
    assert not (tmp_path / "a.glb").exists()


def test_vertex_count_mismatch(tmp_path, animation):
    neutral, faces, motion = animation
    with pytest.raises(MeshtalkError, match="vertices per frame"):
        to_glb(tmp_path / "a.glb", neutral[:-1], faces[:1], motion, 30)
