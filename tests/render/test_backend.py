"""Tests for meshtalk/render/backend.py: choosing OSMesa/EGL at run time."""

from __future__ import annotations

import logging
import sys

import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.render.backend import (
    DEFAULT_CANDIDATES,
    ENV_VAR,
    default_candidates,
    ProbeResult,
    probe_platform,
    select_platform,
)

from .conftest import needs_pyrender


def fake_probe(working: set[str], calls: list[str]):
    def probe(name: str) -> ProbeResult:
        calls.append(name)
        if name in working:
            return ProbeResult(name, True, "fake renderer")
        return ProbeResult(name, False, f"{name} broken")
    return probe


def test_default_order_is_egl_then_osmesa():
    assert DEFAULT_CANDIDATES == ("egl", "osmesa")


@pytest.mark.parametrize("system, environ, expected", [
    ("linux", {}, ("egl", "osmesa")),
    ("linux", {"DISPLAY": ":0"}, ("egl", "osmesa", "pyglet")),
    ("darwin", {}, ("pyglet",)),
    ("win32", {}, ("pyglet",)),
])
def test_default_candidates_per_system(system, environ, expected):
    assert default_candidates(system, environ) == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux defaults")
def test_headless_linux_tries_egl_then_osmesa_by_default():
    calls = []
    with pytest.raises(MeshtalkError):
        select_platform(environ={}, probe=fake_probe(set(), calls), opengl_imported=False)
    assert calls == ["egl", "osmesa"]


def test_windowed_choice_leaves_the_variable_unset():
    env, calls = {}, []
    assert select_platform(["pyglet"], environ=env, probe=fake_probe({"pyglet"}, calls),
                           opengl_imported=False) == "pyglet"
    assert ENV_VAR not in env


def test_first_working_candidate_wins_without_probing_the_rest():
    env, calls = {}, []
    assert select_platform(environ=env, probe=fake_probe({"osmesa", "egl"}, calls),
                           opengl_imported=False) == "egl"
    assert env[ENV_VAR] == "egl" and calls == ["egl"]


@pytest.mark.parametrize("order", [("egl", "osmesa"), ("osmesa", "egl")])
def test_falls_back_to_the_next_platform_and_says_why(caplog, order):
    env, calls = {}, []
    with caplog.at_level(logging.WARNING, logger="meshtalk.render.backend"):
        chosen = select_platform(order, environ=env, probe=fake_probe({order[1]}, calls),
                                 opengl_imported=False)
    assert chosen == order[1] and env[ENV_VAR] == order[1] and calls == list(order)
    assert f"{order[0]} broken" in caplog.text


def test_none_working_is_one_line_error_naming_what_to_install():
    env = {}
    with pytest.raises(MeshtalkError) as err:
        select_platform(environ=env, probe=fake_probe(set(), []), opengl_imported=False)
    msg = str(err.value)
    assert "\n" not in msg
    assert "osmesa broken" in msg and "egl broken" in msg
    assert "libosmesa6" in msg and "PyOpenGL>=3.1.5" in msg and "libegl1" in msg
    assert ENV_VAR not in env


def test_user_choice_is_respected_without_fallback():
    calls = []
    env = {ENV_VAR: "egl"}
    assert select_platform(environ=env, probe=fake_probe({"egl", "osmesa"}, calls),
                           opengl_imported=False) == "egl"
    assert calls == ["egl"]


def test_user_choice_that_fails_is_reported_not_replaced():
    env = {ENV_VAR: "osmesa"}
    with pytest.raises(MeshtalkError, match=f"{ENV_VAR}=osmesa .*osmesa broken.*unset.*"
                                            "libosmesa6") as err:
        select_platform(environ=env, probe=fake_probe({"egl"}, []), opengl_imported=False)
    assert "\n" not in str(err.value)
    assert env[ENV_VAR] == "osmesa"


def test_opengl_already_imported_keeps_its_platform():
    calls = []
    assert select_platform(environ={ENV_VAR: "osmesa"}, probe=fake_probe(set(), calls),
                           opengl_imported=True) == "osmesa"
    assert calls == []


def test_real_probe_of_unknown_platform_fails_with_reason():
    result = probe_platform("no-such-platform")
    assert not result.ok and result.detail and "\n" not in result.detail


@needs_pyrender
def test_real_probe_finds_a_working_platform():
    results = [probe_platform(name) for name in ("osmesa", "egl")]
    assert any(r.ok for r in results), [r.detail for r in results]
    assert all(r.detail for r in results)


def test_missing_pyrender_names_the_extra(monkeypatch):
    import importlib.util

    from meshtalk.errors import MissingExtraError
    from meshtalk.render import backend

    real = importlib.util.find_spec
    monkeypatch.setattr(backend, "_chosen", None)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyrender" else real(name, *a))
    with pytest.raises(MissingExtraError, match=r"meshtalk\[render\]"):
        backend.ensure_platform()


@needs_pyrender
def test_platform_is_chosen_before_opengl_is_imported():
    """In a fresh process: importing meshtalk.render loads no OpenGL; the first renderer picks
    a platform, exports it, and PyOpenGL runs on that platform."""
    import os
    import subprocess

    code = (
        "import sys, os, numpy as np\n"
        "import meshtalk.render as mr\n"
        "assert 'OpenGL' not in sys.modules and 'pyrender' not in sys.modules\n"
        "v = np.array([[0,0,0],[1,0,0],[0,1,0]], float); f = np.array([[0,1,2]])\n"
        "r = mr.MeshRenderer(f, mr.frame_face(v), 16)\n"
        "import OpenGL.platform as p\n"
        "print(os.environ.get('PYOPENGL_PLATFORM', 'pyglet'), type(p.PLATFORM).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    chosen, platform_class = out.stdout.split()
    assert chosen in DEFAULT_CANDIDATES + ("pyglet",)
    if chosen != "pyglet":  # the windowed route uses GLX/WGL/CGL
        assert chosen.lower() in platform_class.lower()
