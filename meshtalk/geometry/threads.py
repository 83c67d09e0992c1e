"""Thread control so that torch (OpenMP/MKL) and scipy's BLAS (OpenBLAS) do not fight for cores.

Measured on a 2-core machine under load: ARPACK's memory-bound re-orthogonalisation runs 2–4×
slower with two spinning OpenBLAS threads than with one (see docs/benchmarks.md). The
eigensolvers therefore run scipy's BLAS single-threaded while torch keeps its own pool.
"""

from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def blas_threads(n: int = 1) -> Iterator[None]:
    """Limit scipy/numpy BLAS (OpenBLAS, MKL, BLIS) to ``n`` threads inside the block.

    Falls back to doing nothing when ``threadpoolctl`` is not installed.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a core dependency
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield
