"""``meshtalk bench``: quality on the synthetic test split and speed per vertex count, as a report."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from meshtalk.errors import MeshtalkError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` subcommand to the ``meshtalk`` parser."""
    p = subparsers.add_parser(
        "bench",
        help="benchmark a model: lip-sync quality per voice/head/meshing vs baselines, speed per vertex count",
        description=(
            "Run the benchmark suite and write its section of the report (tables and PNG plots). "
            "Quality: the model, the neutral mesh and a loudness-driven jaw on the synthetic test split "
            "(held-out heads, voices and sentences), per voice, head and meshing (registered template, "
            "remeshings, a point cloud, a ~100k-vertex scan in the full run), with lip vertex error "
            "(automatic lip mask), mouth-opening DTW/Frechet and correlation. Speed: precompute, audio "
            "encode and decode time and peak memory per vertex count, each size in a fresh process. "
            "--quick takes a few minutes on 2 cores; the full run takes hours."
        ),
    )
    p.add_argument("--quick", action="store_true",
                   help="small run: 1 head, 2 test voices, 2 sentences, 3 meshings, sizes 2k/8k/20k")
    p.add_argument("--model", type=Path, metavar="DIR",
                   help="model folder or .safetensors file (default: the shipped default model)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="folder for the PNGs and JSON results (default: img/bench next to the report)")
    p.add_argument("--report", type=Path, default=Path("docs/benchmarks.md"), metavar="FILE",
                   help="markdown report whose 'bench' section is written (default docs/benchmarks.md)")
    p.add_argument("--no-quality", dest="quality", action="store_false", help="skip the quality benchmark")
    p.add_argument("--no-speed", dest="speed", action="store_false", help="skip the speed benchmark")
    p.add_argument("--sizes", metavar="N,N,...", help="vertex counts of the speed benchmark (overrides the preset)")
    p.add_argument("--heads", metavar="SEED,...", help="head seeds of the quality benchmark (overrides the preset)")
    p.add_argument("--voices", metavar="VOICE,...",
                   help="voices of the quality benchmark, e.g. flite:awb (default: the installed test voices)")
    p.add_argument("--sentences", type=int, metavar="N", help="test sentences per head and voice (overrides)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--device", help="torch device for the model in the quality run (default cpu)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.set_defaults(func=run)


def _ints(text: str | None, what: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise MeshtalkError(f"--{what} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise MeshtalkError(f"--{what} is empty")
    return values


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def _write_json(path: Path, data: object) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, default=float)
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    import torch

    from meshtalk.bench import plots
    from meshtalk.bench.quality import FULL_MESHINGS, QUICK_MESHINGS, QualityConfig, evaluate_quality, model_predictor
    from meshtalk.bench.report import QUICK_COMMAND, bench_markdown, write_section
    from meshtalk.bench.speed import FULL_SIZES, QUICK_SIZES, measure_speed

    if args.threads < 1:
        raise MeshtalkError(f"--threads must be >= 1, got {args.threads}")
    if not args.quality and not args.speed:
        raise MeshtalkError("nothing to do: both --no-quality and --no-speed given")
    if args.model is not None and not args.model.exists():
        raise MeshtalkError(f"model not found: {args.model}")
    sizes = _ints(args.sizes, "sizes") or (QUICK_SIZES if args.quick else FULL_SIZES)
    heads = _ints(args.heads, "heads") or ((7,) if args.quick else (7, 8, 9))
    report = args.report
    out = args.out if args.out is not None else report.parent / "img" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    speed_seconds = 4.0
    import resource

    t0 = time.perf_counter()
    cpu0 = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))
    quality = speed = None
    links: dict[str, str] = {}

    if args.quality:
        voices = tuple(v.strip() for v in args.voices.split(",") if v.strip()) if args.voices else None
        cfg = QualityConfig(heads=heads, voices=voices, n_voices=2 if args.quick else 4,
                            sentences=args.sentences or (2 if args.quick else 5),
                            meshings=QUICK_MESHINGS if args.quick else FULL_MESHINGS)
        with tempfile.TemporaryDirectory(prefix="meshtalk-bench-ops-") as cache:
            predict, label = model_predictor(args.model, cache=Path(cache), device=args.device)
            label = _rel(Path(label), Path.cwd()) if Path(label).is_absolute() else label
            quality = evaluate_quality(predict, cfg, model_label=label, progress=args.progress)
        _write_json(out / "quality.json", quality.to_json())
        ex = quality.examples
        if "heat" in ex:
            h = ex["heat"]
            links["heatmap"] = _rel(plots.plot_error_heatmap(
                h["verts"], h["faces"], h["error_mm"], out / "error_heatmap.png",
                title=f"model: mean vertex error, {h['name']}"), report.parent)
        if "curves" in ex:
            c = ex["curves"]
            curves = {k: c[k] for k in ("gt", "model", "neutral", "loudness")}
            links["curves"] = _rel(plots.plot_opening_curves(
                curves, c["fps"], out / "opening_curves.png", title=f"{c['name']}: \"{c['text']}\""), report.parent)
        print(f"quality: {len(quality.rows)} sequences in {quality.seconds:.0f} s")
    if args.speed:
        speed = measure_speed(sizes, args.model, seconds=speed_seconds, threads=args.threads, progress=args.progress)
        _write_json(out / "speed.json", [r.__dict__ for r in speed])
        fps = 30.0
        links["speed"] = _rel(plots.plot_speed(
            [r.vertices for r in speed],
            {"precompute (once per mesh)": [r.precompute_s for r in speed],
             "decode, per 1 s of speech": [r.decode_ms_per_frame * fps / 1000.0 for r in speed],
             "audio encode, per 1 s of speech": [r.audio_encode_s / speed_seconds for r in speed]},
            out / "speed.png", title=f"CPU, {args.threads} threads"), report.parent)
    wall = time.perf_counter() - t0
    command = QUICK_COMMAND if args.quick and args.out is None and args.model is None else None
    if command is None:
        parts = ["meshtalk bench"] + (["--quick"] if args.quick else [])
        if args.model is not None:
            parts += ["--model", args.model.as_posix()]
        parts += ["--out", out.as_posix(), "--report", report.as_posix()]
        command = " ".join(parts)
    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime")) - cpu0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    md = bench_markdown(quick=args.quick, wall_s=wall, quality=quality, speed=speed,
                        speed_seconds=speed_seconds, plots=links, command=command, cpu_s=cpu, load=load)
    write_section(report, md)
    print(md)
    print(f"wrote the 'bench' section of {report} and {len(links)} plots in {out} ({wall / 60:.1f} min)")
    return 0
