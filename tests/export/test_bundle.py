"""export_animation: every file or none, under all the ways writing can fail."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import wave

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.export import gltf
from meshtalk.export.bundle import DEFAULT_FORMATS, FILE_NAMES, export_animation
from tests.export.formats import decode_glb_animation, decode_mdd, decode_pc2, parse_obj


def write_wav(path, seconds=0.5, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        t = np.arange(int(seconds * rate)) / rate
        w.writeframes((3000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes())
    return path


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_default_formats(tmp_path, animation):
    neutral, faces, motion = animation
    result = export_animation(tmp_path / "out", neutral, faces, motion, 30)
    out = tmp_path / "out"
    assert listing(out) == sorted(FILE_NAMES[f] for f in DEFAULT_FORMATS)  # no temporary files
    np.testing.assert_array_equal(np.load(out / "motion.npy"), motion.astype(np.float32))
    v, f, _ = parse_obj(out / "neutral.obj")
    np.testing.assert_array_equal(np.float32(v), np.float32(neutral))
    np.testing.assert_array_equal(f, faces)
    np.testing.assert_array_equal(decode_pc2(out / "animation.pc2")["points"], np.float32(motion))
    decode_glb_animation(out / "animation.glb")
    assert result.glb is not None and result.glb.path == out / "animation.glb"
    assert set(result.files) == set(DEFAULT_FORMATS)


def test_all_formats_with_audio(tmp_path, animation):
    neutral, faces, motion = animation
    wav = write_wav(tmp_path / "speech.WAV")
    result = export_animation(tmp_path / "out", neutral, faces, motion, 25, audio_path=wav,
                              formats=["all"], glb_mode="exact")
    out = tmp_path / "out"
    assert listing(out) == sorted([*FILE_NAMES.values(), "audio.wav"])
    assert (out / "audio.wav").read_bytes() == wav.read_bytes()
    assert len(list((out / "frames_ply").iterdir())) == len(motion)
    np.testing.assert_array_equal(decode_mdd(out / "animation.mdd")["points"], np.float32(motion))
    script = (out / "open_in_blender.py").read_text()
    assert "SOURCE = 'pc2'" in script and "AUDIO = 'audio.wav'" in script
    assert result.glb.mode == "exact" and result.files["audio"] == out / "audio.wav"


def test_pc2_brings_the_mesh(tmp_path, animation):
    neutral, faces, motion = animation
    export_animation(tmp_path, neutral, faces, motion, 30, formats=["pc2"])
    assert listing(tmp_path) == ["animation.pc2", "neutral.obj"]


@pytest.mark.parametrize("kwargs, match", [
    ({"formats": ["fbx"]}, "unknown export format"),
    ({"formats": []}, "no export format"),
    ({"formats": ["npy", "blender"]}, "needs one of the formats"),
    ({"glb_mode": "lossy"}, "glb mode"),
    ({"audio_path": "missing.wav"}, "audio file not found"),
    ({"formats": ["glb", "blender"], "blender_source": "pc2"}, "not exported"),
    ({"fps": 0}, "fps"),
])
def test_bad_options_write_nothing(tmp_path, animation, kwargs, match):
    neutral, faces, motion = animation
    args = {"fps": 30, **kwargs}
    with pytest.raises(MeshtalkError, match=match):
        export_animation(tmp_path / "out", neutral, faces, motion, **args)
    assert not (tmp_path / "out").exists()


def test_nan_motion_writes_nothing(tmp_path, animation):
    neutral, faces, motion = animation
    motion = motion.copy()
    motion[5, 7, 1] = np.nan
    with pytest.raises(MeshtalkError, match="NaN or inf in 1 frame"):
        export_animation(tmp_path / "out", neutral, faces, motion, 30)
    assert not (tmp_path / "out").exists()


def test_output_dir_is_a_file(tmp_path, animation):
    neutral, faces, motion = animation
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(MeshtalkError, match="is a file, not a directory") as err:
        export_animation(tmp_path / "out", neutral, faces, motion, 30)
    assert "\n" not in str(err.value)
    assert (tmp_path / "out").read_text() == "not a folder"


def test_simulated_disk_full_leaves_no_file(tmp_path, animation, monkeypatch):
    """The glb is written after npy/obj/pc2: those must not appear under their final names."""
    neutral, faces, motion = animation
    (tmp_path / "notes.txt").write_text("mine")

    def full(fh, data):
        fh.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gltf, "write_chunked", full)
    with pytest.raises(MeshtalkError, match="no space left on the device") as err:
        export_animation(tmp_path, neutral, faces, motion, 30)
    assert "\n" not in str(err.value)
    assert listing(tmp_path) == ["notes.txt"]


def test_failed_overwrite_restores_previous_files(tmp_path, animation, monkeypatch):
    neutral, faces, motion = animation
    export_animation(tmp_path, neutral, faces, motion[:5], 30)
    before = {name: (tmp_path / name).read_bytes() for name in listing(tmp_path)}
    with pytest.raises(MeshtalkError, match="already has motion.npy"):
        export_animation(tmp_path, neutral, faces, motion, 30)
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):  # fail while renaming the staged files into place
        calls.append(dst)
        if str(src).endswith(".tmp") and str(dst).endswith("animation.glb"):
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(MeshtalkError, match="Input/output error"):
        export_animation(tmp_path, neutral, faces, motion, 30, overwrite=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert {name: (tmp_path / name).read_bytes() for name in listing(tmp_path)} == before
    export_animation(tmp_path, neutral, faces, motion, 30, overwrite=True)
    assert np.load(tmp_path / "motion.npy").shape[0] == len(motion)
    assert listing(tmp_path) == sorted(before)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A real 64 KiB file system (needs root and mount); yields its mount point."""
    point = tmp_path / "tiny"
    point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


def test_real_disk_full(tiny_tmpfs, animation):
    neutral, faces, motion = animation
    # the size estimate passes for glb (its size is known only once encoded): real ENOSPC
    with pytest.raises(MeshtalkError, match="no space left on the device"):
        export_animation(tiny_tmpfs / "out", neutral, faces, motion, 30,
                         formats=["glb"], glb_mode="exact")
    assert listing(tiny_tmpfs) == []
    with pytest.raises(MeshtalkError, match="not enough space"):  # caught before writing
        export_animation(tiny_tmpfs / "out", neutral, faces, np.repeat(motion, 4, axis=0), 30)
    assert listing(tiny_tmpfs) == []  # not even the folder it created


def test_no_write_permission(tmp_path, animation, monkeypatch):
    neutral, faces, motion = animation
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root ignores the mode: simulate what a user would see
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(locked)
                            else real_access(p, mode, **kw))
    try:
        with pytest.raises(MeshtalkError, match="no permission to write") as err:
            export_animation(locked, neutral, faces, motion, 30)
        assert "\n" not in str(err.value)
        assert listing(locked) == []
    finally:
        locked.chmod(0o700)


def test_permission_error_while_writing(tmp_path, animation, monkeypatch):
    neutral, faces, motion = animation
    import tempfile

    real = tempfile.mkstemp

    def denied(*args, **kwargs):
        if "animation.pc2" in kwargs.get("prefix", ""):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(MeshtalkError, match="no permission to write"):
        export_animation(tmp_path / "out", neutral, faces, motion, 30)
    assert not (tmp_path / "out").exists()
