"""``meshtalk animate`` end to end on a small held-out head, and its errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.cli import main
from tests.cli._fixtures import small_head, speech_clip, write_obj, write_wav

FINAL_NAMES = {"motion.npy", "neutral.obj", "animation.pc2", "animation.glb", "open_in_blender.py",
               "audio.wav", "video.mp4"}


@pytest.fixture(scope="module", autouse=True)
def _operator_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESHTALK_CACHE", str(tmp_path_factory.mktemp("operator-cache")))
        yield


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    verts, faces = small_head(1200)
    return {
        "mesh": write_obj(d / "head.obj", verts, faces),
        "verts": verts,
        "audio": write_wav(d / "speech.wav", speech_clip(1.2)),
    }


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("meshtalk: error: ")
    return err[0]


def _final_files(folder):
    return {p.name for p in folder.iterdir()} & FINAL_NAMES if folder.is_dir() else set()


def test_animate_writes_every_default_output(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["animate", str(inputs["mesh"]), str(inputs["audio"]), "-o", str(out), "--no-video"])
    text = capsys.readouterr().out
    assert rc == 0
    assert {"motion.npy", "neutral.obj", "animation.pc2", "animation.glb", "open_in_blender.py",
            "audio.wav"} <= {p.name for p in out.iterdir()}
    motion = np.load(out / "motion.npy")
    assert motion.shape == (round(1.2 * 30), len(inputs["verts"]), 3)
    # no stray temporary files
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    for word in ("36 frames", "30 fps", "placement:", "operators", "animate", "export", str(out)):
        assert word in text, (word, text)
    # the written neutral mesh is the input, vertex order kept
    from meshtalk.geometry import load_mesh

    assert np.allclose(load_mesh(out / "neutral.obj").verts, inputs["verts"], atol=1e-6)


def test_formats_fps_and_overwrite(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["animate", str(inputs["mesh"]), str(inputs["audio"]), "-o", str(out), "--no-video",
            "--formats", "npy", "--fps", "25"]
    assert main(args) == 0
    assert {p.name for p in out.iterdir()} == {"motion.npy"}
    assert np.load(out / "motion.npy").shape[0] == 30
    capsys.readouterr()
    before = (out / "motion.npy").read_bytes()
    assert main(args) == 2                       # existing output, no --overwrite: refused early
    assert "--overwrite" in _error_line(capsys)
    assert (out / "motion.npy").read_bytes() == before
    assert main(args + ["--overwrite"]) == 0


def test_missing_mesh(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["animate", str(tmp_path / "nope.obj"), str(inputs["audio"]), "-o", str(out)])
    assert rc == 2
    assert "nope.obj" in _error_line(capsys)
    assert _final_files(out) == set()


def test_unreadable_audio(inputs, tmp_path, capsys):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage" * 10)
    out = tmp_path / "out"
    rc = main(["animate", str(inputs["mesh"]), str(bad), "-o", str(out), "--no-video"])
    assert rc == 2
    assert "broken.wav" in _error_line(capsys)
    assert _final_files(out) == set()


def test_output_folder_is_a_file(inputs, tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("not a folder")
    rc = main(["animate", str(inputs["mesh"]), str(inputs["audio"]), "-o", str(out), "--no-video"])
    assert rc == 2
    assert "is a file" in _error_line(capsys)
    assert out.read_text() == "not a folder"


def test_bad_axis_and_scale(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["animate", str(inputs["mesh"]), str(inputs["audio"]), "-o", str(out), "--no-video",
               "--up", "sideways"])
    assert rc == 2 and "axis" in _error_line(capsys)
    rc = main(["animate", str(inputs["mesh"]), str(inputs["audio"]), "-o", str(out), "--no-video",
               "--scale", "-3"])
    assert rc == 2 and "--scale" in _error_line(capsys)
    assert _final_files(out) == set()


@pytest.mark.slow
def test_video_with_sound(inputs, tmp_path, capsys):
    """--video: an mp4 with one video stream of T frames and the speech as its audio stream."""
    import json
    import shutil
    import subprocess

    if shutil.which("ffprobe") is None:
        pytest.skip("needs ffprobe (apt-get install ffmpeg)")
    out = tmp_path / "out"
    rc = main(["animate", str(inputs["mesh"]), str(inputs["audio"]), "-o", str(out), "--video",
               "--formats", "npy"])
    if rc != 0:
        err = capsys.readouterr().err
        if "render" in err or "OpenGL" in err or "pyrender" in err:
            pytest.skip(f"no headless renderer here: {err.strip()}")
        pytest.fail(err)
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(out / "video.mp4")],
        capture_output=True, text=True, check=True).stdout)
    kinds = sorted(s["codec_type"] for s in probe["streams"])
    assert kinds == ["audio", "video"]
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert int(video["nb_read_frames"]) == np.load(out / "motion.npy").shape[0] == 36


def test_output_folder_not_writable(inputs, capsys):
    # /proc refuses new entries even for root (directory permissions do not stop root)
    rc = main(["animate", str(inputs["mesh"]), str(inputs["audio"]), "-o", "/proc/meshtalk-out", "--no-video"])
    assert rc == 2
    _error_line(capsys)


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 64 KiB file system (root + mount), so the exports run out of space."""
    import os
    import shutil
    import subprocess

    point = tmp_path / "tiny"
    point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


def test_disk_full_leaves_no_output_under_a_final_name(inputs, tiny_disk, capsys):
    out = tiny_disk / "out"
    rc = main(["animate", str(inputs["mesh"]), str(inputs["audio"]), "-o", str(out), "--no-video"])
    assert rc == 2
    line = _error_line(capsys)
    assert "space" in line.lower() or "disk" in line.lower() or "full" in line.lower(), line
    assert _final_files(out) == set()
