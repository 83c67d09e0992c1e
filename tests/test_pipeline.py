"""meshtalk.pipeline: the shipped model animates a held-out head where it is, in its vertex order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.model.audio import num_motion_frames
from meshtalk.pipeline import animate, animate_to_folder, default_model_dir, load_model, resolve_model_path
from tests.cli._fixtures import REPO, small_head, speech_clip

SECONDS = 1.5


@pytest.fixture(scope="module", autouse=True)
def _operator_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESHTALK_CACHE", str(tmp_path_factory.mktemp("operator-cache")))
        yield


@pytest.fixture(scope="module")
def head():
    return small_head(1500)


@pytest.fixture(scope="module")
def model():
    return load_model(None)


@pytest.fixture(scope="module")
def clip():
    return speech_clip(SECONDS)


@pytest.fixture(scope="module")
def base(head, clip, model):
    return animate(head, (clip, 16000), model)


def _tol(motion, neutral):
    return 0.02 * float(np.abs(motion - neutral[None]).max()) + 1e-7


def test_shape_and_frame_count(base, head, clip, model):
    verts, _ = head
    assert base.dtype == np.float32
    assert base.shape == (round(SECONDS * 30), len(verts), 3)
    m25 = animate(head, (clip[: int(1.25 * 16000)], 16000), model, fps=25)
    assert m25.shape[0] == num_motion_frames(int(1.25 * 16000), 25) == round(1.25 * 25)


def test_vertex_order_is_preserved(base, head, clip, model):
    verts, faces = head
    perm = np.random.default_rng(0).permutation(len(verts))
    inv = np.argsort(perm)
    out = animate((verts[perm], inv[faces]), (clip, 16000), model)
    assert np.abs(out - base[:, perm]).max() <= _tol(base, verts)


@pytest.mark.parametrize("turn", ["axes", "oblique"])
def test_result_sits_where_the_scan_is(base, head, clip, model, turn):
    """Rotate, scale and move the scan: the animation rotates, scales and moves the same way."""
    verts, faces = head
    if turn == "axes":   # z-up scan looking along -x: found automatically
        rot = np.array([[0, 0, -1], [-1, 0, 0], [0, 1, 0]], float)
        kw = {}
    else:                # any rotation: given by the user
        q, r = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
        rot = q * np.sign(np.diag(r))
        rot[:, 0] *= np.sign(np.linalg.det(rot))
        kw = {"up": rot @ [0, 1, 0], "front": rot @ [0, 0, 1]}
    s, t = 1000.0, np.array([120.0, -35.0, 900.0])   # millimetres, elsewhere
    out = animate((s * verts @ rot.T + t, faces), (clip, 16000), model, **kw)
    expected = s * base.astype(np.float64) @ rot.T + t
    assert np.abs(out - expected).max() <= s * _tol(base, verts) + 1e-3
    # the neutral part is exact: vertices the model leaves still stay exactly where they were
    still = np.abs(base - verts[None]).max(axis=(0, 2)) < 1e-7
    if still.any():
        assert np.abs(out[:, still] - (s * verts[still] @ rot.T + t)[None]).max() < 1e-3


def test_the_loaded_network_itself_places_like_its_path(base, head, clip, model):
    """Passing the TalkingHead object (not its path) keeps the checkpoint's canonical scale."""
    out = animate(head, (clip, 16000), model.model)
    assert np.abs(out - base).max() <= 1e-5


def test_mouth_moves_with_speech_not_with_silence(base, head, clip, model):
    verts, _ = head
    silent = animate(head, (np.zeros_like(clip), 16000), model)
    speech_motion = np.linalg.norm(base - verts[None], axis=-1).max(axis=1)     # (T,) largest move
    silent_motion = np.linalg.norm(silent - verts[None], axis=-1).max(axis=1)
    assert speech_motion.mean() > 3.0 * silent_motion.mean()
    # the largest motion is around the mouth (lower front of the face), not the skull
    disp = np.linalg.norm(base - verts[None], axis=-1).max(axis=0)
    top = verts[np.argsort(disp)[-20:]]
    centre = (verts.min(0) + verts.max(0)) / 2
    assert np.all(top[:, 1] < centre[1]) and np.all(top[:, 2] > centre[2])


def test_point_cloud_gets_motion_npy_only(head, clip, model, tmp_path):
    verts, _ = head
    res = animate_to_folder(verts, (clip[:8000], 16000), tmp_path / "out", model)
    assert set(res.files) == {"npy"}
    assert any("point cloud" in w for w in res.warnings)
    assert np.load(tmp_path / "out" / "motion.npy").shape == (15, len(verts), 3)


