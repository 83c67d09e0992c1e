"""Write ``open_in_blender.py``: a script that loads an exported animation into Blender.

Run it with ``blender --python open_in_blender.py`` (or ``python open_in_blender.py`` where the
``bpy`` module is installed). It finds its files next to itself, so the export folder can be
moved. It

1. removes Blender's default cube (only that: an 8-vertex mesh named "Cube"),
2. sets the scene fps (fractional rates through ``fps_base``) and the frame range 0 .. T-1
   (motion frame t is Blender frame t),
3. imports the animation, either ``neutral.obj`` (Blender's OBJ importer keeps the vertex order
   of a file without ``vt``/``vn``; its default Y-up → Z-up conversion is an object rotation, so
   the mesh data stays in the file's coordinates) with a Mesh Cache modifier reading
   ``animation.pc2`` (or ``.mdd``) in those same coordinates, or ``animation.glb`` through the
   bundled glTF importer (shape keys + action),
4. adds the audio as a sound strip starting at frame 0 and turns on audio sync.

Arguments after ``--``: ``--source pc2|mdd|glb`` to choose the route, ``--save FILE.blend`` to
save the result.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from meshtalk.errors import MeshtalkError
from meshtalk.export._atomic import atomic_open
from meshtalk.export._validation import check_fps

log = logging.getLogger(__name__)

SOURCES = ("pc2", "mdd", "glb")

_TEMPLATE = '''\
"""Open a meshtalk animation in Blender.

Run:  blender --python open_in_blender.py [-- --source pc2|mdd|glb] [--save scene.blend]
  or: python open_in_blender.py [...]        (with the bpy module installed)
