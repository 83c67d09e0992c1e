"""Operator precompute: meshtalk vs the DiffusionNet recipe (the reference stack), same run.

For each mesh size the full precompute (Laplacian, mass, k eigenpairs, frames, gradient
operators) is timed in a fresh subprocess (so peak RSS is per run), for:

* ``reference`` — DiffusionNet's ``compute_operators`` as used by the published ScanTalk code,
  re-implemented here step by step (see :func:`reference_operators`): potpourri3d cotan
  Laplacian + vertex areas, ARPACK shift-invert with SuperLU on ``L + 1e-8·I`` at
  ``sigma = 1e-8``, tol 0, and the gradient operator built with Python loops over edges and
  vertices.
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
    """The DiffusionNet ``compute_operators`` recipe, step by step as that code does it.

    Re-implemented here from the published description and structure of DiffusionNet's
    ``geometry.py`` (not copied), including the parts that make it slow, so that the
    reference costs what users of the published ScanTalk code pay: torch float32 inputs; vertex
    normals from face normals and tangent frames in torch; potpourri3d's cotan Laplacian and
    vertex areas; ARPACK shift-invert with SuperLU on ``L + 1e-8·I`` (CSC) at ``sigma = 1e-8``,
    default tolerance; the gradient operator assembled with Python loops — one over every
    stored entry of L to collect each vertex's outgoing edges, one over the vertices with an
    inner loop over the neighbours reading the edge vectors from a torch tensor, a 2×2
    regularised least-squares solve per vertex, complex coefficients — then split into real
    and imaginary parts; everything returned as torch tensors.
    """
    import potpourri3d as pp3d
    import scipy.sparse as sp
    import scipy.sparse.linalg as sla
    import torch

    eps = 1e-8
    vt = torch.as_tensor(verts, dtype=torch.float32)
    ft = torch.as_tensor(faces, dtype=torch.int64)
    verts = vt.numpy().astype(np.float64)
    faces = ft.numpy()
    # normals and frames (torch, as the recipe does)
    tri = vt[ft]
    face_n = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    face_n = face_n / torch.linalg.norm(face_n, dim=-1, keepdim=True)
    normals = np.zeros(verts.shape)
    for c in range(3):
        np.add.at(normals, faces[:, c], face_n.numpy())
    normals = torch.from_numpy(normals / np.linalg.norm(normals, axis=-1, keepdims=True)).float()
    cand_x = torch.tensor([1.0, 0.0, 0.0]).expand(len(verts), -1)
    cand_y = torch.tensor([0.0, 1.0, 0.0]).expand(len(verts), -1)
    bx = torch.where(((normals * cand_x).sum(-1).abs() < 0.9)[:, None], cand_x, cand_y)
    bx = bx - (bx * normals).sum(-1, keepdim=True) * normals
    bx = bx / torch.linalg.norm(bx, dim=-1, keepdim=True)
    by = torch.cross(normals, bx, dim=-1)
    frames = torch.stack([bx, by, normals], dim=-2)
    # Laplacian, mass, eigenbasis
    L = pp3d.cotan_laplacian(verts, faces, denom_eps=1e-10)
    mass = pp3d.vertex_areas(verts, faces)
    mass += eps * np.mean(mass)
    evals, evecs = sla.eigsh((L + sp.identity(L.shape[0]) * eps).tocsc(), k=k, M=sp.diags(mass), sigma=eps)
    evals = np.clip(evals, 0.0, None)
    # gradient operator over the Laplacian's sparsity pattern
    coo = L.tocoo()
    src, dst = coo.row, coo.col
    e_idx = torch.as_tensor(np.stack([src, dst]))
    e_vec = vt[e_idx[1]] - vt[e_idx[0]]
    e_tan = torch.stack([(e_vec * frames[e_idx[0], 0]).sum(-1), (e_vec * frames[e_idx[0], 1]).sum(-1)], dim=-1)
    n = len(verts)
    outgoing = [[] for _ in range(n)]
    pairs = np.stack([src, dst])
    for e in range(pairs.shape[1]):
        if pairs[0, e] != pairs[1, e]:
            outgoing[pairs[0, e]].append(e)
    rows, cols, vals = [], [], []
    for i in range(n):
        nb = outgoing[i]
        d = len(nb)
        lhs = np.zeros((d, 2))
        rhs = np.zeros((d, d + 1))
        lookup = [i]
        for a, e in enumerate(nb):
            lookup.append(pairs[1, e])
            weight = 1.0
            lhs[a][:] = weight * e_tan[e][:]
            rhs[a][0] = -weight
            rhs[a][a + 1] = weight
        sol = np.linalg.inv(lhs.T @ lhs + 1e-5 * np.identity(2)) @ lhs.T @ rhs
        coef = sol[0] + 1j * sol[1]
        for a in range(d + 1):
            rows.append(i)
            cols.append(lookup[a])
            vals.append(coef[a])
    grad = sp.coo_matrix((np.array(vals), (np.array(rows), np.array(cols))), shape=(n, n)).tocsc()
    gx, gy = np.real(grad), np.imag(grad)

    def to_torch(A):
        A = A.tocoo()
        idx = torch.as_tensor(np.vstack([A.row, A.col]).astype(np.int64))
        return torch.sparse_coo_tensor(idx, torch.as_tensor(A.data, dtype=torch.float32), A.shape).coalesce()

    out = (to_torch(L), to_torch(gx), to_torch(gy), torch.from_numpy(evecs).float(), frames)
    return evals, evecs, mass, out


def meshtalk_operators(verts, faces, k, method):
    import torch

    from meshtalk.geometry.operators import compute_operators

    ops = compute_operators(verts, faces, k, eigen_method=method)
    return (ops.evals.double().numpy(), ops.evecs.double().numpy(), ops.mass.double().numpy(),
            float(ops.residuals.max()), torch.get_num_threads())


def diffusion_net_operators(verts, faces, k, src_dir: str):
    """DiffusionNet's own ``compute_operators``, imported from a checkout the user points at
    (``--diffusion-net DIR``; nothing of it is shipped with meshtalk)."""
    import torch

    sys.path.insert(0, src_dir)
    try:
        import sklearn.neighbors  # noqa: F401  (DiffusionNet imports it; meshes never use it)
    except ImportError:
        import types

        sys.modules["sklearn"] = types.ModuleType("sklearn")
        sys.modules["sklearn.neighbors"] = types.ModuleType("sklearn.neighbors")
    from diffusion_net.geometry import compute_operators

    frames, mass, L, evals, evecs, gx, gy = compute_operators(
        torch.as_tensor(verts, dtype=torch.float32), torch.as_tensor(faces, dtype=torch.int64), k)
    return evals.double().numpy(), evecs.double().numpy(), mass.double().numpy()


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
    elif which.startswith("diffusion-net="):
        evals, evecs, mass = diffusion_net_operators(verts, faces, k, which.split("=", 1)[1])
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
    tag = "diffusion-net" if which.startswith("diffusion-net=") else which.replace(":", "_")
    out = tmp / f"{tag}_{n_verts}.npz"
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
    ap.add_argument("--diffusion-net", metavar="DIR",
                    help="also time DiffusionNet's own compute_operators from a checkout (its src/ folder)")
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=1,
                    help="time the reference and meshtalk runs this many times each, interleaved, and report "
                         "the median wall time and the ratio of medians (DiffusionNet's own code: once)")
    ap.add_argument("--no-report", action="store_true", help="print only; do not write docs/benchmarks.md")
    args = ap.parse_args()
    if args.one:
        which, n, k, out = args.one
        run_one(which, int(n), int(k), Path(out))
        return
    from tqdm import tqdm

    runs = ["reference", "meshtalk"] + [f"meshtalk:{m}" for m in args.methods]
    dn = f"diffusion-net={Path(args.diffusion_net).resolve()}" if args.diffusion_net else None
    rows = []
    repeat = max(1, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        bar = tqdm(total=len(args.sizes) * (len(runs) * repeat + bool(dn)), desc="operators", unit="run")
        for n in args.sizes:
            results: dict[str, list[dict]] = {}
            for _ in range(repeat):  # interleaved, so a slow spell of the machine hits every method
                for which in runs:
                    bar.set_postfix_str(f"{which} V={n}")
                    results.setdefault(which, []).append(measure(which, n, args.k, Path(tmp)))
                    bar.update()
            if dn:
                bar.set_postfix_str(f"diffusion-net V={n}")
                results[dn] = [measure(dn, n, args.k, Path(tmp))]
                bar.update()
            walls = {w: [r["seconds"] for r in rs] for w, rs in results.items()}
            ref = results["reference"][0]
            ref_s = float(np.median(walls["reference"]))
            dn_s = walls[dn][0] if dn else float("nan")
            for which in runs[1:]:
                r = results[which][0]
                ms = float(np.median(walls[which]))
                rel, cos = compare(r, ref, args.k)
                rows.append((n, which, ref_s, dn_s, ms, float(np.median([x["cpu_seconds"] for x in results["reference"]])),
                             float(np.median([x["cpu_seconds"] for x in results[which]])),
                             ref["peak_bytes"], r["peak_bytes"], rel, cos, r["residual"],
                             (min(walls["reference"]), max(walls["reference"])), (min(walls[which]), max(walls[which]))))
                tqdm.write(f"V={n:>7} {which:<18} ref {ref_s:7.2f}s {walls['reference']}  DiffusionNet {dn_s:7.2f}s  "
                           f"ours {ms:7.2f}s {walls[which]}  x{ref_s / ms:.1f}  eig err {rel:.1e}  "
                           f"cos {cos:.6f}  res {r['residual']:.1e}")
        bar.close()
    gib = 2.0**30
    load = os.getloadavg()
    lines = [
        "## Operator precompute (`benchmarks/operators.py`)",
        "",
        f"Command: `python benchmarks/operators.py --sizes {' '.join(map(str, args.sizes))} -k {args.k}"
        + (f" --methods {' '.join(args.methods)}" if args.methods else "")
        + (f" --repeat {repeat}" if repeat > 1 else "")
        + (" --diffusion-net DIR" if dn else "") + "`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only. "
        "Surfaces: bumpy spheres (smoothly perturbed, no eigenvalue degeneracy), k = "
        f"{args.k}. Each run is a fresh subprocess (peak RSS per run); CPU s = user + system time "
        "of that process (steadier than wall time when the cores are shared). Reference: DiffusionNet's "
        "`compute_operators` recipe re-implemented step by step in this script (torch frames, pp3d cotan + "
        "ARPACK/SuperLU shift-invert on L+1e-8·I, gradient operator assembled in Python loops)"
        + ("; *DiffusionNet*: its own code, imported from a checkout outside meshtalk" if dn else "")
        + ". Eigenvalue error: max over i ≥ 1 of |λ − λ_ref| / λ_ref. Subspace: cosine of the largest "
        f"principal angle between our first {args.k - 8} modes and the reference's {args.k} (1 = inside). "
        f"Load average at the end of the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)."
        + (f" Reference and meshtalk were each run {repeat} times, interleaved: wall and CPU times are medians, "
           "the range in brackets is min–max, the speed-up is the ratio of the medians." if repeat > 1 else ""),
        "",
        "| vertices | meshtalk run | reference wall s | " + ("DiffusionNet wall s | " if dn else "")
        + "meshtalk wall s | speed-up (wall) | " + ("vs DiffusionNet | " if dn else "")
        + "reference CPU s | meshtalk CPU s | ref peak GiB | meshtalk peak GiB | eigenvalue rel. error | subspace cos | max residual |",
        "|---:|---|---:|" + ("---:|" if dn else "") + "---:|---:|" + ("---:|" if dn else "") + "---:|---:|---:|---:|---:|---:|---:|",
    ]
    def fmt(x: float, rng: tuple[float, float]) -> str:
        return f"{x:.2f}" + (f" [{rng[0]:.2f}–{rng[1]:.2f}]" if repeat > 1 else "")

    for n, which, rs, ds, ms, rc, mc, rp, mp, rel, cos, res, r_rng, m_rng in rows:
        lines.append(f"| {n:,} | {which} | {fmt(rs, r_rng)} | " + (f"{ds:.2f} | " if dn else "")
                     + f"{fmt(ms, m_rng)} | **{rs / ms:.1f}×** | "
                     + (f"**{ds / ms:.1f}×** | " if dn else "")
                     + f"{rc:.1f} | {mc:.1f} | {rp / gib:.2f} | {mp / gib:.2f} | {rel:.1e} | {cos:.6f} | {res:.1e} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        from benchmarks._report import update_section

        update_section("operators", text)


if __name__ == "__main__":
    main()