def test_default_model_is_found_next_to_the_package(monkeypatch):
    monkeypatch.delenv("MESHTALK_DEFAULT_MODEL", raising=False)
    assert default_model_dir() == REPO / "data" / "models" / "default"
    path = resolve_model_path(None)
    assert path.is_file() and path.stat().st_size <= 20e6
    loaded = load_model(None)
    assert loaded.canonical and loaded.canonical_per_metre > 0


def test_bad_model_paths(tmp_path, monkeypatch):
    with pytest.raises(MeshtalkError, match="not found"):
        resolve_model_path(tmp_path / "nope")
    with pytest.raises(MeshtalkError, match="no model.safetensors"):
        resolve_model_path(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(MeshtalkError, match="corrupt"):
        load_model(tmp_path)
    monkeypatch.setenv("MESHTALK_DEFAULT_MODEL", str(tmp_path / "missing"))
    with pytest.raises(MeshtalkError, match="default model is missing"):
        resolve_model_path(None)


def test_bad_arguments(head, clip, model):
    with pytest.raises(MeshtalkError, match="fps"):
        animate(head, (clip, 16000), model, fps=-1)
    with pytest.raises(MeshtalkError, match="device"):
        animate(head, (clip, 16000), model, device="tpu")
    with pytest.raises(MeshtalkError, match="format"):
        animate_to_folder(head, (clip, 16000), Path("unused"), model, formats=["fbx"])


def test_a_point_cloud_uses_its_own_normals_in_the_users_frame(head, clip, model, tmp_path):
    """Normals given with a cloud (argument or PLY ``nx ny nz``) are used, turned with the scan."""
    from meshtalk.geometry.frames import mesh_vertex_normals

    verts, faces = head
    nrm = mesh_vertex_normals(verts, faces)
    audio = (clip[:16000], 16000)
    given = animate(verts, audio, model, normals=nrm)
    estimated = animate(verts, audio, model)
    assert np.abs(given - estimated).max() > 1e-6          # they reach the operators
    header = ("ply\nformat ascii 1.0\nelement vertex %d\nproperty float x\nproperty float y\nproperty float z\n"
              "property float nx\nproperty float ny\nproperty float nz\nend_header\n" % len(verts))
    ply = tmp_path / "cloud.ply"
    ply.write_text(header + "".join(" ".join(f"{x:.9g}" for x in (*p, *q)) + "\n" for p, q in zip(verts, nrm)))
    from_file = animate(ply, audio, model)
    assert np.abs(from_file - given).max() <= _tol(given, verts)
    # a z-up scan looking along -x, in millimetres: its normals turn with it
    rot = np.array([[0, 0, -1], [-1, 0, 0], [0, 1, 0]], float)
    turned = animate(1000.0 * verts @ rot.T, audio, model, normals=nrm @ rot.T)
    assert np.abs(turned - 1000.0 * given.astype(np.float64) @ rot.T).max() <= 1000.0 * _tol(given, verts) + 1e-3
    with pytest.raises(MeshtalkError, match="normals"):
        animate(verts, audio, model, normals=np.zeros_like(verts))


def test_a_model_trained_with_the_facing_cut_gets_it_on_clouds_with_normals(head, clip, model, monkeypatch):
    """``config.cut_facing`` reaches the operators of a point cloud that brings its normals."""
    import dataclasses

    import meshtalk.geometry as geometry
    from meshtalk.geometry.frames import mesh_vertex_normals

    verts, faces = head
    nrm = mesh_vertex_normals(verts, faces)
    audio = (clip[:16000], 16000)
    base = model.model.config
    monkeypatch.setattr(model.model, "config", dataclasses.replace(base, cut_facing=False))
    plain = animate(verts, audio, model, normals=nrm, cache=None)
    seen = []
    real = geometry.compute_operators
    monkeypatch.setattr(geometry, "compute_operators", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    monkeypatch.setattr(model.model, "config", dataclasses.replace(base, cut_facing=True, cut_rule="full"))
    cut = animate(verts, audio, model, normals=nrm, cache=None)
    assert seen and seen[-1]["cut_facing"] is True and seen[-1]["cut_rule"] == "full"
    assert np.isfinite(cut).all() and np.abs(cut - plain).max() > 1e-6     # other operators, other motion
    monkeypatch.setattr(model.model, "config", dataclasses.replace(base, cut_facing=True, cut_rule="opposed"))
    opposed = animate(verts, audio, model, normals=nrm, cache=None)
    assert seen[-1]["cut_facing"] is True and seen[-1]["cut_rule"] == "opposed"
    assert np.isfinite(opposed).all()
