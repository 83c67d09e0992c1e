"""Time-series measures for lip-sync: elastic distances, lag, speech correlation, amplitude.

All inputs are time series ``a: (n,)`` or ``(n, k)`` and ``b: (m,)`` or ``(m, k)`` (typically
mouth-opening curves from :mod:`meshtalk.metrics.curves`); the ground cost is
``d(a_i, b_j) = ||a_i - b_j||`` (Euclidean) unless stated. Indices below are 1-based as in the
textbooks; computation is float64. The dynamic programmes are evaluated one anti-diagonal at a
time (vectorised), O(n·m) time and memory.

Definitions (also in ``docs/metrics.md``):

* DTW: ``D(0,0)=0``, ``D(i,0)=D(0,j)=∞``, ``D(i,j) = d(a_i,b_j) + min{D(i-1,j), D(i,j-1), D(i-1,j-1)}``;
  ``DTW = D(n,m)``, optionally divided by the optimal path's length ("path") or by ``n+m``.
  Sakoe–Chiba band of radius r: only cells with ``|j - i·m/n| <= r`` are allowed.
* Discrete Fréchet (Eiter & Mannila 1994): ``F(i,j) = max{d(a_i,b_j), min{F(i-1,j), F(i-1,j-1), F(i,j-1)}}``.
* Soft-DTW (Cuturi & Blondel 2017): ``R(i,j) = c(a_i,b_j) + softmin_γ{R(i-1,j-1), R(i-1,j), R(i,j-1)}``
  with ``softmin_γ(x) = -γ log Σ exp(-x/γ)`` and squared Euclidean cost by default; the divergence
  ``S(a,b) - (S(a,a)+S(b,b))/2`` is non-negative and zero for ``a=b``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.metrics._validation import as_curve

log = logging.getLogger(__name__)

__all__ = [
    "DTWResult",
    "Misalignment",
    "MouthStatistics",
    "discrete_frechet",
    "dtw",
    "mouth_statistics",
    "opening_amplitude_difference",
    "opening_range_difference",
    "pearson",
    "soft_dtw",
    "speech_envelope",
    "speech_opening_correlation",
    "temporal_misalignment",
]


def _cost(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    if a.shape[1] != b.shape[1]:
        raise MeshtalkError(f"time series have different dimensions: {a.shape[1]} and {b.shape[1]}")
    diff = a[:, None, :] - b[None, :, :]
    sq = np.sum(diff * diff, axis=2)
    if metric == "euclidean":
        return np.sqrt(sq)
    if metric == "sqeuclidean":
        return sq
    raise MeshtalkError(f"metric must be 'euclidean' or 'sqeuclidean', got {metric!r}")


def _diagonals(n: int, m: int):
    """Yield, for k = 2..n+m, the 1-based (i, j) index arrays of the anti-diagonal i+j=k."""
    for k in range(2, n + m + 1):
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        yield i, k - i


def _band_mask(n: int, m: int, band: float | None) -> np.ndarray | None:
    if band is None:
        return None
    if not (band >= 0):
        raise MeshtalkError(f"band must be a non-negative number of frames, got {band}")
    i = np.arange(1, n + 1)[:, None]
    j = np.arange(1, m + 1)[None, :]
    return np.abs(j - i * (m / n)) <= band + 1e-9


@dataclass(frozen=True)
class DTWResult:
    """Result of :func:`dtw`.

    Attributes:
        distance: the (possibly normalised) DTW distance.
        total_cost: un-normalised ``D(n, m)``.
        path: ``(K, 2)`` int array of 0-based aligned index pairs, first to last.
    """

    distance: float
    total_cost: float
    path: np.ndarray


def dtw(
    a: object,
    b: object,
    *,
    normalize: str = "none",
    band: float | None = None,
    metric: str = "euclidean",
    return_path: bool = False,
) -> float | DTWResult:
    """Dynamic time warping distance between two time series.

    Args:
        a: ``(n,)`` or ``(n, k)`` series.
        b: ``(m,)`` or ``(m, k)`` series.
        normalize: ``'none'`` (``D(n,m)``), ``'path'`` (divided by the number K of cells on the
            optimal warping path) or ``'n+m'``.
        band: Sakoe–Chiba radius in frames (``|j - i·m/n| <= band``); ``None`` = unconstrained.
        metric: ground cost ``'euclidean'`` (default) or ``'sqeuclidean'``.
        return_path: return a :class:`DTWResult` with the path instead of a float.

    Ties on the optimal path are broken towards the diagonal step, then ``(i-1, j)``, then ``(i, j-1)``.

    Raises:
        MeshtalkError: bad shapes/NaN, unknown option, or a band too narrow to connect the ends.
    """
    x, y = as_curve(a, "a"), as_curve(b, "b")
    if normalize not in ("none", "path", "n+m"):
        raise MeshtalkError(f"normalize must be 'none', 'path' or 'n+m', got {normalize!r}")
    c = _cost(x, y, metric)
    n, m = c.shape
    allowed = _band_mask(n, m, band)
    if allowed is not None:
        c = np.where(allowed, c, np.inf)
    d = np.full((n + 1, m + 1), np.inf)
    d[0, 0] = 0.0
    for i, j in _diagonals(n, m):
        best = np.minimum(np.minimum(d[i - 1, j], d[i, j - 1]), d[i - 1, j - 1])
        d[i, j] = c[i - 1, j - 1] + best
    total = float(d[n, m])
    if not math.isfinite(total):
        raise MeshtalkError(f"DTW: band={band} is too narrow to align series of lengths {n} and {m}")
    need_path = return_path or normalize == "path"
    path = _backtrack(d) if need_path else None
    if normalize == "path":
        dist = total / len(path)
    elif normalize == "n+m":
        dist = total / (n + m)
    else:
        dist = total
    if return_path:
        return DTWResult(distance=dist, total_cost=total, path=path)
    return dist


def _backtrack(d: np.ndarray) -> np.ndarray:
    i, j = d.shape[0] - 1, d.shape[1] - 1
    path = [(i - 1, j - 1)]
    while (i, j) != (1, 1):
        options = ((d[i - 1, j - 1], i - 1, j - 1), (d[i - 1, j], i - 1, j), (d[i, j - 1], i, j - 1))
        best = min(o[0] for o in options)
        for val, ni, nj in options:
            if val == best and ni >= 1 and nj >= 1:
                i, j = ni, nj
                break
        path.append((i - 1, j - 1))
    return np.array(path[::-1], dtype=np.int64)


def discrete_frechet(a: object, b: object, *, metric: str = "euclidean") -> float:
    """Discrete Fréchet distance (Eiter & Mannila 1994).

    The smallest, over monotone couplings of the two sequences, of the largest ground cost along
    the coupling: a bottleneck distance (one bad frame decides it).

    Args:
        a: ``(n,)`` or ``(n, k)`` series.
        b: ``(m,)`` or ``(m, k)`` series.
        metric: ``'euclidean'`` or ``'sqeuclidean'``.

    Returns:
        ``F(n, m)`` in the units of the series.
    """
    x, y = as_curve(a, "a"), as_curve(b, "b")
    c = _cost(x, y, metric)
    n, m = c.shape
    f = np.full((n + 1, m + 1), np.inf)
    f[0, 0] = 0.0
    for i, j in _diagonals(n, m):
        best = np.minimum(np.minimum(f[i - 1, j], f[i, j - 1]), f[i - 1, j - 1])
        f[i, j] = np.maximum(c[i - 1, j - 1], best)
    return float(f[n, m])


def _soft_dtw_value(c: np.ndarray, gamma: float) -> float:
    n, m = c.shape
    r = np.full((n + 1, m + 1), np.inf)
    r[0, 0] = 0.0
    for i, j in _diagonals(n, m):
        stack = np.stack([r[i - 1, j - 1], r[i - 1, j], r[i, j - 1]])  # (3, L)
        lo = stack.min(axis=0)
        with np.errstate(invalid="ignore"):
            z = np.exp(-(stack - lo) / gamma)
        z = np.where(np.isinf(stack), 0.0, z)
        softmin = lo - gamma * np.log(z.sum(axis=0))
        r[i, j] = c[i - 1, j - 1] + softmin
    return float(r[n, m])


def soft_dtw(
    a: object, b: object, *, gamma: float = 1.0, metric: str = "sqeuclidean", divergence: bool = False
) -> float:
    """Soft-DTW (Cuturi & Blondel 2017), optionally as the Soft-DTW divergence.

    Args:
        a: ``(n,)`` or ``(n, k)`` series.
        b: ``(m,)`` or ``(m, k)`` series.
        gamma: smoothing γ > 0; as γ → 0 Soft-DTW tends to DTW with the same cost.
        metric: ground cost, ``'sqeuclidean'`` (the paper's) or ``'euclidean'``.
        divergence: return ``S(a,b) - (S(a,a) + S(b,b))/2`` (Blondel et al. 2021), which is ≥ 0
            and 0 for identical series; plain Soft-DTW can be negative.

    Returns:
        The Soft-DTW value (or divergence).
    """
    if not (gamma > 0):
        raise MeshtalkError(f"soft_dtw: gamma must be > 0, got {gamma}")
    x, y = as_curve(a, "a"), as_curve(b, "b")
    sab = _soft_dtw_value(_cost(x, y, metric), gamma)
    if not divergence:
        return sab
    saa = _soft_dtw_value(_cost(x, x, metric), gamma)
    sbb = _soft_dtw_value(_cost(y, y, metric), gamma)
    return sab - 0.5 * (saa + sbb)


def pearson(x: object, y: object) -> float | None:
    """Pearson correlation of two equal-length 1-D series; ``None`` if either is constant."""
    u = np.asarray(x, dtype=np.float64).ravel()
    v = np.asarray(y, dtype=np.float64).ravel()
    if u.size != v.size or u.size < 2:
        raise MeshtalkError(f"pearson: need two series of the same length >= 2, got {u.size} and {v.size}")
    u = u - u.mean()
    v = v - v.mean()
    su, sv = math.sqrt(float(u @ u)), math.sqrt(float(v @ v))
    scale = max(np.abs(u).max(initial=0.0), np.abs(v).max(initial=0.0), 1e-300)
    if su <= 1e-12 * scale * math.sqrt(u.size) or sv <= 1e-12 * scale * math.sqrt(v.size) or su == 0 or sv == 0:
        return None
    return float(np.clip((u @ v) / (su * sv), -1.0, 1.0))


@dataclass(frozen=True)
class Misalignment:
    """Lag of best cross-correlation between a predicted and a ground-truth curve.

    Attributes:
        lag_frames: lag L maximising ``corr(gt[t], pred[t+L])``; positive = the prediction is late.
        lag_ms: ``1000 · L / fps``.
        correlation: the Pearson correlation at that lag (over the overlapping frames).
    """

    lag_frames: int
    lag_ms: float
    correlation: float


def temporal_misalignment(
    pred: object, gt: object, *, fps: float, max_lag_ms: float = 500.0, min_overlap: int = 5
) -> Misalignment:
    """Temporal misalignment between two 1-D curves (e.g. mouth opening), in frames and ms.

    For each lag L in ``[-max_lag, max_lag]`` frames the Pearson correlation of ``gt[t]`` and
    ``pred[t+L]`` over their overlap is computed; the lag with the highest correlation wins (ties:
    the smallest ``|L|``). The dataset's *mean temporal misalignment* is the mean of ``|lag_ms|``.

    Args:
        pred: ``(T,)`` predicted curve.
        gt: ``(T',)`` ground-truth curve (both cut to the shorter length).
        fps: frame rate of the curves.
        max_lag_ms: largest lag searched, in ms.
        min_overlap: fewest overlapping frames for a lag to be considered.

    Raises:
        MeshtalkError: too short series, or either curve constant (no correlation defined).
    """
    p = as_curve(pred, "pred")[:, 0]
    g = as_curve(gt, "gt")[:, 0]
    n = min(p.size, g.size)
    p, g = p[:n], g[:n]
    if not (fps > 0):
        raise MeshtalkError(f"fps must be > 0, got {fps}")
    max_lag = int(min(round(max_lag_ms * fps / 1000.0), n - min_overlap))
    if max_lag < 0:
        raise MeshtalkError(f"temporal misalignment: series of {n} frames are shorter than min_overlap={min_overlap}")
    best: tuple[float, int] | None = None
    for lag in sorted(range(-max_lag, max_lag + 1), key=abs):
        if lag >= 0:
            r = pearson(g[: n - lag], p[lag:])
        else:
            r = pearson(g[-lag:], p[: n + lag])
        if r is None:
            continue
        if best is None or r > best[0] + 1e-12:
            best = (r, lag)
    if best is None:
        raise MeshtalkError("temporal misalignment: a curve is constant, no lag can be measured")
    return Misalignment(lag_frames=best[1], lag_ms=1000.0 * best[1] / fps, correlation=best[0])


def speech_envelope(audio: object, sample_rate: float, fps: float, n_frames: int | None = None) -> np.ndarray:
    """RMS speech envelope sampled at the animation frame rate.

    Frame t covers the samples in ``[(t - 1/2)/fps, (t + 1/2)/fps)`` seconds (centred on the frame
    time ``t/fps``), clipped to the signal.

    Args:
        audio: ``(N,)`` mono or ``(N, C)`` multi-channel samples (averaged to mono).
        sample_rate: samples per second.
        fps: animation frames per second.
        n_frames: number of frames T; default ``floor(N/sample_rate·fps)``.

    Returns:
        ``(T,)`` float64 RMS amplitude per frame (0 where a frame has no samples).
    """
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise MeshtalkError(f"audio: expected finite (N,) or (N, C) samples, got shape {np.shape(audio)}")
    if not (sample_rate > 0 and fps > 0):
        raise MeshtalkError("speech_envelope: sample_rate and fps must be > 0")
    if n_frames is None:
        n_frames = int(math.floor(x.size / sample_rate * fps))
    csum = np.concatenate([[0.0], np.cumsum(x * x)])
    t = np.arange(n_frames)
    lo = np.clip(np.round((t - 0.5) / fps * sample_rate).astype(np.int64), 0, x.size)
    hi = np.clip(np.round((t + 0.5) / fps * sample_rate).astype(np.int64), 0, x.size)
    count = hi - lo
    energy = csum[hi] - csum[lo]
    return np.where(count > 0, np.sqrt(np.maximum(energy, 0.0) / np.maximum(count, 1)), 0.0)


def speech_opening_correlation(envelope: object, opening: object, *, lag_frames: int = 0) -> float:
    """Pearson correlation between the speech envelope and the mouth opening.

    Args:
        envelope: ``(T,)`` speech envelope (:func:`speech_envelope`).
        opening: ``(T',)`` mouth-opening curve; both are cut to the shorter length.
        lag_frames: compare ``envelope[t]`` with ``opening[t + lag_frames]`` (the mouth often leads
            the sound by a frame or two).

    Returns:
        Correlation in [-1, 1]. A constant (frozen) mouth gets 0 — no linear association — which
        is below any prediction that opens with the speech.
    """
    e = as_curve(envelope, "envelope")[:, 0]
    o = as_curve(opening, "opening")[:, 0]
    n = min(e.size, o.size)
    e, o = e[:n], o[:n]
    if lag_frames > 0:
        e, o = e[: n - lag_frames], o[lag_frames:]
    elif lag_frames < 0:
        e, o = e[-lag_frames:], o[: n + lag_frames]
    r = pearson(e, o)
    if r is None:
        log.info("speech_opening_correlation: constant envelope or opening, correlation set to 0")
        return 0.0
    return r


@dataclass(frozen=True)
class MouthStatistics:
    """Summary of one mouth curve (opening or width), data units.

    Attributes:
        mean: time average.
        amplitude: population standard deviation over time (RMS about the mean).
        range: ``max - min``.
        robust_range: 95th minus 5th percentile (linear interpolation).
    """

    mean: float
    amplitude: float
    range: float
    robust_range: float


def mouth_statistics(curve: object) -> MouthStatistics:
    """Statistics of a ``(T,)`` mouth curve; see :class:`MouthStatistics`."""
    c = as_curve(curve, "curve")[:, 0]
    p95, p5 = np.percentile(c, [95.0, 5.0])
    return MouthStatistics(
        mean=float(c.mean()), amplitude=float(c.std()), range=float(c.max() - c.min()), robust_range=float(p95 - p5)
    )


def opening_amplitude_difference(pred: object, gt: object) -> float:
    """Signed opening-amplitude difference ``std_t(pred) - std_t(gt)``.

    Negative when the prediction opens less than the ground truth (an under-articulated,
    "mumbling" mouth), whatever the timing.

    Args:
        pred: ``(T,)`` predicted opening curve.
        gt: ``(T',)`` ground-truth opening curve.
    """
    return mouth_statistics(pred).amplitude - mouth_statistics(gt).amplitude


def opening_range_difference(pred: object, gt: object, *, robust: bool = False) -> float:
    """Signed opening-range difference ``range(pred) - range(gt)`` (max-min, or 95th-5th percentile)."""
    sp, sg = mouth_statistics(pred), mouth_statistics(gt)
    return (sp.robust_range - sg.robust_range) if robust else (sp.range - sg.range)
