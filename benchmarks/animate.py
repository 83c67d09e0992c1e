"""End-to-end ``meshtalk animate`` on the bundled demo: time per stage, cold and warm operator cache.

    python benchmarks/animate.py [--threads 2] [--no-report]

Animates ``data/demo/head.obj`` (20k vertices, held out of training) with ``data/demo/speech.wav``
(10.5 s, held-out voice) using the shipped default model, without video (the issue's target:
precompute + animate + export in <= 30 s on 2 CPU cores). Runs the same code as the CLI
(:func:`meshtalk.pipeline.animate_to_folder`): once with an empty operator cache (cold: the
eigenbasis is computed) and once with it filled (warm). Also times the whole command in a fresh
process (imports included). Writes the "animate" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._report import update_section  # noqa: E402

MESH = REPO / "data" / "demo" / "head.obj"
AUDIO = REPO / "data" / "demo" / "speech.wav"
STAGES = ("load", "placement", "operators", "animate", "export")


def run_once(cache: Path, out: Path) -> tuple[dict[str, float], float, float, object]:
    from meshtalk.pipeline import animate_to_folder

    wall, cpu = time.perf_counter(), time.process_time()
    res = animate_to_folder(MESH, AUDIO, out, None, video=False, overwrite=True, cache=cache)
    return res.timings, time.perf_counter() - wall, time.process_time() - cpu, res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-report", action="store_true", help="print only; leave docs/benchmarks.md alone")
    p.add_argument("--no-subprocess", action="store_true", help="skip the fresh-process run")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        for label in ("cold cache", "warm cache"):
            timings, wall, cpu, res = run_once(cache, tmp / "out")
            rows.append((label, timings, wall, cpu))
            print(label, {k: round(v, 2) for k, v in timings.items()}, f"wall {wall:.1f} s, cpu {cpu:.1f} s")
        n_frames, n_verts = res.motion.shape[:2]
        sub = None
        if not args.no_subprocess:
            env = dict(os.environ, MESHTALK_CACHE=str(cache), OMP_NUM_THREADS=str(args.threads))
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "meshtalk", "animate", str(MESH), str(AUDIO), "-o",
                            str(tmp / "out-cli"), "--no-video", "--no-progress"], check=True, env=env,
                           cwd=REPO, stdout=subprocess.DEVNULL)
            sub = time.perf_counter() - t
            print(f"fresh process, warm cache: {sub:.1f} s")
    load_after = os.getloadavg()
    lines = [
        "## animate: the demo end to end (`meshtalk animate`, no video)",
        "",
        f"Command: `python benchmarks/animate.py --threads {args.threads}` — `data/demo/head.obj` "
        f"({n_verts} vertices) + `data/demo/speech.wav` ({n_frames} frames at 30 fps), shipped default "
        f"model, torch threads {args.threads}, {platform.machine()} with {os.cpu_count()} CPU cores "
        f"shared with other jobs: load average {load_before[0]:.1f} before, {load_after[0]:.1f} after. "
        "CPU seconds (this process, all threads) next to wall seconds show how much of the machine "
        "the run actually got.",
        "",
        "| run | " + " | ".join(STAGES) + " | total wall | total CPU |",
        "|---|" + "---|" * (len(STAGES) + 2),
    ]
    for label, timings, wall, cpu in rows:
        lines.append(f"| {label} | " + " | ".join(f"{timings.get(s, 0):.2f} s" for s in STAGES)
                     + f" | {wall:.1f} s | {cpu:.1f} s |")
    if sub is not None:
        lines.append(f"\nWhole command in a fresh process (imports included, warm cache): {sub:.1f} s wall.")
    lines.append("\nTarget (issue 6): precompute + animate + export of 10 s on a 20k-vertex scan in <= 30 s "
                 "on 2 CPU cores.")
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        update_section("animate", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
