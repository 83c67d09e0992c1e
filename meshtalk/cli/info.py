"""``meshtalk info MESH``: counts, bounds, manifoldness, components and problems of a mesh."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("info", help="describe a mesh or point cloud and what is wrong with it")
    p.add_argument("mesh", help="mesh (.obj .ply .stl .off .glb) or point cloud (.ply .xyz .npy)")
    p.set_defaults(func=run)


def run(args) -> int:
    from meshtalk.geometry.io import inspect_mesh, load_mesh

    mesh = load_mesh(args.mesh, validate=False)
    report = inspect_mesh(mesh.verts, mesh.faces)
    print(f"file:          {mesh.path}")
    print(report.summary())
    fatal = report.n_verts == 0 or report.n_nonfinite_verts or report.n_out_of_range_faces
    return 1 if fatal else 0
