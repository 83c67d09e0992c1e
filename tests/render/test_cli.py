"""Tests for meshtalk/cli/render.py: ``meshtalk render`` end to end and its one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.cli import main
from meshtalk.cli.render import parse_direction
from meshtalk.errors import MeshtalkError

from .conftest import FPS, NUM_FRAMES, ffprobe, leftovers, needs_ffprobe, needs_pyrender


@pytest.fixture
def inputs(tmp_path, head, motion, wav):
    import trimesh

    mesh = tmp_path / "neutral.obj"
    trimesh.Trimesh(head[0], head[1], process=False).export(mesh)
    seq = tmp_path / "pred.npy"
    np.save(seq, motion.reshape(NUM_FRAMES, -1))  # FaceFormer layout (T, V*3)
    return tmp_path, seq, wav, mesh


def run(argv, capsys):
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@needs_pyrender
@needs_ffprobe
def test_render_command_writes_video_with_sound(inputs, capsys):
    folder, seq, wav, mesh = inputs
    out = folder / "video.mp4"
    rc, stdout, _ = run(["render", str(seq), str(wav), "-o", str(out), "--mesh", str(mesh),
                         "--size", "64", "--fps", str(FPS), "--no-progress",
                         "--supersample", "2"], capsys)
    assert rc == 0 and f"{NUM_FRAMES} frames" in stdout and "with audio" in stdout
    info = ffprobe(out)
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert int(video["nb_read_frames"]) == NUM_FRAMES


def bad_cases(folder, seq, wav, mesh):
    nan = folder / "nan.npy"
    m = np.load(seq)
    m[3, 7] = np.nan
    np.save(nan, m)
    short = folder / "short.npy"
    np.save(short, np.load(seq)[:, :-30])
    junk = folder / "junk.npy"
    junk.write_bytes(b"not numpy")
    out = folder / "video.mp4"
    base = ["-o", str(out), "--mesh", str(mesh), "--size", "64", "--no-progress"]
    return {
        "missing sequence": (["render", str(folder / "none.npy"), str(wav), *base], "not found"),
        "missing audio": (["render", str(seq), str(folder / "none.wav"), *base], "not found"),
        "missing mesh": (["render", str(seq), str(wav), "-o", str(out), "--mesh",
                          str(folder / "none.obj")], "none.obj: no such file"),
        "no mesh": (["render", str(seq), str(wav), "-o", str(out)], "pass --mesh"),
        "vertex mismatch": (["render", str(short), str(wav), *base],
                            "vertices per frame but the mesh has"),
        "nan": (["render", str(nan), str(wav), *base], "NaN or inf in 1 frame"),
        "junk": (["render", str(junk), str(wav), *base], "cannot read sequence"),
        "unwritable": (["render", str(seq), str(wav), "-o", "/proc/video.mp4", "--mesh",
                        str(mesh), "--size", "64"], "cannot write /proc/video.mp4|no permission"),
        "no folder": (["render", str(seq), str(wav), "-o", str(folder / "x" / "v.mp4"),
                       "--mesh", str(mesh)], "does not exist"),
        "bad direction": (["render", str(seq), str(wav), *base, "--face-direction", "front"],
                          "bad direction"),
    }


@pytest.mark.parametrize("case", ["missing sequence", "missing audio", "missing mesh", "no mesh",
                                  "vertex mismatch", "nan", "junk", "unwritable", "no folder",
                                  "bad direction"])
def test_bad_input_is_a_one_line_error_and_no_file(inputs, capsys, case):
    folder = inputs[0]
    argv, match = bad_cases(*inputs)[case]
    before = set(leftovers(folder))
    rc, _, err = run(argv, capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meshtalk: error: ")
    import re

    assert re.search(match, lines[0]), lines[0]
    assert not (folder / "video.mp4").exists()
    assert set(leftovers(folder)) == before


def test_parse_direction():
    assert parse_direction("+z") == (0.0, 0.0, 1.0)
    assert parse_direction("-X") == (-1.0, 0.0, 0.0)
    assert parse_direction("0,0.5,1") == (0.0, 0.5, 1.0)
    for bad in ("up", "0,0,0", "1,2", "nan,0,1"):
        with pytest.raises(MeshtalkError):
            parse_direction(bad)
