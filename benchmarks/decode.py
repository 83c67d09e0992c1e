"""Per-frame decode time and peak memory: meshtalk's sparse decoder vs the reference's dense one.

The network is the default talking head (the reference's shape: geometry encoder and decoder of
4 DiffusionNet blocks, width 32, k = 128). Two implementations of *the same weights* run:

* ``sparse`` — meshtalk: spectral diffusion in the eigenbasis, sparse CSR gradient operators,
  frames batched in memory-bounded chunks;
* ``dense`` — the reference's approach: the gradient operators densified to V x V matrices and
  applied frame by frame with dense products. Skipped where the dense matrices would not fit
  in this machine's memory (stated in the report).

Each measurement runs in a fresh subprocess so its peak RSS is its own. Operators come from the
operator cache (computed once). A last run animates the largest mesh for 10 s of audio end to end
with :func:`meshtalk.animate` and records its peak RSS.

Usage:
    python benchmarks/decode.py                          # 5k, 23k, 100k vertices
    python benchmarks/decode.py --sizes 5000 --frames 30 --no-animate
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_mesh(n_verts: int):
    from tests.geometry.shapes import bumpy_sphere

    v, f = bumpy_sphere(n_verts, seed=0)
    return v * 0.1, f        # face-sized (metres), like FLAME


def build_model(seed: int = 0):
    import torch

    from meshtalk.model import TalkingHead, TalkingHeadConfig

    torch.manual_seed(seed)
    model = TalkingHead(TalkingHeadConfig()).eval()
    torch.nn.init.normal_(model.decoder.last_lin.weight, std=0.01)
    for block in [*model.geometry_encoder.blocks, *model.decoder.blocks]:
        torch.nn.init.uniform_(block.diffusion.diffusion_time, 0.0, 1e-3)
    return model


@dataclass(frozen=True)
class DenseOps:
    """The reference's operators: gradient matrices densified to (V, V)."""

    mass: object
    evals: object
    evecs: object
    grad_x: object
    grad_y: object


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(n_verts: int, mode: str, frames: int, repeats: int = 5) -> dict:
    import numpy as np
    import torch

    from meshtalk.geometry import compute_operators

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    verts, faces = make_mesh(n_verts)
    ops = compute_operators(verts, faces, k=128, cache=True)
    model = build_model()
    neutral = torch.tensor(verts, dtype=torch.float32)
    out: dict = {"verts": n_verts, "mode": mode, "frames": frames}
    if mode == "animate":
        from meshtalk.inference import animate

        audio = np.random.default_rng(0).standard_normal(16000 * 10).astype(np.float32) * 0.1
        base = _rss_mib()
        t0 = time.perf_counter()
        motion = animate((verts, faces), audio, model, ops=ops, fps=30)
        out.update(seconds=time.perf_counter() - t0, out_frames=int(motion.shape[0]),
                   base_rss_mib=base, peak_rss_mib=_rss_mib())
        return out
    with torch.inference_mode():
        audio_code = model.encode_audio(torch.randn(1, int(16000 * frames / 30)), frames)[0]
        t0 = time.perf_counter()
        geometry_code = model.encode_geometry(neutral, ops)
        out["geometry_encode_ms"] = (time.perf_counter() - t0) * 1e3
        base = _rss_mib()
        if mode == "sparse":
            model.decode(geometry_code, audio_code[:2], ops)                      # warm-up
            times, cpu = [], []
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                disp = model.decode(geometry_code, audio_code, ops)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            dt = min(times)
            out["cpu_ms_per_frame"] = min(cpu) * 1e3 / frames
            out["ms_per_frame_median"] = float(np.median(times)) * 1e3 / frames
        else:
            dense = DenseOps(ops.mass, ops.evals, ops.evecs, ops.grad_x.to_dense(), ops.grad_y.to_dense())
            t0, c0 = time.perf_counter(), time.process_time()
            disp = torch.cat([model.decode(geometry_code, audio_code[i:i + 1], dense) for i in range(frames)])
            dt = time.perf_counter() - t0
            out["cpu_ms_per_frame"] = (time.process_time() - c0) * 1e3 / frames
            ref = model.decode(geometry_code, audio_code[:1], ops)
            out["max_abs_diff_vs_sparse"] = float((disp[:1] - ref).abs().max())
    out.update(ms_per_frame=dt * 1e3 / frames, base_rss_mib=base, peak_rss_mib=_rss_mib(),
               disp_rms=float(disp.pow(2).mean().sqrt()))
    return out


