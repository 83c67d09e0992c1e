"""Choose the headless OpenGL platform (OSMesa or EGL) at run time.

PyOpenGL binds its platform once, when ``OpenGL`` is first imported, from the environment
variable ``PYOPENGL_PLATFORM``. A platform that fails cannot be swapped for another inside the
same process, so each candidate is *probed in a child process* (create a tiny offscreen context
and render one empty frame) and the first that works is written to ``PYOPENGL_PLATFORM`` before
this process imports ``OpenGL``.

Order: a platform the user set in ``PYOPENGL_PLATFORM`` (no fallback: if it fails, the error says
so); otherwise EGL, then OSMesa. EGL comes first because it draws with 4× multisampling and can use
a GPU. On Mesa llvmpipe, OSMesa is faster only without anti-aliasing; with the 2×2 supersampling
that :class:`~meshtalk.render.renderer.MeshRenderer` applies on OSMesa to match EGL's image
quality it costs about as much CPU time as EGL (see ``benchmarks/render.py``). With a display
(and always on macOS and Windows, which have neither), pyrender's hidden pyglet window is the
last resort.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from meshtalk.errors import MeshtalkError, MissingExtraError

logger = logging.getLogger(__name__)

#: Headless platforms tried, in order, on Linux when the user did not set ``PYOPENGL_PLATFORM``.
DEFAULT_CANDIDATES: tuple[str, ...] = ("egl", "osmesa")

#: Not a PyOpenGL platform: pyrender's own hidden window (pyglet), used when
#: ``PYOPENGL_PLATFORM`` is unset. Needs a display; the only choice on macOS and Windows.
WINDOWED = "pyglet"

#: What to install for each platform (shown when none works).
INSTALL_HINTS: Mapping[str, str] = {
    "osmesa": "apt-get install libosmesa6 and pip install 'PyOpenGL>=3.1.5'",
    "egl": "apt-get install libegl1 libgl1-mesa-dri (or an NVIDIA driver with EGL)",
    WINDOWED: "a desktop session with OpenGL and pip install 'pyglet<2'",
}

ENV_VAR = "PYOPENGL_PLATFORM"
PROBE_TIMEOUT_S = 60.0

# Run in a child process with PYOPENGL_PLATFORM set: make an 8x8 offscreen context, render an
# empty scene, print the GL renderer string. Any failure exits non-zero with the reason on stderr.
_PROBE_SCRIPT = """
import sys
try:
    import pyrender
    from OpenGL import GL
    scene = pyrender.Scene()
    scene.add(pyrender.PerspectiveCamera(yfov=1.0))
    r = pyrender.OffscreenRenderer(8, 8)
    r.render(scene)
    name = GL.glGetString(GL.GL_RENDERER)
    r.delete()
except Exception as exc:
    msg = (str(exc) or type(exc).__name__).strip().splitlines()
    sys.stderr.write(type(exc).__name__ + ": " + (msg[-1] if msg else "") + "\\n")
    sys.exit(3)
sys.stdout.write((name or b"unknown").decode("utf-8", "replace"))
"""


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of trying one OpenGL platform.

    Attributes:
        platform: ``"osmesa"`` or ``"egl"`` (any value PyOpenGL accepts).
        ok: whether an offscreen context could be made and a frame rendered.
        detail: the GL renderer string when ``ok`` (e.g. ``"llvmpipe (LLVM 15.0.6, 256 bits)"``),
            else a one-line reason.
    """

    platform: str
    ok: bool
    detail: str


