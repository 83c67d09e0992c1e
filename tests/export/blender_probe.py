"""Run by the Blender venv's Python (bpy, numpy<2; no meshtalk): import exported files with
Blender's own importers and record the evaluated vertex positions.

Usage: python blender_probe.py JOBS.json RESULT.npz
JOBS: a list of {"name", "kind": "glb"|"pc2"|"mdd"|"script", "dir", "fps", "frames", "args"}.
"""

import json
import runpy
import sys

import bpy
import numpy as np


def evaluated(obj, frame):
    """World and local coordinates of the depsgraph-evaluated mesh at ``frame``, (V, 3) each."""
    bpy.context.scene.frame_set(frame)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(depsgraph)
    mesh = ev.to_mesh()
    local = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", local)
    local = local.reshape(-1, 3)
    world = np.array(ev.matrix_world)
    ev.to_mesh_clear()
    return local @ world[:3, :3].T + world[:3, 3], local


def new_mesh_object(before):
    made = [ob for ob in bpy.context.scene.objects if ob.name not in before and ob.type == "MESH"]
    assert len(made) == 1, made
    return made[0]


def run(job):
    scene = bpy.context.scene
    before = set(scene.objects.keys())
    folder = job["dir"]
    info = {}
    if job["kind"] == "script":
        sys.argv = [folder + "/open_in_blender.py", "--", *job.get("args", [])]
        runpy.run_path(folder + "/open_in_blender.py", run_name="__main__")
        obj = bpy.data.objects["meshtalk_face"]
        editor = scene.sequence_editor
        strips = list(editor.strips) if editor is not None else []
        info = {
            "fps": scene.render.fps / scene.render.fps_base,
            "frame_start": scene.frame_start,
            "frame_end": scene.frame_end,
            "sounds": [[s.type, s.frame_start, bpy.path.basename(s.sound.filepath)]
                       for s in strips if s.type == "SOUND"],
            "cube_left": "Cube" in bpy.data.objects,
            "objects": sorted(ob.name for ob in scene.objects if ob.type == "MESH"),
        }
    else:
        scene.render.fps = int(job["fps"])
        if job["kind"] == "glb":
            bpy.ops.import_scene.gltf(filepath=folder + "/" + job["file"])
        else:  # Blender's OBJ importer with its default options, then a Mesh Cache modifier
            bpy.ops.wm.obj_import(filepath=folder + "/neutral.obj")
        obj = new_mesh_object(before)
        if job["kind"] in ("pc2", "mdd"):
            mod = obj.modifiers.new("cache", "MESH_CACHE")
            mod.cache_format = job["kind"].upper()
            mod.filepath = folder + "/animation." + job["kind"]
    world, local = zip(*(evaluated(obj, f) for f in job["frames"]))
    return np.stack(world), np.stack(local), info


def main():
    jobs_path, result_path = sys.argv[1], sys.argv[2]  # the script jobs replace sys.argv
    with open(jobs_path) as fh:
        jobs = json.load(fh)
    arrays, infos = {}, {}
    for job in jobs:
        bpy.ops.wm.read_factory_settings(use_empty=job["kind"] != "script")
        world, local, info = run(job)
        arrays[job["name"] + "/world"] = world
        arrays[job["name"] + "/local"] = local
        infos[job["name"]] = info
    arrays["info"] = np.array(json.dumps(infos))
    np.savez(result_path, **arrays)


main()
