"""``meshtalk render``: render a motion sequence made anywhere into an mp4 with its audio."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError

_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``render`` subcommand to the ``meshtalk`` parser."""
    p = subparsers.add_parser(
        "render",
        help="render a motion sequence (.npy) into a video with sound",
        description=(
            "Render SEQUENCE, a .npy of vertex positions (T, V, 3) or (T, V*3) such as "
            "FaceFormer's output, on the triangles of --mesh, into an H.264 mp4 with AUDIO muxed "
            "in. Frames are checked: a blank frame stops the command instead of being written."
        ),
    )
    p.add_argument("sequence", type=Path, metavar="SEQUENCE",
                   help="motion .npy, (T, V, 3) or (T, V*3)")
    p.add_argument("audio", type=Path, nargs="?", metavar="AUDIO",
                   help="speech to mux (wav, flac, mp3, m4a, ...); omit for a silent video")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="VIDEO.mp4",
                   help="the video to write (replaced only once it is complete)")
    p.add_argument("--mesh", type=Path, metavar="MESH",
                   help="mesh (.obj/.ply/...) whose triangles and vertex order SEQUENCE uses")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of SEQUENCE (default 30)")
    p.add_argument("--compare", type=Path, metavar="OTHER.npy",
                   help="second sequence shown alongside (e.g. the ground truth)")
    p.add_argument("--heatmap", action="store_true",
                   help="add a panel coloured by the distance to --compare (or, without it, "
                        "by each vertex's displacement from --mesh)")
    p.add_argument("--error-max", type=float, metavar="DIST",
                   help="distance shown with the hottest colour (default: 99th percentile)")
    p.add_argument("--labels", nargs="+", metavar="TEXT", help="one title per panel")
    p.add_argument("--size", type=int, default=512, help="panel size in pixels (default 512)")
    p.add_argument("--face-direction", default="+z", metavar="AXIS",
                   help="direction the face looks at: +z, +x, ... or x,y,z (default +z); "
                        "write negative ones with '=': --face-direction=-x")
    p.add_argument("--up", default="+y", metavar="AXIS",
                   help="the head's up axis (default +y; --up=-z for a negative one)")
    p.add_argument("--fit-audio", action="store_true",
                   help="pad or cut the audio to the motion's length when they differ")
    p.add_argument("--supersample", type=int, choices=(1, 2, 3, 4), metavar="N",
                   help="render at N times the size and average down (default: 2 on OSMesa, "
                        "1 on EGL, which multisamples); 1 on OSMesa is about 2.5x faster, with "
                        "jagged outlines")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def parse_direction(text: str) -> tuple[float, float, float]:
    """Parse ``"+z"``, ``"-y"`` or ``"0,0.2,1"`` into a 3-vector.

    Raises:
        MeshtalkError: anything else.
    """
    s = text.strip().lower()
    sign = -1.0 if s.startswith("-") else 1.0
    if s.lstrip("+-") in _AXES:
        return tuple(sign * c for c in _AXES[s.lstrip("+-")])
    try:
        vec = tuple(float(c) for c in s.split(","))
    except ValueError:
        vec = ()
    if len(vec) != 3 or not np.all(np.isfinite(vec)) or not np.any(vec):
        raise MeshtalkError(f"bad direction {text!r}: use +x, -y, +z, ... or x,y,z")
    return vec


def load_sequence(path: Path, what: str = "sequence") -> np.ndarray:
    """Load a motion ``.npy`` without unpickling.

    Returns:
        The array as stored, (T, V, 3) or (T, V*3).

    Raises:
        MeshtalkError: missing or unreadable file.
    """
    if not path.is_file():
        raise MeshtalkError(f"{what} not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise MeshtalkError(f"cannot read {what} {path} as a .npy array: "
                            f"{' '.join(str(exc).split())}") from exc


def run(args: argparse.Namespace) -> int:
    """Run ``meshtalk render``; returns the exit status."""
    from meshtalk.geometry.io import load_mesh
    from meshtalk.render.sequence import as_motion, render_video

    motion = load_sequence(args.sequence)
    if args.mesh is None:
        raise MeshtalkError(f"{args.sequence.name} has vertex positions only: pass --mesh MESH "
                            "(the mesh whose triangles and vertex order it uses)")
    mesh = load_mesh(args.mesh)
    if mesh.is_point_cloud:
        raise MeshtalkError(f"{args.mesh} has no triangles; rendering needs a triangle mesh")
    verts, faces = mesh.verts, mesh.faces
    motion = as_motion(motion, len(verts), name=f"sequence {args.sequence.name}")
    compare = None
    if args.compare is not None:
        compare = load_sequence(args.compare, "comparison sequence")
    labels = args.labels
    if labels is None and (compare is not None or args.heatmap):
        labels = [args.sequence.stem] + ([args.compare.stem] if compare is not None else [])
        if args.heatmap:
            labels.append("error" if compare is not None else "displacement")
    summary = render_video(
        motion, faces, args.output, args.audio,
        fps=args.fps, compare=compare, labels=labels, heatmap=args.heatmap,
        neutral=verts, error_max=args.error_max, size=args.size,
        face_direction=parse_direction(args.face_direction), up=parse_direction(args.up),
        fit_audio=args.fit_audio, supersample=args.supersample, progress=not args.no_progress,
    )
    sound = "with audio" if args.audio is not None else "silent"
    print(f"wrote {summary.path} ({summary.num_frames} frames at {summary.fps:g} fps, "
          f"{summary.size[0]}x{summary.size[1]}, {sound}; "
          f"{1000 * summary.seconds_per_frame:.0f} ms/frame)")
    return 0