def probe_platform(platform: str, timeout: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Try to render with one OpenGL platform in a child process.

    Args:
        platform: value for ``PYOPENGL_PLATFORM``, e.g. ``"osmesa"`` or ``"egl"``.
        timeout: seconds before the probe is declared failed.

    Returns:
        The probe's result; never raises for a failing platform.
    """
    env = dict(os.environ)
    env[ENV_VAR] = platform
    if platform == WINDOWED:
        del env[ENV_VAR]
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE_SCRIPT],
            env=env, capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return ProbeResult(platform, False, f"no answer within {timeout:.0f} s")
    if proc.returncode == 0:
        return ProbeResult(platform, True, proc.stdout.strip() or "unknown renderer")
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    reason = lines[-1] if lines else f"exit status {proc.returncode}"
    return ProbeResult(platform, False, reason[:300])


_chosen: ProbeResult | None = None


def select_platform(
    candidates: Sequence[str] | None = None,
    *,
    environ: MutableMapping[str, str] | None = None,
    probe: Callable[[str], ProbeResult] = probe_platform,
    opengl_imported: bool | None = None,
) -> str:
    """Pick the OpenGL platform for offscreen rendering and export it as ``PYOPENGL_PLATFORM``.

    Args:
        candidates: platforms to try in order when the user has not set ``PYOPENGL_PLATFORM``
            (default: :func:`default_candidates`).
        environ: the environment to read and update (default ``os.environ``).
        probe: how to test one platform (default: :func:`probe_platform`, a child process).
        opengl_imported: whether PyOpenGL is already imported in this process (default: looked
            up in ``sys.modules``); then its platform is fixed and is used as it is.

    Returns:
        The chosen platform name, also written to ``environ["PYOPENGL_PLATFORM"]`` (except
        ``"pyglet"``, which is pyrender's choice when the variable is unset).

    Raises:
        MeshtalkError: the user's platform does not work, or no candidate works (the message
            names each failure and what to install).
    """
    env = os.environ if environ is None else environ
    if opengl_imported is None:
        opengl_imported = "OpenGL" in sys.modules
    user = env.get(ENV_VAR, "").strip()
    if opengl_imported:
        # Too late to choose: PyOpenGL has bound its platform already (e.g. the caller imported
        # pyrender first). Rendering will tell whether it works.
        logger.info("OpenGL already imported; using its platform %r", user or "default")
        return user or "default"
    if user:
        result = probe(user)
        if not result.ok:
            raise MeshtalkError(
                f"offscreen rendering with {ENV_VAR}={user} (set in your environment) failed: "
                f"{result.detail}; unset {ENV_VAR} to let meshtalk choose, or "
                f"{INSTALL_HINTS.get(user, 'install that platform')}"
            )
        logger.info("OpenGL platform %s (from %s): %s", user, ENV_VAR, result.detail)
        return user
    failures = []
    if candidates is None:
        candidates = default_candidates(environ=env)
    for name in candidates:
        result = probe(name)
        if result.ok:
            if name != WINDOWED:
                env[ENV_VAR] = name
            if failures:
                logger.warning("OpenGL platform %s unavailable (%s); using %s",
                               failures[0].platform, failures[0].detail, name)
            logger.info("OpenGL platform %s: %s", name, result.detail)
            return name
        failures.append(result)
    tried = "; ".join(f"{r.platform}: {r.detail}" for r in failures)
    hints = " or ".join(INSTALL_HINTS.get(r.platform, r.platform) for r in failures)
    raise MeshtalkError(f"no headless OpenGL platform works ({tried}); to fix: {hints}")


def default_candidates(system: str | None = None,
                       environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Platforms worth trying on this system, in order.

    Args:
        system: ``sys.platform`` (default: this one).
        environ: the environment (default ``os.environ``), to see whether a display exists.

    Returns:
        On Linux: EGL, OSMesa, and a hidden window last when a display is set. Elsewhere (macOS,
        Windows, which have neither EGL nor OSMesa from PyOpenGL): the hidden window.
    """
    system = sys.platform if system is None else system
    env = os.environ if environ is None else environ
    if not system.startswith("linux"):
        return (WINDOWED,)
    has_display = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return DEFAULT_CANDIDATES + ((WINDOWED,) if has_display else ())


def ensure_platform() -> str:
    """Select the platform once per process (cached), before ``pyrender`` is imported.

    Returns:
        The platform in use.

    Raises:
        MissingExtraError: ``pyrender`` is not installed.
        MeshtalkError: no platform works.
    """
    global _chosen
    if _chosen is None:
        import importlib.util

        if importlib.util.find_spec("pyrender") is None:
            raise MissingExtraError("pyrender", "render", "Rendering")
        name = select_platform()
        _chosen = ProbeResult(name, True, "")
    return _chosen.platform


def import_pyrender():
    """Import ``pyrender`` after choosing the OpenGL platform.

    Returns:
        The ``pyrender`` module.
    """
    ensure_platform()
    import pyrender

    return pyrender