Written by meshtalk {version}; the files are looked up next to this script.
"""
import argparse
import math
import os
import sys

import bpy



def _this_file():
    if globals().get("__file__"):
        return __file__
    if "--python" in sys.argv:  # blender --python FILE
        return sys.argv[sys.argv.index("--python") + 1]
    raise SystemExit("open_in_blender.py: run it with `blender --python open_in_blender.py`")


HERE = os.path.dirname(os.path.abspath(_this_file()))
FPS = {fps!r}
NUM_FRAMES = {num_frames!r}
NUM_VERTS = {num_verts!r}
SOURCE = {source!r}
FILES = {files!r}
AUDIO = {audio!r}


def _args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    parser = argparse.ArgumentParser(prog="open_in_blender.py")
    parser.add_argument("--source", choices=sorted(FILES), default=SOURCE)
    parser.add_argument("--save", metavar="FILE.blend")
    return parser.parse_args(argv)


def _path(name):
    path = os.path.join(HERE, name)
    if not os.path.isfile(path):
        raise SystemExit(f"open_in_blender.py: {{name}} is missing next to this script")
    return path


def _set_fps(scene, fps):
    whole = max(1, int(math.ceil(fps - 1e-9)))
    scene.render.fps = whole
    scene.render.fps_base = whole / fps


def _remove_default_cube():
    cube = bpy.data.objects.get("Cube")
    if cube is not None and cube.type == "MESH" and len(cube.data.vertices) == 8:
        bpy.data.objects.remove(cube, do_unlink=True)


def _new_objects(before):
    return [ob for ob in bpy.context.scene.objects if ob.name not in before and ob.type == "MESH"]


def _import_with_cache(scene, source):
    before = set(scene.objects.keys())
    # Defaults spelled out: the Y-up file becomes Z-up through the object's rotation; the mesh
    # data keeps the file's coordinates and vertex order, which the cache is written in.
    bpy.ops.wm.obj_import(filepath=_path(FILES["mesh"]), forward_axis="NEGATIVE_Z", up_axis="Y")
    obj = _new_objects(before)[0]
    if len(obj.data.vertices) != NUM_VERTS:
        raise SystemExit(f"open_in_blender.py: the imported mesh has {{len(obj.data.vertices)}} "
                         f"vertices, the cache {{NUM_VERTS}}")
    mod = obj.modifiers.new("meshtalk", "MESH_CACHE")
    mod.cache_format = source.upper()
    mod.filepath = _path(FILES[source])
    mod.time_mode = "FRAME"
    mod.play_mode = "SCENE"
    mod.frame_start = 0.0
    mod.frame_scale = 1.0
    mod.interpolation = "LINEAR"
    return obj


def _import_glb(scene):
    before = set(scene.objects.keys())
    # The glTF importer keys frame times as time * fps * fps_base: make that product FPS.
    whole = scene.render.fps
    scene.render.fps_base = FPS / whole
    try:
        bpy.ops.import_scene.gltf(filepath=_path(FILES["glb"]))
    finally:
        _set_fps(scene, FPS)
    return _new_objects(before)[0]


def _add_sound(scene):
    editor = scene.sequence_editor or scene.sequence_editor_create()
    strips = getattr(editor, "strips", None)
    if strips is None:  # Blender < 4.4
        strips = editor.sequences
    strips.new_sound("speech", _path(AUDIO), 1, 0)
    scene.sync_mode = "AUDIO_SYNC"


def main():
    args = _args()
    scene = bpy.context.scene
    _remove_default_cube()
    _set_fps(scene, FPS)
    if args.source == "glb":
        obj = _import_glb(scene)
    else:
        obj = _import_with_cache(scene, args.source)
    obj.name = "meshtalk_face"
    for poly in obj.data.polygons:
        poly.use_smooth = True
    scene.frame_start = 0
    scene.frame_end = NUM_FRAMES - 1
    scene.frame_set(0)
    if AUDIO:
        _add_sound(scene)
    if args.save:
        bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(args.save))
    print(f"meshtalk: {{obj.name}} from {{FILES[args.source]}}, {{NUM_FRAMES}} frames at {{FPS:g}} fps"
          + (f", sound {{AUDIO}}" if AUDIO else ""))


main()
'''


def blender_script_text(
    *,
    fps: float,
    num_frames: int,
    num_verts: int,
    source: str = "pc2",
    mesh: str | None = "neutral.obj",
    pc2: str | None = "animation.pc2",
    mdd: str | None = None,
    glb: str | None = None,
    audio: str | None = None,
) -> str:
    """The text of ``open_in_blender.py``.

    Args:
        fps: frames per second of the animation.
        num_frames: T.
        num_verts: V (checked against the imported mesh).
        source: the default route: ``"pc2"``, ``"mdd"`` (both need ``mesh``) or ``"glb"``.
        mesh, pc2, mdd, glb, audio: file names relative to the script's folder, or None when
            not exported.

    Returns:
        Python source.

    Raises:
        MeshtalkError: ``source`` unknown or its files not given.
    """
    from meshtalk import __version__

    fps = check_fps(fps)
    if source not in SOURCES:
        raise MeshtalkError(f"unknown Blender source {source!r}; choose from {SOURCES}")
    files = {}
    if mesh:
        if pc2:
            files["pc2"] = pc2
        if mdd:
            files["mdd"] = mdd
        if pc2 or mdd:
            files["mesh"] = mesh
    if glb:
        files["glb"] = glb
    if source not in files:
        raise MeshtalkError(f"open_in_blender.py with source {source!r} needs "
                            + ("animation.glb" if source == "glb" else f"neutral.obj and the .{source} cache"))
    for name in [*files.values(), audio]:
        if name is not None and (os.path.isabs(name) or Path(name).name != name):
            raise MeshtalkError(f"{name!r} must be a plain file name next to open_in_blender.py")
    return _TEMPLATE.format(version=__version__, fps=fps, num_frames=int(num_frames),
                            num_verts=int(num_verts), source=source, files=files, audio=audio)


def write_blender_script(path: str | os.PathLike, **kwargs) -> Path:
    """Write ``open_in_blender.py`` (atomically); keyword arguments as :func:`blender_script_text`.

    Returns:
        ``path``.

    Raises:
        MeshtalkError: bad arguments or the file cannot be written.
    """
    text = blender_script_text(**kwargs)
    with atomic_open(path) as fh:
        fh.write(text.encode("utf-8"))
    log.info("wrote %s", path)
    return Path(path)
