"""``meshtalk export`` end to end through the dispatcher."""

from __future__ import annotations

import numpy as np

from meshtalk.cli import main
from meshtalk.export.obj import write_obj
from tests.export.formats import decode_pc2


def inputs(tmp_path, animation):
    neutral, faces, motion = animation
    write_obj(tmp_path / "head.obj", neutral, faces)
    np.save(tmp_path / "motion.npy", motion.reshape(len(motion), -1))  # FaceFormer's (T, V*3)
    return tmp_path / "motion.npy", tmp_path / "head.obj"


def test_export_command(tmp_path, animation, capsys):
    motion_path, mesh_path = inputs(tmp_path, animation)
    code = main(["export", str(motion_path), "--mesh", str(mesh_path), "-o", str(tmp_path / "out"),
                 "--fps", "25", "--formats", "pc2,glb", "blender", "--components", "4"])
    assert code == 0
    out = capsys.readouterr().out
    assert "4 morph targets" in out and "blender --python" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "animation.glb", "animation.pc2", "neutral.obj", "open_in_blender.py"]
    np.testing.assert_array_equal(decode_pc2(tmp_path / "out" / "animation.pc2")["points"],
                                  np.float32(animation[2]))


def test_errors_are_one_line(tmp_path, animation, capsys):
    motion_path, mesh_path = inputs(tmp_path, animation)
    (tmp_path / "file").write_text("x")
    cases = [
        (["--mesh", str(mesh_path), "-o", str(tmp_path / "file")], "is a file"),
        (["--mesh", str(tmp_path / "nope.obj"), "-o", str(tmp_path / "o")], "nope.obj"),
        (["--mesh", str(mesh_path), "-o", str(tmp_path / "o"), "--audio", str(tmp_path / "x.wav")],
         "audio file not found"),
    ]
    for extra, message in cases:
        assert main(["export", str(motion_path), *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("meshtalk: error:") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    assert main(["export", str(tmp_path / "bad.npy"), "--mesh", str(mesh_path), "-o", str(tmp_path / "o")]) == 2
    assert "cannot read motion" in capsys.readouterr().err