def run_worker(n_verts: int, mode: str, frames: int, timeout: float, threads: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(n_verts), mode, str(frames)]
    threads = str(threads or os.environ.get("BENCH_THREADS", "2"))
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS=threads, BENCH_THREADS=threads)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"verts": n_verts, "mode": mode, "error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return {"verts": n_verts, "mode": mode, "error": tail[:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def available_mib() -> float:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable"):
                return int(line.split()[1]) / 1024
    return float("inf")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[5000, 23000, 100000])
    p.add_argument("--frames", type=int, default=60, help="frames timed for the sparse decoder")
    p.add_argument("--dense-frames", type=int, default=3, help="frames timed for the dense decoder")
    p.add_argument("--no-animate", action="store_true", help="skip the 10 s end-to-end run")
    p.add_argument("--no-report", action="store_true", help="do not write docs/benchmarks.md")
    p.add_argument("--worker", nargs=3, metavar=("V", "MODE", "FRAMES"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        v, mode, frames = args.worker
        print(json.dumps(worker(int(v), mode, int(frames))))
        return 0

    rows = []
    for n in args.sizes:
        # operators once (cached) so the timed workers only read them
        subprocess.run([sys.executable, "-c",
                        "import sys; sys.path.insert(0, %r); from benchmarks.decode import make_mesh; "
                        "from meshtalk.geometry import compute_operators; v, f = make_mesh(%d); "
                        "compute_operators(v, f, k=128, cache=True)" % (str(ROOT), n)],
                       check=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        n_frames = args.frames if n <= 30000 else max(10, args.frames // 4)
        sparse = run_worker(n, "sparse", n_frames, 1200)
        sparse1 = run_worker(n, "sparse", n_frames, 1200, threads=1)
        sparse["cpu1_ms_per_frame"] = sparse1.get("cpu_ms_per_frame", float("nan"))
        need_mib = 2 * 4 * n * n / 2**20 * 1.1 + 1024
        if need_mib > 0.8 * available_mib():
            dense = {"verts": n, "mode": "dense",
                     "skipped": f"2 dense {n}x{n} float32 matrices need {need_mib / 1024:.1f} GiB; "
                                f"{available_mib() / 1024:.1f} GiB available"}
        else:
            dense = run_worker(n, "dense", args.dense_frames if n <= 10000 else 1, 1800)
        rows.append((n, sparse, dense))
        print(json.dumps(sparse), json.dumps(dense), flush=True)
    anim = None
    if not args.no_animate:
        anim = run_worker(max(args.sizes), "animate", 300, 3000)
        print(json.dumps(anim), flush=True)

    load = os.getloadavg()
    lines = [
        "## Decode: per-frame time and memory, sparse (meshtalk) vs dense (reference approach)",
        "",
        f"Command: `python benchmarks/decode.py --sizes {' '.join(map(str, args.sizes))} "
        f"--frames {args.frames}`. Machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch threads {os.environ.get('BENCH_THREADS', '2')}, load average during the run "
        f"{load[0]:.1f} (other jobs share these cores, so times are upper bounds). "
        "Default model (reference shape: 4+4 blocks, width 32, k = 128), random weights; decode = "
        "fusion + 4-block decoder for every frame (the geometry code is computed once per mesh, "
        "its time is listed separately; frames are decoded in the default memory-bounded chunks). "
        "The sparse decode is repeated 5 times: best (the least disturbed by other jobs) and "
        "median are given. Because wall time on this shared machine depends on the other jobs, "
        "the sparse decode is also run on 1 thread and its process CPU time is given: that is "
        "the wall time one idle core would need, an upper bound for 2 idle cores. Dense = the same weights with the gradient operators "
        "densified to V x V and applied frame by frame, as the reference does. Peak RSS is per "
        "subprocess (includes Python, torch and the model).",
        "",
        "| vertices | sparse ms/frame, best of 5 | sparse CPU ms/frame, 1 thread | dense ms/frame | speed-up (CPU time) | sparse peak RSS | dense peak RSS | geometry encode (once) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, s, d in rows:
        sm = (f"{s['ms_per_frame']:.1f} (median {s['ms_per_frame_median']:.1f})" if "ms_per_frame" in s
              else s.get("error", "-"))
        if "ms_per_frame" in d:
            dm = f"{d['ms_per_frame']:.0f}"
            su = f"{d['cpu_ms_per_frame'] / s.get('cpu_ms_per_frame', float('nan')):.0f}x"
            dr = f"{d['peak_rss_mib'] / 1024:.2f} GiB"
        else:
            dm, su, dr = d.get("skipped", d.get("error", "-")), "-", "-"
        sr = f"{s['peak_rss_mib'] / 1024:.2f} GiB" if "peak_rss_mib" in s else "-"
        ge = f"{s['geometry_encode_ms']:.0f} ms" if "geometry_encode_ms" in s else "-"
        c1 = f"{s['cpu1_ms_per_frame']:.1f}" if s.get("cpu1_ms_per_frame") == s.get("cpu1_ms_per_frame") else "-"
        lines.append(f"| {n:,} | {sm} | {c1} | {dm} | {su} | {sr} | {dr} | {ge} |")
    diffs = [d["max_abs_diff_vs_sparse"] for _, _, d in rows if "max_abs_diff_vs_sparse" in d]
    if diffs:
        lines += ["", f"Dense and sparse outputs agree (max abs difference {max(diffs):.1e} m)."]
    if anim is not None:
        if "seconds" in anim:
            lines += ["", f"End to end, `meshtalk.animate` of a {anim['verts']:,}-vertex mesh with 10 s of "
                          f"audio ({anim['out_frames']} frames at 30 fps, default windows and chunks): "
                          f"{anim['seconds']:.0f} s, peak RSS {anim['peak_rss_mib'] / 1024:.2f} GiB "
                          f"(target <= 4 GB)."]
        else:
            lines += ["", f"End-to-end animate run failed: {anim.get('error')}"]
    lines += ["", "No GPU was available to this run; CUDA timings are not included."]
    md = "\n".join(lines)
    print(md)
    if not args.no_report:
        from benchmarks._report import update_section

        update_section("decode", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
