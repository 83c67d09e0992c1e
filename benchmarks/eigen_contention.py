"""The block Lanczos eigensolve on a shared machine: idle, and beside one busy process.

The dense kernels of :func:`meshtalk.geometry.eigen.laplacian_eigenbasis` run on BLAS's own
threads on an idle machine and switch to a vertex split over worker threads with
single-threaded BLAS when other processes hold the cores (spinning thread pools lose badly
there). This script times the eigensolve (k = 128) in one process, in three settings, each
``--repeat`` times interleaved: the machine idle; one busy process (a Python busy loop) started
before the solve; the same process started 2.5 s into the solve. It reports the median wall time
and whether the split was used. The ``forced BLAS threads`` row disables the switch (what the
solver did before it had one).

Usage:
    python benchmarks/eigen_contention.py            # 100k vertices
    python benchmarks/eigen_contention.py --verts 23000 --repeat 1 --no-report
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verts", type=int, default=100_000)
    ap.add_argument("-k", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-report", action="store_true", help="print only; do not write docs/benchmarks.md")
    args = ap.parse_args()

    import scipy.sparse as sp
    from tqdm import tqdm

    from meshtalk.geometry import eigen
    from meshtalk.geometry.laplacian import laplacian_and_mass
    from tests.geometry.shapes import bumpy_sphere

    v, f = bumpy_sphere(args.verts, seed=0)
    L, mass, _ = laplacian_and_mass(v, f)
    L, mass = sp.csr_matrix(L), np.asarray(mass, dtype=np.float64)
    auto = eigen._cores_oversubscribed
    cases = ["idle", "busy from the start", "busy from 2.5 s", "busy from the start, forced BLAS threads"]
    walls: dict[str, list[float]] = {c: [] for c in cases}
    split: dict[str, bool] = {}
    hogs: list[subprocess.Popen] = []

    def start_hog():
        hogs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))

    with tqdm(total=len(cases) * args.repeat, desc="eigensolve", unit="run") as bar:
        for _ in range(args.repeat):
            for case in cases:
                eigen._cores_oversubscribed = (lambda *a, **kw: False) if "forced" in case else auto
                timer = None
                if case.startswith("busy from the start"):
                    start_hog()
                    time.sleep(0.5)
                elif case == "busy from 2.5 s":
                    timer = threading.Timer(2.5, start_hog)
                    timer.start()
                try:
                    t0 = time.perf_counter()
                    basis = eigen.laplacian_eigenbasis(L, mass, args.k)
                    walls[case].append(time.perf_counter() - t0)
                    split[case] = split.get(case, False) or bool(basis.info.get("row_split"))
                finally:
                    if timer is not None:
                        timer.cancel()
                    for h in hogs:
                        h.kill()
                        h.wait()
                    hogs.clear()
                    eigen._cores_oversubscribed = auto
                time.sleep(1.0)
                bar.update()

    lines = [
        "## Eigensolve beside other jobs (`benchmarks/eigen_contention.py`)",
        "",
        f"Command: `python benchmarks/eigen_contention.py --verts {args.verts} -k {args.k} --repeat {args.repeat}`",
        "",
        f"`laplacian_eigenbasis` (block Lanczos) on a {args.verts:,}-vertex bumpy sphere, k = {args.k}, "
        f"{os.cpu_count()} cores; the busy process is a Python busy loop. Median wall time of "
        f"{args.repeat} interleaved runs; *split*: whether the kernels switched to the vertex split.",
        "",
        "| case | wall s (median) | runs | split used |",
        "|---|---:|---|---|",
    ]
    for case in cases:
        runs = ", ".join(f"{w:.2f}" for w in walls[case])
        lines.append(f"| {case} | {float(np.median(walls[case])):.2f} | {runs} | {'yes' if split[case] else 'no'} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        from benchmarks._report import update_section

        update_section("eigen-contention", text)


if __name__ == "__main__":
    main()
