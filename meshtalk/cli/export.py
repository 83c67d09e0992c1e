"""``meshtalk export``: turn a motion ``.npy`` into files Blender (and others) open."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand to the ``meshtalk`` parser."""
    from meshtalk.export.bundle import DEFAULT_FORMATS, FILE_NAMES, FORMATS

    p = subparsers.add_parser(
        "export",
        help="export a motion sequence (.npy) to Blender: glb, pc2 + obj, mdd, mesh sequences",
        description=(
            "Write MOTION, a .npy of vertex positions (T, V, 3) or (T, V*3) in the vertex order "
            "of --mesh, into OUT/: " + ", ".join(f"{k}={v}" for k, v in FILE_NAMES.items())
            + ". Then run `blender --python OUT/open_in_blender.py`. All files are written, or "
            "none."
        ),
    )
    p.add_argument("motion", type=Path, metavar="MOTION.npy", help="motion, (T, V, 3) or (T, V*3)")
    p.add_argument("--mesh", type=Path, required=True, metavar="NEUTRAL",
                   help="the neutral mesh (.obj/.ply/...) whose triangles and vertex order MOTION uses")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT/", help="output folder")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of MOTION (default 30)")
    p.add_argument("--audio", type=Path, metavar="SPEECH.wav",
                   help="speech copied next to the exports and added to the Blender scene")
    p.add_argument("--formats", nargs="+", default=list(DEFAULT_FORMATS), metavar="FMT",
                   help=f"any of {', '.join(FORMATS)}, or all (space or comma separated; "
                        f"default: {' '.join(DEFAULT_FORMATS)})")
    p.add_argument("--glb-mode", choices=("pca", "exact"), default="pca",
                   help="glb morph targets: PCA basis (compact, error reported; default) or one "
                        "per frame (exact, short clips)")
    p.add_argument("--components", type=int, metavar="K",
                   help="PCA morph targets in the glb (default: chosen from --max-error)")
    p.add_argument("--max-error", type=float, metavar="DIST",
                   help="largest glb reconstruction error allowed, in mesh units "
                        "(default: 2e-4 of the mesh's bounding-box diagonal)")
    p.add_argument("--blender-source", choices=("pc2", "mdd", "glb"),
                   help="what open_in_blender.py loads by default (default: pc2 if exported)")
    p.add_argument("--overwrite", action="store_true", help="replace files already in OUT/")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``meshtalk export``; returns the exit status."""
    from meshtalk.export.bundle import export_animation
    from meshtalk.geometry.io import load_mesh

    if not args.motion.is_file():
        raise MeshtalkError(f"motion file not found: {args.motion}")
    try:
        motion = np.load(args.motion, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise MeshtalkError(f"cannot read motion {args.motion} as a .npy array: "
                            f"{' '.join(str(exc).split())}") from None
    mesh = load_mesh(args.mesh)
    if mesh.is_point_cloud:
        raise MeshtalkError(f"{args.mesh} has no triangles; export needs a triangle mesh")
    formats = [f for item in args.formats for f in item.split(",") if f]
    result = export_animation(
        args.output, mesh.verts, mesh.faces, motion, args.fps, audio_path=args.audio,
        formats=formats, glb_mode=args.glb_mode, n_components=args.components,
        max_error=args.max_error, blender_source=args.blender_source, overwrite=args.overwrite,
    )
    t, v = np.shape(motion)[0], len(mesh.verts)
    print(f"exported {t} frames x {v} vertices at {args.fps:g} fps to {result.out_dir}/")
    for key, path in result.files.items():
        extra = f"  ({result.glb.summary()})" if key == "glb" and result.glb else ""
        print(f"  {path.name}{extra}")
    if "blender" in result.files:
        print(f"open it: blender --python {result.files['blender']}")
    return 0
