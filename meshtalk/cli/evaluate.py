"""``meshtalk evaluate``: lip-sync metrics of predicted sequences against ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from meshtalk.errors import MeshtalkError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand to the ``meshtalk`` parser."""
    p = subparsers.add_parser(
        "evaluate",
        help="lip-sync metrics: LVE/MVE/FDD, mouth-curve DTW/Frechet/lag, Chamfer/Hausdorff/kernel",
        description=(
            "Compare the sequences in PRED with those of the same name in GT. Each directory holds "
            "vertices_npy/*.npy or *.npy ((T, V*3) or (T, V, 3), FaceFormer layout) or *.npz with "
            "verts (T, V, 3) and faces (unregistered layout). Prints a table; the mask used is printed "
            "beside every number. Definitions: docs/metrics.md."
        ),
    )
    p.add_argument("pred", type=Path, metavar="PRED", help="directory of predicted sequences")
    p.add_argument("gt", type=Path, metavar="GT", help="directory of ground-truth sequences")
    p.add_argument("--lip-mask", type=Path, metavar="FILE",
                   help="lip vertex indices (.npy/.txt/.pkl/.mat) for LVE; default: automatic lip region")
    p.add_argument("--lip-mask-key", metavar="KEY", help="entry of a .pkl/.mat/.npz lip mask (e.g. lips, lips_idx)")
    p.add_argument("--upper-mask", type=Path, metavar="FILE", help="upper-face vertex indices for FDD")
    p.add_argument("--upper-mask-key", metavar="KEY", help="entry of a .pkl/.mat/.npz upper-face mask")
    p.add_argument("--one-based", action="store_true", help="mask files count vertices from 1 (MATLAB .mat)")
    p.add_argument("--templates", type=Path, metavar="templates.pkl",
                   help="FaceFormer templates {subject: (V, 3)}: needed for FDD, used as the neutral for landmarks")
    p.add_argument("--faces", type=Path, metavar="MESH",
                   help="a mesh (.obj/.ply) whose triangles the .npy sequences use (helps the lip landmarks)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate after striding (default 30)")
    p.add_argument("--gt-stride", type=int, default=1, help="keep every n-th GT frame (VOCASET on disk: 2)")
    p.add_argument("--pred-stride", type=int, default=1, help="keep every n-th predicted frame")
    p.add_argument("--audio", type=Path, metavar="DIR", help="directory with <name>.wav for speech correlation")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--registered", dest="mode", action="store_const", const="registered",
                      help="require the same meshing (error otherwise)")
    mode.add_argument("--unregistered", dest="mode", action="store_const", const="unregistered",
                      help="correspondence-free metrics only")
    p.set_defaults(mode="auto")
    p.add_argument("--orientation", default="canonical",
                   help="face orientation for lip landmarks: canonical (+y up, +z forward), auto, "
                        "or 'ux,uy,uz,fx,fy,fz' (up and forward vectors)")
    p.add_argument("--pointsets", action="store_true", help="Chamfer/Hausdorff also for registered pairs")
    p.add_argument("--kernel-sigma", type=float, metavar="S", help="compute the varifold kernel distance with width S")
    p.add_argument("--max-points", type=int, metavar="N", help="subsample frames to N points for Chamfer/Hausdorff")
    p.add_argument("--nan", choices=("omit", "raise"), default="omit",
                   help="frames with NaN/inf: leave out and count them (default) or stop")
    p.add_argument("--device", help="torch device for point-set distances (default: cpu)")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write the full report as JSON")
    p.add_argument("--csv", type=Path, metavar="OUT.csv", help="write per-sequence rows as CSV")
    p.add_argument("--overwrite", action="store_true", help="replace existing --json/--csv files")
    p.set_defaults(func=run)


def _orientation(text: str) -> object:
    if text in ("canonical", "auto"):
        return text
    try:
        vals = [float(x) for x in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 6:
        raise MeshtalkError(f"--orientation must be canonical, auto or six numbers 'ux,uy,uz,fx,fy,fz', got {text!r}")
    return (vals[:3], vals[3:])


def run(args: argparse.Namespace) -> int:
    """Run ``meshtalk evaluate``; returns the exit status."""
    import numpy as np

    from meshtalk.metrics.evaluate import evaluate_directories, load_templates
    from meshtalk.metrics.masks import load_region_mask

    for out in (args.json, args.csv):
        if out is not None and out.exists() and not args.overwrite:
            raise MeshtalkError(f"{out} exists; pass --overwrite to replace it")
    lip = upper = None
    if args.lip_mask is not None:
        lip = load_region_mask(args.lip_mask, name="lips", key=args.lip_mask_key, one_based=args.one_based)
    if args.upper_mask is not None:
        upper = load_region_mask(args.upper_mask, name="upper-face", key=args.upper_mask_key, one_based=args.one_based)
    templates = load_templates(args.templates) if args.templates is not None else None
    faces = None
    if args.faces is not None:
        if not args.faces.is_file():
            raise MeshtalkError(f"mesh not found: {args.faces}")
        import trimesh

        try:
            mesh = trimesh.load(args.faces, process=False, force="mesh")
        except Exception as exc:
            raise MeshtalkError(f"{args.faces}: cannot read mesh ({type(exc).__name__}: {exc})") from None
        faces = np.asarray(mesh.faces, dtype=np.int64)
    report = evaluate_directories(
        args.pred, args.gt, lip_mask=lip, upper_mask=upper, templates=templates, faces=faces,
        fps=args.fps, gt_stride=args.gt_stride, pred_stride=args.pred_stride, mode=args.mode,
        orientation=_orientation(args.orientation), audio_dir=args.audio,
        pointsets=True if args.pointsets else None, kernel_sigma=args.kernel_sigma,
        max_points=args.max_points, nan_policy=args.nan, device=args.device,
    )
    sys.stdout.write(report.table() + "\n")
    if args.json is not None:
        report.write_json(args.json)
    if args.csv is not None:
        report.write_csv(args.csv)
    return 0
