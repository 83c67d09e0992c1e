"""open_in_blender.py text (its run under real Blender is in test_blender_roundtrip.py)."""

from __future__ import annotations

import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.export.blender_script import blender_script_text


def test_compiles_and_holds_settings():
    text = blender_script_text(fps=29.97, num_frames=12, num_verts=100, glb="animation.glb",
                               audio="audio.wav")
    compile(text, "open_in_blender.py", "exec")
    assert "FPS = 29.97" in text and "NUM_FRAMES = 12" in text and "AUDIO = 'audio.wav'" in text
    assert "/" not in text.split("FILES = ")[1].split("\n")[0]  # names only, no paths


@pytest.mark.parametrize("kwargs, match", [
    ({"source": "abc"}, "unknown Blender source"),
    ({"source": "glb"}, "needs animation.glb"),
    ({"source": "mdd"}, "needs neutral.obj"),
    ({"pc2": "/abs/animation.pc2"}, "plain file name"),
    ({"audio": "../speech.wav"}, "plain file name"),
    ({"fps": -1}, "fps"),
])
def test_bad_arguments(kwargs, match):
    args = {"fps": 30, "num_frames": 2, "num_verts": 3, **kwargs}
    with pytest.raises(MeshtalkError, match=match):
        blender_script_text(**args)
