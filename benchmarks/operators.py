"""Operator precompute: meshtalk vs the DiffusionNet recipe (the reference stack), same run.

For each mesh size the full precompute (Laplacian, mass, k eigenpairs, frames, gradient
operators) is timed in a fresh subprocess (so peak RSS is per run), for:

* ``reference`` — the DiffusionNet recipe as used by the published ScanTalk code, re-implemented
  here from its description: potpourri3d cotan Laplacian + vertex areas, ARPACK shift-invert with
  SuperLU on ``L + 1e-8·I`` at ``sigma = 1e-8``, tol 0, and a per-vertex least-squares
  gradient loop.
* ``meshtalk`` — :func:`meshtalk.geometry.compute_operators` with its defaults (no cache).
* optionally each meshtalk eigensolver method on its own (``--methods lanczos arpack``).

Reported: wall time, speed-up, peak RSS, max relative eigenvalue error against the reference
(i ≥ 1), subspace agreement (cosine of the largest principal angle between meshtalk's first
k−8 modes and the reference's k modes, M-weighted), max residual.

Usage:
    python benchmarks/operators.py                      # 5k, 23k, 100k, 250k; k = 128
    python benchmarks/operators.py --sizes 5000 23000 --methods lanczos arpack
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_mesh(n_verts: int):
    from tests.geometry.shapes import bumpy_sphere

    return bumpy_sphere(n_verts, seed=0)


# ----------------------------------------------------------------------------------------------
# the reference: DiffusionNet's compute_operators recipe


def reference_operators(verts, faces, k):
    import potpourri3d as pp3d
    import scipy.sparse as sp
    import scipy.sparse.linalg as sla

    L = pp3d.cotan_laplacian(verts, faces, denom_eps=1e-10)
    mass = pp3d.vertex_areas(verts, faces)
    mass += 1e-8 * mass.mean()
    M = sp.diags(mass)
    eps = 1e-8
    evals, evecs = sla.eigsh(L + sp.identity(len(verts)) * eps, k, M=M, sigma=eps)
    evals = np.clip(evals, 0.0, None)
    # vertex normals (area weighted) and tangent frames
    p = verts[faces]
    fn = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    normals = np.zeros_like(verts)
    for c in range(3):
        np.add.at(normals, faces[:, c], fn)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    bx = np.tile([1.0, 0.0, 0.0], (len(verts), 1))
    bx -= (bx * normals).sum(1, keepdims=True) * normals
    bx /= np.linalg.norm(bx, axis=1, keepdims=True)
    by = np.cross(normals, bx)
    # per-vertex least-squares gradient, one vertex at a time (the reference's Python loop)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    both = np.concatenate([edges, edges[:, ::-1]])
    order = np.argsort(both[:, 0], kind="stable")
    both = both[order]
    starts = np.searchsorted(both[:, 0], np.arange(len(verts) + 1))
    rows, cols, vals_x, vals_y = [], [], [], []
    for i in range(len(verts)):
        nbrs = both[starts[i] : starts[i + 1], 1]
        e = verts[nbrs] - verts[i]
        A = np.stack([e @ bx[i], e @ by[i]], axis=1)
        lhs = A.T @ A + 1e-5 * np.eye(2)
        sol = np.linalg.solve(lhs, A.T)  # (2, d)
        rows += [i] * (len(nbrs) + 1)
        cols += list(nbrs) + [i]
        vals_x += list(sol[0]) + [-sol[0].sum()]
        vals_y += list(sol[1]) + [-sol[1].sum()]
    n = len(verts)
    gx = sp.csr_matrix((vals_x, (rows, cols)), shape=(n, n))
    gy = sp.csr_matrix((vals_y, (rows, cols)), shape=(n, n))
    return evals, evecs, mass, (L, gx, gy)


def meshtalk_operators(verts, faces, k, method):
    import torch

    from meshtalk.geometry.operators import compute_operators

    ops = compute_operators(verts, faces, k, eigen_method=method)
    return (ops.evals.double().numpy(), ops.evecs.double().numpy(), ops.mass.double().numpy(),
            float(ops.residuals.max()), torch.get_num_threads())


def run_one(which: str, n_verts: int, k: int, out: Path) -> None:
    import potpourri3d  # noqa: F401  (imports are not part of the timing)
    import scipy.sparse.linalg  # noqa: F401
    import torch  # noqa: F401

    import meshtalk.geometry.operators  # noqa: F401

    verts, faces = make_mesh(n_verts)
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if which == "reference":
        evals, evecs, mass, _ = reference_operators(verts, faces, k)
        residual = float("nan")
    else:
        method = which.split(":", 1)[1] if ":" in which else "auto"
        evals, evecs, mass, residual, _ = meshtalk_operators(verts, faces, k, method)
    seconds = time.perf_counter() - t0
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
    peak = u1.ru_maxrss * 1024
    np.savez(out, evals=evals, evecs=evecs.astype(np.float32), mass=mass)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_bytes": peak, "residual": residual}))


def measure(which: str, n_verts: int, k: int, tmp: Path) -> dict:
    out = tmp / f"{which.replace(':', '_')}_{n_verts}.npz"
    cmd = [sys.executable, __file__, "--one", which, str(n_verts), str(k), str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(f"{which} at {n_verts} failed:\n{res.stderr[-2000:]}")
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    with np.load(out) as z:
        stats.update(evals=z["evals"], evecs=z["evecs"].astype(np.float64), mass=z["mass"])
    return stats


def compare(ours: dict, ref: dict, k: int) -> tuple[float, float]:
    e1, e0 = ours["evals"], ref["evals"]
    rel = float(np.max(np.abs(e1[1:] - e0[1:]) / e0[1:]))
    m = ref["mass"]
    cut = max(1, k - 8)
    overlap = ours["evecs"][:, :cut].T @ (m[:, None] * ref["evecs"])
    cos_max_angle = float(np.linalg.svd(overlap, compute_uv=False).min())
    return rel, cos_max_angle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5_000, 23_000, 100_000, 250_000])
    ap.add_argument("-k", type=int, default=128)
    ap.add_argument("--methods", nargs="*", default=[], help="extra meshtalk eigensolvers to time alone")
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--no-report", action="store_true", help="print only; do not write docs/benchmarks.md")
    args = ap.parse_args()
    if args.one:
        which, n, k, out = args.one
        run_one(which, int(n), int(k), Path(out))
        return
    from tqdm import tqdm

    runs = ["reference", "meshtalk"] + [f"meshtalk:{m}" for m in args.methods]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bar = tqdm(total=len(args.sizes) * len(runs), desc="operators", unit="run")
        for n in args.sizes:
            results = {}
            for which in runs:
                bar.set_postfix_str(f"{which} V={n}")
                results[which] = measure(which, n, args.k, Path(tmp))
                bar.update()
            ref = results["reference"]
            for which in runs[1:]:
                r = results[which]
                rel, cos = compare(r, ref, args.k)
                rows.append((n, which, ref["seconds"], r["seconds"], ref["seconds"] / r["seconds"],
                             ref["cpu_seconds"], r["cpu_seconds"],
                             ref["peak_bytes"], r["peak_bytes"], rel, cos, r["residual"]))
                tqdm.write(f"V={n:>7} {which:<18} ref {ref['seconds']:7.2f}s  ours {r['seconds']:7.2f}s  "
                           f"x{ref['seconds'] / r['seconds']:.1f}  eig err {rel:.1e}  cos {cos:.6f}  res {r['residual']:.1e}")
        bar.close()
    gib = 2.0**30
    load = os.getloadavg()
    lines = [
        "## Operator precompute (`benchmarks/operators.py`)",
        "",
        f"Command: `python benchmarks/operators.py --sizes {' '.join(map(str, args.sizes))} -k {args.k}"
        + (f" --methods {' '.join(args.methods)}" if args.methods else "") + "`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only. "
        "Surfaces: bumpy spheres (smoothly perturbed, no eigenvalue degeneracy), k = "
        f"{args.k}. Each run is a fresh subprocess (peak RSS per run); CPU s = user + system time "
        "of that process (steadier than wall time when the cores are shared). Reference: the DiffusionNet "
        "recipe (pp3d cotan + ARPACK/SuperLU shift-invert on L+1e-8·I, per-vertex gradient loop). "
        "Eigenvalue error: max over i ≥ 1 of |λ − λ_ref| / λ_ref. Subspace: cosine of the largest "
        f"principal angle between our first {args.k - 8} modes and the reference's {args.k} (1 = inside). "
        f"Load average at the end of the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min).",
        "",
        "| vertices | meshtalk run | reference wall s | meshtalk wall s | speed-up (wall) | reference CPU s | meshtalk CPU s | ref peak GiB | meshtalk peak GiB | eigenvalue rel. error | subspace cos | max residual |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, which, rs, ms, sp_, rc, mc, rp, mp, rel, cos, res in rows:
        lines.append(f"| {n:,} | {which} | {rs:.2f} | {ms:.2f} | **{sp_:.1f}×** | {rc:.1f} | {mc:.1f} | {rp / gib:.2f} | "
                     f"{mp / gib:.2f} | {rel:.1e} | {cos:.6f} | {res:.1e} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        from benchmarks._report import update_section

        update_section("operators", text)


if __name__ == "__main__":
    main()
