"""The first k Laplace–Beltrami eigenpairs ``L φ = λ M φ`` of a mesh or point cloud.

Methods (``laplacian_eigenbasis(..., method=...)``):

``"lanczos"`` (default above a few thousand vertices)
    Block Lanczos in shift-invert mode with full re-orthogonalisation. The shifted operator
    ``S = M^{1/2} (L + σM)^{-1} M^{1/2}`` is applied to whole blocks of vectors through one
    sparse Cholesky factor (CHOLMOD, via ``cholespy``); everything else — re-orthogonalisation,
    Rayleigh–Ritz, the final rotation — is dense BLAS-3: numpy's BLAS on the CPU (blocks stored
    as rows, the fastest layout there), torch on a CUDA GPU. This is ARPACK's algorithm
    (shift-invert Lanczos) with ARPACK's two costs removed: SuperLU's fill-in on an SPD matrix
    (CHOLMOD has about half the fill and 10× faster solves), and the one-vector-at-a-time,
    memory-bound (BLAS-2) re-orthogonalisation and restarts. Convergence of every wanted Ritz pair is checked with the Lanczos residual
    bound, and the final residuals ``‖Lφ − λMφ‖`` are computed explicitly.
``"arpack"``
    ``scipy.sparse.linalg.eigsh`` in shift-invert mode with the same Cholesky solve: the
    reference method (DiffusionNet's, with a better factorisation) and the fallback.
``"dense"``
    ``torch.linalg.eigh`` of ``M^{-1/2} L M^{-1/2}``; for small meshes and as a test oracle.

Conventions: ``L`` symmetric PSD (V, V), ``mass`` (V,) > 0. The result has eigenvalues
ascending (tiny negatives clipped to 0), eigenvectors M-orthonormal (``Φᵀ M Φ = I``), the sign of
each vector fixed so that its largest-magnitude entry is positive. The shift is ``σ = 0.01 / area``
(eigenvalues scale as 1/area); L is never modified (no ``+εI``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import threading
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

from meshtalk.errors import MeshtalkError
from meshtalk.geometry.threads import blas_threads

log = logging.getLogger(__name__)

METHODS = ("auto", "lanczos", "arpack", "dense")
DENSE_MAX_VERTS = 400
#: below this size ARPACK (one vector at a time) beats the block method; measured in
#: benchmarks/operators.py
LANCZOS_MIN_VERTS = 10_000
#: vectors per Lanczos block: 8 needs a smaller Krylov space than 16 for the same tolerance
#: (k = 128 at 100k vertices: 392 vs 464 vectors, 17-25 % less CPU time; blocks of 4 stall above
#: the tolerance), measured on the benchmarks/operators.py surfaces on 2 cores
LANCZOS_BLOCK = 8
#: second Gram–Schmidt pass when a column keeps less than this fraction of its norm (measured:
#: 1e-5 lets the basis lose orthogonality to ~1e-10 and residuals grow to 1e-3; 1e-3 keeps
#: 1e-14 orthogonality with one pass in almost every step)
REORTH_RATIO = 1e-3
#: the block method's result is checked against the true residuals; above this multiple of the
#: tolerance the eigenbasis is recomputed with ARPACK (never seen after the final
#: inverse-iteration step, kept as a guarantee)
RESIDUAL_FALLBACK = 1e3
#: run the Lanczos kernels as torch operations even on the CPU (the GPU code path; tests set it
#: so that CI, which has no GPU, exercises that path)
_TORCH_KERNELS = False
#: a block whose Cholesky-QR factor is better conditioned than this gets one pass, not two
_CHOLQR_ONE_PASS_COND = 10.0


@dataclasses.dataclass(frozen=True)
class Eigenbasis:
    """The first K generalized eigenpairs of ``(L, M)``.

    Attributes:
        evals: (K,) float64, ascending, >= 0.
        evecs: (V, K) float64, M-orthonormal.
        residuals: (K,) float64, ``‖Lφ − λMφ‖_{M^{-1}} / max(λ, 0.01·λ_K)``.
        method: the method that produced them.
        seconds: wall time of the solve.
        info: solver statistics (solves, Krylov dimension, ...).
    """

    evals: torch.Tensor
    evecs: torch.Tensor
    residuals: torch.Tensor
    method: str
    seconds: float = 0.0
    info: dict = dataclasses.field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# the sparse Cholesky solve of (L + σM)


class CholeskySolver:
    """A reusable sparse Cholesky factorisation of an SPD matrix, solving blocks of RHS.

    Uses CHOLMOD through ``cholespy`` (CPU factorisation; solves on the CPU — split across
    threads, the solve releases the GIL — or on CUDA when the right-hand side lives there).
    Falls back to SuperLU (``scipy``) when cholespy is not installed.

    Args:
        A: (V, V) symmetric positive definite scipy sparse matrix.
        threads: CPU threads for multi-RHS solves (default: torch's intra-op thread count).
    """

    def __init__(self, A: sp.spmatrix, *, threads: int | None = None):
        A = sp.csr_matrix(A, dtype=np.float64)
        A.sum_duplicates()
        A.sort_indices()
        self.n = A.shape[0]
        self.threads = max(1, threads or torch.get_num_threads())
        self._A = A
        self._cuda = {}
        try:
            import cholespy
        except ImportError:  # pragma: no cover - cholespy is a core dependency
            cholespy = None
        if cholespy is not None:
            self._cholespy = cholespy
            self._cpu = cholespy.CholeskySolverD(
                self.n,
                A.indptr.astype(np.int32),
                A.indices.astype(np.int32),
                A.data,
                cholespy.MatrixType.CSR,
            )
            self.backend = "cholmod"
        else:
            import scipy.sparse.linalg as sla

            self._lu = sla.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A")
            self.backend = "superlu"
        self.n_solves = 0

    def _solve_numpy(self, b: np.ndarray) -> np.ndarray:
        if self.backend == "superlu":
            return self._lu.solve(b)
        b = np.ascontiguousarray(b, dtype=np.float64)
        x = np.empty_like(b)
        if b.ndim == 1 or b.shape[1] < 2 * 8 or self.threads == 1:
            self._cpu.solve(b, x)
            return x
        parts = np.array_split(np.arange(b.shape[1]), self.threads)
        bs = [np.ascontiguousarray(b[:, p]) for p in parts]
        xs = [np.empty_like(bb) for bb in bs]
        workers = [threading.Thread(target=self._cpu.solve, args=(bb, xx)) for bb, xx in zip(bs, xs)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        for p, xx in zip(parts, xs):
            x[:, p] = xx
        return x

    def solve(self, b: torch.Tensor) -> torch.Tensor:
        """Solve ``A x = b``.

        Args:
            b: (V,) or (V, R) float64 tensor on any device.

        Returns:
            x: same shape, dtype and device as ``b``.
        """
        self.n_solves += 1 if b.ndim == 1 else b.shape[1]
        if b.device.type == "cuda" and self.backend == "cholmod":
            solver = self._cuda.get(b.device)
            if solver is None:
                A = self._A
                dev = b.device
                solver = self._cholespy.CholeskySolverD(
                    self.n,
                    torch.as_tensor(A.indptr.astype(np.int32), device=dev),
                    torch.as_tensor(A.indices.astype(np.int32), device=dev),
                    torch.as_tensor(A.data, device=dev),
                    self._cholespy.MatrixType.CSR,
                )
                self._cuda[b.device] = solver
            b = b.contiguous()
            x = torch.empty_like(b)
            if b.ndim == 1:
                solver.solve(b, x)
            else:
                for s in range(0, b.shape[1], 128):  # cholespy's CUDA limit per call
                    bb = b[:, s : s + 128].contiguous()
                    xx = torch.empty_like(bb)
                    solver.solve(bb, xx)
                    x[:, s : s + 128] = xx
            return x
        x = self._solve_numpy(b.detach().cpu().numpy())
        return torch.from_numpy(x).to(b.device)


# ----------------------------------------------------------------------------------------------
# helpers


def _as_csr(L) -> sp.csr_matrix:
    if isinstance(L, torch.Tensor):
        L = L.detach().to_sparse_coo().coalesce().cpu()
        idx = L.indices().numpy()
        return sp.csr_matrix((L.values().double().numpy(), (idx[0], idx[1])), shape=tuple(L.shape))
    return sp.csr_matrix(L, dtype=np.float64)


def _sign_flips(evecs: torch.Tensor) -> torch.Tensor:
    """(K,) ±1 making the largest-magnitude entry of each column of evecs (V, K) positive."""
    if evecs.device.type == "cpu":  # two column reductions; no (V, K) temporary
        e = evecs.numpy()
        return torch.from_numpy(np.where(e.max(axis=0) >= -e.min(axis=0), 1.0, -1.0))
    idx = evecs.abs().argmax(dim=0)
    signs = torch.sign(evecs[idx, torch.arange(evecs.shape[1], device=evecs.device)])
    signs[signs == 0] = 1
    return signs


def eigen_residuals(L: sp.csr_matrix, mass: np.ndarray | torch.Tensor, evals, evecs) -> torch.Tensor:
    """Relative residuals ``‖Lφ − λMφ‖_{M^{-1}} / max(λ, 0.01·λ_K)`` of eigenpairs.

    Computed over blocks of rows, so no (V, K) temporary is allocated.

    Args:
        L: (V, V) sparse PSD.
        mass: (V,) > 0.
        evals: (K,); evecs: (V, K) M-orthonormal.

    Returns:
        (K,) float64 tensor.
    """
    phi = torch.as_tensor(evecs, dtype=torch.float64).cpu().numpy()
    lam = torch.as_tensor(evals, dtype=torch.float64).cpu().numpy()
    m = torch.as_tensor(mass, dtype=torch.float64).cpu().numpy()
    L = _as_csr(L)
    sq = 0.0
    rows = max(1, (1 << 20) // max(1, phi.shape[1]))  # 8 MB blocks
    for lo in range(0, len(m), rows):
        hi = min(len(m), lo + rows)
        r = L[lo:hi] @ phi
        r -= (phi[lo:hi] * m[lo:hi, None]) * lam[None, :]
        r *= (1.0 / np.sqrt(m[lo:hi]))[:, None]
        sq = sq + np.einsum("vk,vk->k", r, r)
    norm = np.sqrt(sq)
    scale = np.maximum(lam, 0.01 * max(lam.max(initial=0.0), 1e-300))
    return torch.from_numpy(norm / scale)


# ----------------------------------------------------------------------------------------------
# methods


def _dense(L: sp.csr_matrix, mass: np.ndarray, k: int, device) -> tuple[torch.Tensor, torch.Tensor, dict]:
    s = torch.as_tensor(1.0 / np.sqrt(mass), dtype=torch.float64, device=device)
    A = torch.as_tensor(L.toarray(), dtype=torch.float64, device=device)
    A = s[:, None] * A * s[None, :]
    A = 0.5 * (A + A.T)
    w, U = torch.linalg.eigh(A)
    return w[:k], U[:, :k] * s[:, None], {}


def _arpack(L: sp.csr_matrix, mass: np.ndarray, k: int, sigma: float, tol: float, seed: int):
    import scipy.sparse.linalg as sla

    n = L.shape[0]
    solver = CholeskySolver(L + sigma * sp.diags(mass), threads=1)
    def matvec(b):
        solver.n_solves += 1
        return solver._solve_numpy(np.asarray(b).ravel())

    op = sla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    with blas_threads(1):  # memory-bound BLAS-2: one thread is as fast and never spins
        w, U = sla.eigsh(L, k=k, M=sp.diags(mass), sigma=-sigma, OPinv=op, tol=tol, v0=v0)
    order = np.argsort(w)
    info = {"solves": solver.n_solves, "factorization": solver.backend}
    return torch.from_numpy(w[order]), torch.from_numpy(U[:, order]), info


def _lanczos(
    L: sp.csr_matrix,
    mass: np.ndarray,
    k: int,
    sigma: float,
    tol: float,
    seed: int,
    device: torch.device,
    block: int | None,
    max_dim: int | None,
    power: int = 1,
    threads: int = 1,
    split_rows: bool = False,
):
    n = L.shape[0]
    b = min(block or LANCZOS_BLOCK, n)
    # Block Lanczos needs about k + c·sqrt(b·k) vectors (c ≈ 10 for tol 1e-6)
    max_dim = int(min(n - 1, max_dim or (k + 14 * math.sqrt(b * k) + 2 * b)))
    if max_dim < k + b:
        raise _NotConverged("problem too small for block Lanczos")
    kern = _Kernels(n, b, device, threads, split_rows)
    W_buf = torch.empty(b, n, dtype=torch.float64, device=device)
    # The basis is stored transposed, (dim, V) row-major, so that the leading `dim` vectors
    # are one contiguous block for the BLAS-3 re-orthogonalisation; `out` receives the result.
    Qt = torch.empty(max_dim + b, n, dtype=torch.float64, device=device)
    out = torch.empty(n, k, dtype=torch.float64, device=device)
    # First touches of fresh memory are slow (measured on this VM: 0.15–0.5 s per 320 MB), so the
    # rows the loop will most likely use are touched by a side thread on the core that the
    # single-threaded sparse factorisation leaves idle.
    rows = min(max_dim + b, int(3.2 * k) + 4 * b)
    stop_prefault = kern.prefault([W_buf, Qt[:rows], out])
    t0 = time.perf_counter()
    solver = CholeskySolver(L + sigma * sp.diags(mass), threads=threads)
    t_factor = time.perf_counter() - t0
    stop_prefault()  # never wait for it: what it has not reached is touched by the loop
    sqrt_m = torch.as_tensor(np.sqrt(mass), dtype=torch.float64, device=device)

    def apply_S(Xt: torch.Tensor) -> torch.Tensor:  # rows (b, V) -> (S**power X)ᵀ, S = M^½(L+σM)⁻¹M^½
        for _ in range(power):
            Xt = kern.to_rows(solver.solve(kern.to_columns(Xt, sqrt_m)), sqrt_m, out=W_buf)
        return Xt

    gen = torch.Generator(device="cpu").manual_seed(seed)
    X = torch.randn(n, b, generator=gen, dtype=torch.float64).to(device)
    # Every block of vectors is stored as rows: the basis Qt (dim, V) and the block Wt (b, V).
    # In this layout the re-orthogonalisation products are short-and-wide GEMMs, the fastest
    # shape for BLAS here (measured: 2–3× faster than the (V, b) layout).
    H = torch.zeros(max_dim + b, max_dim + b, dtype=torch.float64, device=device)
    kern.orthonormalize(X.T.contiguous(), out=Qt[:b])
    dim = b
    converged = False
    theta = Z = None
    n_passes = 0
    next_check = k + b // 2
    while True:
        kern.refresh()
        Wt = apply_S(Qt[dim - b : dim])  # (b, V)
        basis = Qt[:dim]  # (dim, V)
        norm_before = kern.row_norms(Wt)
        Ct = kern.project(basis, Wt)  # (b, dim)
        kern.subtract(Wt, Ct, basis)
        # One classical Gram–Schmidt pass leaves an orthogonality error of about
        # eps·‖W_before‖/‖W_after‖; a second pass is needed only on severe cancellation.
        ratio = float((kern.row_norms(Wt) / norm_before.clamp_min(1e-300)).min())
        if ratio < REORTH_RATIO:
            C2t = kern.project(basis, Wt)
            kern.subtract(Wt, C2t, basis)
            Ct = Ct + C2t
            n_passes += 1
        H[:dim, dim - b : dim] = Ct.T
        R = kern.orthonormalize(Wt, out=Qt[dim : dim + b])  # W = Qn R, Qn stored after the basis
        if dim >= next_check:
            Hs = H[:dim, :dim]
            Hs = 0.5 * (Hs + Hs.T)
            theta, Z = torch.linalg.eigh(Hs)
            theta, Z = theta.flip(0)[:k], Z.flip(1)[:, :k]
            # Lanczos relation: S Q Z - Q Z Θ = Q_next R Z_last  =>  residual = ‖R Z_last‖
            res = torch.linalg.norm(R @ Z[dim - b : dim], dim=0) / theta.abs().clamp_min(1e-300)
            worst = float(res.max())
            log.debug("lanczos dim=%d worst relative residual %.2e", dim, worst)
            if worst <= tol:
                converged = True
                break
            # residuals fall geometrically: skip checks until they could plausibly be met
            # (the fall speeds up near convergence, so no rate is extrapolated: measured, that
            # overshot by up to 9 blocks)
            next_check = dim + b * max(1, min(4, int(math.log(worst / tol) / 4)))
        if dim + b > max_dim:
            break
        H[dim : dim + b, dim - b : dim] = R
        dim += b
    if not converged:
        kern.close()
        raise _NotConverged(f"block Lanczos did not converge within {dim} vectors")
    # One inverse-iteration step, Φ ← (L + σM)⁻¹ M Φ, i.e. y ← S y in the scaled coordinates
    # y = M^{1/2} φ: the Lanczos bound controls the residual of the shift-inverted problem,
    # whose error may keep high-frequency components that L amplifies (measured: relative
    # residuals up to 3e-3 on subdivided meshes); one application of S damps them by
    # λ_i/λ_high. It needs no solve: the block Gram–Schmidt coefficients H (all of them, not
    # only the symmetric tridiagonal part) satisfy S Q = Q H + Q_next R E_lastᵀ exactly (up to
    # rounding), so S y_i = Q (H z_i) + Q_next (R z_i[last block]) is the vector the solve would
    # return, for one more basis block in the final expansion. (θ_i y_i in place of Q H z_i
    # is not enough: the small asymmetry of H, from rounding, is large next to the smallest θ.)
    # Then Rayleigh–Ritz for the unshifted problem in span{y_i}, done in the small space:
    # with A = M^{-1/2} L M^{-1/2} = S⁻¹ − σI, Q orthonormal, y_i = S z_i / θ_i and
    # Zᵀ (Qᵀ S Q) Z = Θ, the two k×k matrices are Yᵀ Y = coefᵀ coef and
    # Yᵀ A Y = Θ⁻¹ − σ·Yᵀ Y: no sparse product and no (V, k) product is needed before the one
    # expansion of the final vectors, which come out M-orthonormal.
    coef = torch.cat([H[:dim, :dim] @ Z, R @ Z[dim - b : dim]]) / theta[None, :]  # (dim + b, k)
    G = coef.T @ coef
    Rg = torch.linalg.cholesky(0.5 * (G + G.T), upper=True)  # G = Rgᵀ Rg
    inv = torch.linalg.solve_triangular(Rg, torch.eye(k, dtype=G.dtype, device=G.device), upper=True)
    A = (inv.T / theta[None, :]) @ inv
    lam, U = torch.linalg.eigh(0.5 * (A + A.T))
    lam = lam - sigma
    # (the next block Qn already sits after the basis: the buffer has room for one more block)
    evecs = kern.expand(coef @ (inv @ U), Qt[: dim + b], out)  # (V, k): M^{1/2} φ_i
    evecs /= sqrt_m[:, None]
    kern.close()
    info = {
        "solves": solver.n_solves,
        "krylov_dim": dim,
        "block": b,
        "second_passes": n_passes,
        "power": power,
        "factorization": solver.backend,
        "factor_seconds": t_factor,
        "row_split": kern.ever_split,
    }
    return lam, evecs, info


class _Kernels:
    """The dense kernels of the Lanczos loop; blocks of vectors are stored as rows, (b, V).

    On the CPU they run in numpy (OpenBLAS) on views of the torch tensors, into preallocated
    buffers: measured on the 2-core AMD machine of docs/benchmarks.md, torch's MKL build runs
    these short-and-wide products 1.5–3× slower and its small kernels pay for waking its
    OpenMP pool, which then fights OpenBLAS's for the cores (so the Lanczos loop runs torch
    single-threaded). When other jobs hold the cores (checked at every step, see
    :meth:`refresh`) the big kernels are split over vertex ranges across worker threads running
    single-threaded BLAS (the GIL is released inside the products) instead: thread pools that
    spin at every barrier lose badly then (benchmarks/eigen_contention.py, 100k vertices beside
    one busy process on 2 cores: 10.3 s with BLAS threads, 6.2 s split). On CUDA the kernels are torch operations.

    Args:
        n: number of vertices V.
        b: block size.
        device: where the vectors live.
        threads: this process's thread budget.
        split: start split (the caller has set BLAS single-threaded) or with BLAS threads.
    """

    def __init__(self, n: int, b: int, device: torch.device, threads: int, split: bool):
        # torch kernels on a GPU (and, for tests, on the CPU when _TORCH_KERNELS is set)
        self.torch_ops = device.type != "cpu" or _TORCH_KERNELS
        self.threads = threads
        parts = 1 if self.torch_ops else max(1, min(threads, n // 4096 or 1))
        bounds = np.linspace(0, n, parts + 1).astype(int)
        self.slices = [slice(int(a), int(c)) for a, c in zip(bounds[:-1], bounds[1:])]
        self.pool = None
        if parts > 1:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(parts)
        self.split = split and self.pool is not None
        self.ever_split = self.split
        self._calm = self._busy = 0
        self._limiter = None
        if not self.torch_ops:
            self._tmp = np.empty((b, n))  # scratch block (b, V)
            self._cols = np.empty((n, b))  # a block as columns, for the sparse solve

    def refresh(self) -> None:
        """Switch between BLAS threads and the vertex split when other jobs take or free the
        cores (checked once per Lanczos step: split after 3 busy checks in a row, so that a
        passing shell command does not count, back to BLAS threads after 3 calm ones)."""
        if self.pool is None:
            return
        busy = _cores_oversubscribed(self.threads)
        self._calm = 0 if busy else self._calm + 1
        self._busy = self._busy + 1 if busy else 0
        if busy == self.split or (not busy and self._calm < 3) or (busy and self._busy < 3):
            return
        from threadpoolctl import threadpool_limits

        if self._limiter is not None:
            self._limiter.restore_original_limits()
        self.split = busy
        self.ever_split |= busy
        self._limiter = threadpool_limits(limits=1 if busy else self.threads, user_api="blas")
        log.debug("lanczos: %s", "other jobs hold the cores; split kernels" if busy else "cores free again")

    def _map(self, fn) -> list:
        if not self.split:
            return [fn(slice(None))]
        return list(self.pool.map(fn, self.slices))

    def project(self, basis: torch.Tensor, Wt: torch.Tensor) -> torch.Tensor:
        """``Wt @ basisᵀ`` for Wt (b, V), basis (d, V) -> (b, d)."""
        if self.torch_ops:
            return Wt @ basis.T
        B, W = basis.numpy(), Wt.numpy()
        parts = self._map(lambda sl: W[:, sl] @ B[:, sl].T)
        return torch.from_numpy(parts[0] if len(parts) == 1 else np.sum(parts, axis=0))

    def subtract(self, Wt: torch.Tensor, Ct: torch.Tensor, basis: torch.Tensor) -> None:
        """In place ``Wt -= Ct @ basis`` for Wt (b, V), Ct (b, d), basis (d, V)."""
        if self.torch_ops:
            Wt.sub_(Ct @ basis)
            return
        B, W, C, T = basis.numpy(), Wt.numpy(), Ct.numpy(), self._tmp

        def work(sl):
            np.matmul(C, B[:, sl], out=T[:, sl])
            W[:, sl] -= T[:, sl]
        self._map(work)

    def expand(self, coef: torch.Tensor, basis: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out = basisᵀ @ coef`` for coef (d, k), basis (d, V), out (V, k)."""
        if self.torch_ops:
            return torch.matmul(basis.T, coef, out=out)
        B, C, O = basis.numpy(), coef.numpy(), out.numpy()

        def work(sl):
            np.matmul(B[:, sl].T, C, out=O[sl])
        self._map(work)
        return out

    def prefault(self, buffers: list[torch.Tensor]) -> Callable[[], None]:
        """Touch the pages of the CPU ``buffers`` (overwritten with zeros), in order, in a side thread.

        Returns:
            ``stop()``: ends the side thread after its current 8 MB chunk and waits for it;
            whatever is left untouched is faulted in by its first real use.
        """
        if self.torch_ops:
            return lambda: None
        halt = threading.Event()

        def touch():
            for t in buffers:
                flat = t.numpy().reshape(-1)
                for i in range(0, flat.size, 1 << 20):
                    if halt.is_set():
                        return
                    flat[i : i + (1 << 20)] = 0.0

        thread = threading.Thread(target=touch, daemon=True)
        thread.start()

        def stop():
            halt.set()
            thread.join()
        return stop

    def row_norms(self, Wt: torch.Tensor) -> torch.Tensor:
        """(b,) Euclidean norms of the rows of Wt (b, V)."""
        if self.torch_ops:
            return torch.linalg.norm(Wt, dim=1)
        W = Wt.numpy()
        return torch.from_numpy(np.sqrt(np.einsum("bv,bv->b", W, W)))

    def orthonormalize(self, Wt: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Cholesky-QR (a second pass when needed) of a block of rows: ``W = Q R`` (W = Wtᵀ).

        Args:
            Wt: (b, V).
            out: (b, V) receives Qt, orthonormal rows with ``Wt = Rᵀ Qt``.

        Returns:
            R (b, b) upper triangular. Falls back to Householder QR when the Gram matrix is
            numerically singular.
        """
        eye = torch.eye(Wt.shape[0], dtype=Wt.dtype, device=Wt.device)
        scratch = torch.empty_like(Wt) if self.torch_ops else torch.from_numpy(self._tmp)
        R_total = None
        src = Wt
        for p in range(2):
            G = src @ src.T if self.torch_ops else torch.from_numpy(src.numpy() @ src.numpy().T)
            R, info = torch.linalg.cholesky_ex(G, upper=True)
            if int(info) != 0 or not torch.isfinite(R).all():
                Q, R = torch.linalg.qr(Wt.T)
                out.copy_(Q.T)
                return R
            # one Cholesky-QR pass leaves an orthogonality error of about eps·κ(R)²: a second
            # pass only for an ill-conditioned block (measured: κ ≈ 1.6 typical, > 10 in 1 of 50)
            final = p == 1 or float(torch.linalg.cond(R)) < _CHOLQR_ONE_PASS_COND
            dst = out if final else scratch
            # Qt ← R⁻ᵀ Qt through the small (b, b) inverse: one product, not a wide triangular solve
            inv_t = torch.linalg.solve_triangular(R, eye, upper=True).T.contiguous()
            if self.torch_ops:
                torch.matmul(inv_t, src, out=dst)
            else:
                np.matmul(inv_t.numpy(), src.numpy(), out=dst.numpy())
            R_total = R if R_total is None else R @ R_total
            if final:
                break
            src = dst
        return R_total

    def to_columns(self, Xt: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """``(Xt * s)ᵀ``: rows (b, V) scaled along V by s (V,), as a C-contiguous (V, b)."""
        if self.torch_ops:
            return (Xt * scale[None, :]).T.contiguous()
        np.multiply(Xt.numpy().T, scale.numpy()[:, None], out=self._cols)
        return torch.from_numpy(self._cols)

    def to_rows(self, X: torch.Tensor, scale: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out = (X * s)ᵀ``: columns (V, b) scaled along V by s (V,), as rows (b, V)."""
        if self.torch_ops:
            out.copy_((X * scale[:, None]).T)
        else:
            np.multiply(X.numpy().T, scale.numpy()[None, :], out=out.numpy())
        return out

    def close(self) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()
        if self.pool is not None:
            self.pool.shutdown()


def _other_runnable() -> int | None:
    """Threads of other processes that are runnable right now (Linux ``/proc``), else None."""
    try:
        with open("/proc/loadavg") as fh:
            total = int(fh.read().split()[3].split("/")[0])
        own = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as fh:
                    own += fh.read().rsplit(")", 1)[1].split()[0] == "R"
            except OSError:  # the thread ended meanwhile
                pass
        return max(0, total - own)
    except (OSError, ValueError, IndexError):
        return None


def _cores_oversubscribed(threads: int = 1, samples: int = 1) -> bool:
    """Whether other jobs hold the cores this process's ``threads`` would need: other processes'
    runnable threads right now (the fewest over ``samples`` reads 1 ms apart, so that a passing
    blip does not count) leave fewer than ``threads`` cores free, or the 1-minute load average
    exceeds the core count by more than this process's own threads could add."""
    cores = os.cpu_count() or 1
    others = _other_runnable()
    for _ in range(samples - 1):
        if not others:
            break
        time.sleep(0.001)
        now = _other_runnable()
        others = None if now is None else min(others, now)
    if others is not None and others + threads > cores:
        return True
    try:
        return os.getloadavg()[0] > cores + 1
    except OSError:  # pragma: no cover - no load average on this platform
        return False


@contextlib.contextmanager
def _torch_threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class _NotConverged(RuntimeError):
    pass


def laplacian_eigenbasis(
    L,
    mass,
    k: int,
    *,
    method: str = "auto",
    tol: float = 1e-6,
    seed: int = 0,
    device: str | torch.device | None = None,
    block: int | None = None,
    max_dim: int | None = None,
    power: int = 1,
) -> Eigenbasis:
    """The first ``k`` eigenpairs of ``L φ = λ M φ``.

    Args:
        L: (V, V) symmetric PSD sparse matrix (scipy or torch).
        mass: (V,) lumped mass, all > 0.
        k: number of eigenpairs; if ``k > V`` all V are returned (with a warning).
        method: ``"auto"`` (dense for V ≤ 400, ARPACK below 10k vertices, else ``"lanczos"``),
            ``"lanczos"``, ``"arpack"`` or ``"dense"``.
        tol: relative residual tolerance of the iterative methods.
        seed: seed of the random start (results are deterministic for a given seed).
        device: where the dense work runs (``"cpu"``, ``"cuda"``, ...; default CPU).
        block: block size of the Lanczos method (default :data:`LANCZOS_BLOCK`).
        max_dim: Krylov dimension limit of the Lanczos method (default k + 14·sqrt(block·k) + 2·block).
        power: the Lanczos method builds its Krylov space with ``S**power`` (2 trades more
            solves for a smaller basis).

    Returns:
        An :class:`Eigenbasis` on ``device`` (float64).

    Raises:
        MeshtalkError: bad shapes, non-positive mass, unknown method.
    """
    if method not in METHODS:
        raise MeshtalkError(f"unknown eigensolver {method!r}; choose one of {', '.join(METHODS)}")
    device = torch.device(device or "cpu")
    L = _as_csr(L)
    mass = np.asarray(torch.as_tensor(mass).detach().cpu().numpy() if isinstance(mass, torch.Tensor) else mass,
                      dtype=np.float64).ravel()
    n = L.shape[0]
    if L.shape != (n, n) or mass.shape != (n,):
        raise MeshtalkError(f"Laplacian {L.shape} and mass {mass.shape} do not match")
    if not np.all(np.isfinite(mass)) or mass.min(initial=1.0) <= 0:
        raise MeshtalkError("the mass matrix must be finite and positive (a vertex has zero area)")
    if not np.all(np.isfinite(L.data)):
        raise MeshtalkError("the Laplacian has NaN/inf entries")
    if k < 1:
        raise MeshtalkError(f"k must be >= 1, got {k}")
    if k > n:
        log.warning("asked for %d eigenpairs of a %d-vertex surface; returning %d", k, n, n)
        k = n
    sigma = 1e-2 / mass.sum()
    if method == "auto":
        method = "dense" if n <= DENSE_MAX_VERTS else "arpack" if n < LANCZOS_MIN_VERTS else "lanczos"
    if method != "dense" and k > n // 3:
        if n <= 8000:
            method = "dense"
        else:
            raise MeshtalkError(f"k={k} is too large for a {n}-vertex surface (at most V/3 = {n // 3})")
    t0 = time.perf_counter()
    info: dict = {}
    if method == "lanczos":
        try:
            threads = max(1, torch.get_num_threads())
            # Thread policy (this process's budget: torch's intra-op thread count). On the CPU
            # the loop's dense kernels run in numpy's BLAS with that budget and torch runs
            # single-threaded, so that two thread pools never spin against each other (measured
            # at 100k vertices on 2 cores: 20–30 % faster than torch's own threads). When other
            # jobs hold the cores, worker threads split the vertex range with single-threaded
            # BLAS instead (spinning pools lose badly there: ~14× at load ~10).
            cpu = device.type == "cpu"
            split = cpu and threads > 1 and _cores_oversubscribed(threads, samples=3)
            with _torch_threads(1 if cpu else threads), blas_threads(1 if split else threads):
                evals, evecs, info = _lanczos(L, mass, k, sigma, tol, seed, device, block, max_dim,
                                              power, threads, split)
        except _NotConverged as exc:
            log.warning("%s; falling back to ARPACK", exc)
            method = "arpack"
    if method == "arpack":
        evals, evecs, info = _arpack(L, mass, k, sigma, tol, seed)
    elif method == "dense":
        evals, evecs, info = _dense(L, mass, k, device)
    evals = evals.to(device=device, dtype=torch.float64).clamp_min(0.0)
    evecs = evecs.to(device=device, dtype=torch.float64)
    signs = _sign_flips(evecs)
    evecs *= signs
    residuals = eigen_residuals(L, mass, evals, evecs).to(device)
    if method == "lanczos" and float(residuals.max()) > RESIDUAL_FALLBACK * max(tol, 1e-12):
        log.warning("block Lanczos residual %.1e exceeds %.0e x tol; recomputing with ARPACK",
                    float(residuals.max()), RESIDUAL_FALLBACK)
        method = "arpack"
        evals, evecs, info = _arpack(L, mass, k, sigma, tol, seed)
        evals = evals.to(device=device, dtype=torch.float64).clamp_min(0.0)
        evecs = evecs.to(device=device, dtype=torch.float64)
        evecs *= _sign_flips(evecs)
        residuals = eigen_residuals(L, mass, evals, evecs).to(device)
    seconds = time.perf_counter() - t0
    info = {**info, "max_residual": float(residuals.max())}
    log.info("eigenbasis: V=%d k=%d %s %.2fs max residual %.1e", n, k, method, seconds,
             info["max_residual"])
    return Eigenbasis(evals, evecs, residuals, method, seconds, info)


def memory_estimate_bytes(n_verts: int, k: int, *, block: int | None = None) -> int:
    """An upper estimate of the peak memory of :func:`laplacian_eigenbasis` ("lanczos").

    Counts the Krylov basis, the Cholesky factor (≈ 80 nonzeros per row, measured 58–74) and
    the working blocks.
    """
    b = block or LANCZOS_BLOCK
    dim = k + 14 * math.sqrt(b * k) + 3 * b
    basis = 8 * n_verts * dim
    factor = 12 * 80 * n_verts
    work = 8 * n_verts * (4 * b + 2 * k)
    return int(1.2 * (basis + factor + work))


def available_memory_bytes() -> int | None:
    """MemAvailable of this machine (Linux), or None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _fmt_gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_memory(n_verts: int, k: int, *, name: str = "mesh") -> None:
    """Refuse up front (one-line :class:`MeshtalkError`) a surface whose precompute would not fit."""
    need = memory_estimate_bytes(n_verts, k) + 8 * 200 * n_verts  # + Laplacian/gradients/frames
    have = available_memory_bytes()
    if have is not None and need > 0.8 * have:
        target = int(n_verts * 0.8 * have / need)
        raise MeshtalkError(
            f"{name}: {n_verts} vertices need about {_fmt_gib(need)} for the operator precompute "
            f"(k={k}) but only {_fmt_gib(have)} is available; decimate the scan to at most "
            f"~{math.floor(target / 1000)}k vertices (e.g. quadric decimation in Blender/MeshLab) or lower k"
        )
