"""Round trip through a real Blender (the ``bpy`` wheel in ``.venv-blender``).

Blender's own importers read what meshtalk wrote — ``animation.glb`` (glTF importer: shape keys +
action), ``neutral.obj`` + ``animation.pc2``/``.mdd`` (OBJ importer + Mesh Cache modifier), and
``open_in_blender.py`` — and the depsgraph-evaluated vertices at several frames are compared
with the motion, vertex by vertex, on a mesh whose vertex order is shuffled.

Axes: Blender shows meshtalk's +Y-up data Z-up: world = R @ p with R (x, y, z) -> (x, -z, y),
through the OBJ object's rotation (the mesh data, which the cache overwrites, keeps the file's
coordinates) and through the glTF importer's data conversion. Both routes land in the same place.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from meshtalk.export import export_animation, to_glb
from tests.export.conftest import permuted_animation
from tests.export.formats import Y_UP_TO_Z_UP, decode_glb_animation
from tests.export.test_bundle import write_wav

REPO = Path(__file__).resolve().parents[2]
BLENDER_PYTHON = Path(os.environ.get("MESHTALK_BLENDER_PYTHON", REPO / ".venv-blender" / "bin" / "python"))
PROBE = Path(__file__).with_name("blender_probe.py")

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(not BLENDER_PYTHON.exists(),
                       reason=f"no Blender venv at {BLENDER_PYTHON}: run `make setup-blender` "
                              "(scripts/setup-blender.sh)"),
]

FPS = 25
FRAMES = [0, 1, 7, 23]
PC2_RELATIVE_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def blender_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("blender")
    neutral, faces, motion = permuted_animation(n_verts=500, n_frames=24, seed=3)
    main = export_animation(tmp / "main", neutral, faces, motion, FPS,
                            audio_path=write_wav(tmp / "speech.wav", seconds=24 / FPS),
                            formats=("npy", "obj", "pc2", "mdd", "glb", "blender"), n_components=4)
    exact = to_glb(tmp / "main" / "exact.glb", neutral, faces, motion, FPS, mode="exact")
    fractional = export_animation(tmp / "ntsc", neutral, faces, motion, 29.97, formats=("glb", "blender"))
    jobs = [
        {"name": "glb", "kind": "glb", "file": "animation.glb"},
        {"name": "exact", "kind": "glb", "file": "exact.glb"},
        {"name": "pc2", "kind": "pc2"},
        {"name": "mdd", "kind": "mdd"},
        {"name": "script", "kind": "script"},
        {"name": "script_glb", "kind": "script", "args": ["--source", "glb"]},
        {"name": "script_mdd", "kind": "script", "args": ["--source", "mdd"]},
    ]
    for job in jobs:
        job.update(dir=str(tmp / "main"), fps=FPS, frames=FRAMES)
    jobs.append({"name": "ntsc", "kind": "script", "dir": str(tmp / "ntsc"), "frames": FRAMES})
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    done = subprocess.run([str(BLENDER_PYTHON), str(PROBE), str(tmp / "jobs.json"), str(tmp / "result.npz")],
                          capture_output=True, text=True, timeout=240, cwd=tmp)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = dict(np.load(tmp / "result.npz"))
    info = json.loads(str(result.pop("info")))
    return {"neutral": neutral, "motion": motion, "main": main, "exact": exact,
            "fractional": fractional, "result": result, "info": info}


def scale(run):
    neutral = run["neutral"]
    return float(np.linalg.norm(neutral.max(0) - neutral.min(0)))


def test_motion_is_not_trivial(blender_run):
    """Frames differ far more than the tolerances, so order or frame mix-ups cannot pass."""
    motion = blender_run["motion"][FRAMES]
    steps = np.linalg.norm(np.diff(motion, axis=0), axis=-1).max(axis=1)
    assert steps.min() > 1e3 * PC2_RELATIVE_TOLERANCE * scale(blender_run)


@pytest.mark.parametrize("cache", ["pc2", "mdd"])
def test_mesh_cache_matches_motion(blender_run, cache):
    motion, result = blender_run["motion"][FRAMES], blender_run["result"]
    local, world = result[f"{cache}/local"], result[f"{cache}/world"]
    assert local.shape == motion.shape
    tol = PC2_RELATIVE_TOLERANCE * scale(blender_run)
    # mesh data = cache = our coordinates, in our vertex order
    assert np.abs(local - motion).max() <= tol
    # seen Z-up in the world through the OBJ importer's object rotation
    assert np.abs(world - motion @ Y_UP_TO_Z_UP.T).max() <= tol


@pytest.mark.parametrize("name", ["glb", "exact"])
def test_glb_matches_motion_within_reported_error(blender_run, name):
    run = blender_run
    report = run["main"].glb if name == "glb" else run["exact"]
    motion = run["motion"][FRAMES] @ Y_UP_TO_Z_UP.T
    world = run["result"][f"{name}/world"]
    err = np.linalg.norm(world - motion, axis=-1).max()
    float32_slack = 1e-6 * scale(run)
    assert err <= report.max_error + float32_slack
    if name == "glb":
        assert report.num_targets == 4 and report.max_error > 100 * float32_slack  # lossy for real
        # and Blender plays exactly what the file holds
        glb = decode_glb_animation(report.path)
        ours = glb["base"][None] + np.einsum("tk,kvc->tvc", glb["weights"][FRAMES], glb["targets"])
        assert np.abs(world - ours @ Y_UP_TO_Z_UP.T).max() <= float32_slack


@pytest.mark.parametrize("name, fps, audio", [("script", FPS, True), ("script_glb", FPS, True),
                                             ("script_mdd", FPS, True), ("ntsc", 29.97, False)])
def test_open_in_blender_script(blender_run, name, fps, audio):
    run = blender_run
    info = run["info"][name]
    assert info["fps"] == pytest.approx(fps, rel=1e-6)
    assert (info["frame_start"], info["frame_end"]) == (0, len(run["motion"]) - 1)
    assert info["sounds"] == ([["SOUND", 0.0, "audio.wav"]] if audio else [])
    assert not info["cube_left"] and info["objects"] == ["meshtalk_face"]
    report = run["main"].glb if name == "script_glb" else run["fractional"].glb
    exact = name in ("script", "script_mdd")
    tol = PC2_RELATIVE_TOLERANCE * scale(run) if exact else report.max_error + 1e-6 * scale(run)
    world = run["result"][f"{name}/world"]
    assert np.linalg.norm(world - run["motion"][FRAMES] @ Y_UP_TO_Z_UP.T, axis=-1).max() <= tol
