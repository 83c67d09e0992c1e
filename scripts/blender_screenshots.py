"""Screenshots for docs/blender.md: the demo animation opened by its own open_in_blender.py.

Run with Blender's Python (the bpy venv made by scripts/setup-blender.sh):

    .venv-blender/bin/python scripts/blender_screenshots.py out/demo docs/img/blender

It executes OUT/open_in_blender.py exactly as ``blender --python`` would, then renders the
Workbench view of the animated head at a few frames (and prints the scene settings it checks).
"""

import runpy
import sys
from pathlib import Path

import bpy

out_dir, img_dir = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
img_dir.mkdir(parents=True, exist_ok=True)
sys.argv = [str(out_dir / "open_in_blender.py")]
runpy.run_path(str(out_dir / "open_in_blender.py"), run_name="__main__")

scene = bpy.context.scene
obj = next(o for o in scene.objects if o.type == "MESH")
print(f"scene: fps {scene.render.fps}, frames {scene.frame_start}-{scene.frame_end}, "
      f"object {obj.name}, modifiers {[m.type for m in obj.modifiers]}, "
      f"sound strips {len(scene.sequence_editor.strips_all) if scene.sequence_editor else 0}")

# a camera looking at the face (Blender is Z-up; the OBJ importer turned our +Y up into +Z)
bpy.ops.object.select_all(action="DESELECT")
corners = [obj.matrix_world @ v.co for v in obj.data.vertices]
lo = [min(c[i] for c in corners) for i in range(3)]
hi = [max(c[i] for c in corners) for i in range(3)]
centre = [(a + b) / 2 for a, b in zip(lo, hi)]
size = max(b - a for a, b in zip(lo, hi))
cam_data = bpy.data.cameras.new("shot")
cam = bpy.data.objects.new("shot", cam_data)
scene.collection.objects.link(cam)
cam.location = (centre[0], centre[1] - 2.2 * size, centre[2] + 0.1 * size)
cam.rotation_euler = (1.52, 0.0, 0.0)
scene.camera = cam
scene.render.engine = "BLENDER_WORKBENCH"
scene.display.shading.light = "STUDIO"
scene.display.shading.color_type = "SINGLE"
scene.render.resolution_x, scene.render.resolution_y = 480, 480
scene.render.image_settings.file_format = "PNG"
for frame in (0, 60, 150):
    scene.frame_set(frame)
    scene.render.filepath = str(img_dir / f"demo_frame{frame:03d}.png")
    bpy.ops.render.render(write_still=True)
    print("wrote", scene.render.filepath)
