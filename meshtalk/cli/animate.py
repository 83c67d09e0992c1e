"""``meshtalk animate MESH AUDIO -o OUT/``: animate a face scan from speech and export it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from meshtalk.errors import MeshtalkError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``animate`` subcommand to the ``meshtalk`` parser."""
    from meshtalk.export import FORMATS

    p = subparsers.add_parser(
        "animate",
        help="animate a face mesh from a speech recording",
        description=(
            "Animate MESH (a neutral face or head scan: obj, ply, stl, off, glb, or a point cloud) "
            "with the speech in AUDIO (wav, flac, mp3, ...; any rate, any length) using the shipped "
            "default model or --model. The scan is placed into the model's frame automatically "
            "(scale, orientation, face direction; override with --up/--front/--scale) and the "
            "result is brought back exactly where the scan was, in its vertex order. Writes "
            "motion.npy (T, V, 3), neutral.obj + animation.pc2, animation.glb, open_in_blender.py "
            "and video.mp4 with the sound into OUT."
        ),
    )
    p.add_argument("mesh", type=Path, metavar="MESH", help="neutral face mesh or point cloud")
    p.add_argument("audio", type=Path, metavar="AUDIO", help="speech recording")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUT",
                   help="output folder (created; existing outputs need --overwrite)")
    p.add_argument("--model", type=Path, metavar="DIR",
                   help="model folder or .safetensors file (default: the shipped model)")
    p.add_argument("--fps", type=float, default=30.0, help="motion frame rate (default 30)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--formats", nargs="+", metavar="FMT",
                   help=f"exports to write, from {', '.join(FORMATS)} or all "
                        f"(default: npy obj pc2 glb blender)")
    video = p.add_mutually_exclusive_group()
    video.add_argument("--video", dest="video", action="store_const", const=True,
                       help="render video.mp4 with the audio (an error if it cannot be rendered)")
    video.add_argument("--no-video", dest="video", action="store_const", const=False,
                       help="no video (default: rendered when a headless renderer is available)")
    p.add_argument("--up", metavar="AXIS",
                   help="the scan's up axis: +y, -z, ... or x,y,z (default: estimated); write "
                        "negative ones with '=': --up=-z")
    p.add_argument("--front", metavar="AXIS",
                   help="the direction the face looks at (default: estimated), e.g. --front=+z")
    p.add_argument("--scale", type=float, metavar="M",
                   help="metres per mesh unit, e.g. 0.001 for millimetres (default: automatic)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs in OUT")
    p.add_argument("--no-cache", action="store_true", help="do not use the operator cache")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run, video=None)


def _fmt_seconds(s: float) -> str:
    return f"{s:.2f} s" if s < 100 else f"{s / 60:.1f} min"


def summary_text(result, out: Path) -> str:
    """The end-of-run summary: frames, fps, time per stage, where the files are."""
    lines = [f"animated {result.n_frames} frames at {result.fps:g} fps "
             f"({result.duration:.2f} s of audio, {result.motion.shape[1]} vertices) "
             f"with {result.model_path}"]
    lines.append(f"placement: {result.placement.describe()} ({'; '.join(result.placement.notes)})")
    stages = ", ".join(f"{k} {_fmt_seconds(v)}" for k, v in result.timings.items())
    lines.append(f"time: {stages}; total {_fmt_seconds(sum(result.timings.values()))}")
    if result.files:
        lines.append(f"files in {out}/:")
        for key, path in result.files.items():
            lines.append(f"  {Path(path).name:<22} ({key})")
    if result.glb_summary:
        lines.append(f"glb: {result.glb_summary}")
    if "blender" in result.files:
        lines.append(f"open in Blender: blender --python {out / 'open_in_blender.py'}")
    for w in result.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Animate, export, print the summary; returns the exit status."""
    from meshtalk.pipeline import animate_to_folder

    if args.fps is not None and not args.fps > 0:
        raise MeshtalkError(f"--fps must be positive, got {args.fps}")
    result = animate_to_folder(
        args.mesh, args.audio, args.out, args.model, fps=args.fps, device=args.device,
        up=args.up, front=args.front, scale=args.scale, formats=args.formats, video=args.video,
        overwrite=args.overwrite, cache=None if args.no_cache else True,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    print(summary_text(result, args.out))
    return 0
