"""DTW, discrete Fréchet, Soft-DTW, lag, speech correlation, amplitude: textbook, naive, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.metrics.temporal import (
    discrete_frechet,
    dtw,
    mouth_statistics,
    opening_amplitude_difference,
    opening_range_difference,
    pearson,
    soft_dtw,
    speech_envelope,
    speech_opening_correlation,
    temporal_misalignment,
)


# ---------------------------------------------------------------- naive oracles (plain loops)
def naive_dtw(a, b, band=None):
    n, m = len(a), len(b)
    inf = float("inf")
    d = [[inf] * (m + 1) for _ in range(n + 1)]
    d[0][0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if band is not None and abs(j - i * m / n) > band + 1e-9:
                continue
            c = math.sqrt(sum((x - y) ** 2 for x, y in zip(a[i - 1], b[j - 1])))
            d[i][j] = c + min(d[i - 1][j], d[i][j - 1], d[i - 1][j - 1])
    return d[n][m]


def naive_frechet(a, b):
    n, m = len(a), len(b)
    f = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            c = math.sqrt(sum((x - y) ** 2 for x, y in zip(a[i], b[j])))
            if i == 0 and j == 0:
                f[i][j] = c
            elif i == 0:
                f[i][j] = max(c, f[i][j - 1])
            elif j == 0:
                f[i][j] = max(c, f[i - 1][j])
            else:
                f[i][j] = max(c, min(f[i - 1][j], f[i][j - 1], f[i - 1][j - 1]))
    return f[n - 1][m - 1]


def naive_soft_dtw(a, b, gamma):
    n, m = len(a), len(b)
    inf = float("inf")
    r = [[inf] * (m + 1) for _ in range(n + 1)]
    r[0][0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            c = sum((x - y) ** 2 for x, y in zip(a[i - 1], b[j - 1]))
            terms = [r[i - 1][j - 1], r[i - 1][j], r[i][j - 1]]
            s = sum(math.exp(-t / gamma) for t in terms if t < inf)
            r[i][j] = c - gamma * math.log(s)
    return r[n][m]


# ---------------------------------------------------------------- DTW
def test_dtw_textbook_cases():
    # a repeated sample is absorbed by warping: distance 0
    assert dtw([1, 2, 3], [1, 2, 2, 3]) == 0.0
    assert dtw([0, 0, 1, 2, 1, 0], [0, 1, 2, 1, 0, 0]) == 0.0
    # by hand: a=[0,1,2], b=[0,2]: D = [[0,2],[1,2],[3,2]] -> 2 ; best path (0,0),(1,0),(2,1)? costs 0+1+0=1
    assert dtw([0, 1, 2], [0, 2]) == 1.0
    # one sample each
    assert dtw([3.0], [-1.0]) == 4.0
    # 2-D series, Euclidean ground cost
    assert dtw([[0, 0], [3, 4]], [[0, 0], [0, 0], [3, 4]]) == 0.0
    assert dtw([[0, 0]], [[3, 4], [0, 0]]) == 5.0


def test_dtw_normalisations_and_path():
    res = dtw([0, 1, 2], [0, 2], return_path=True)
    assert res.total_cost == 1.0
    assert res.path.tolist() == [[0, 0], [1, 0], [2, 1]] or res.path.tolist() == [[0, 0], [1, 1], [2, 1]]
    assert dtw([0, 1, 2], [0, 2], normalize="path") == pytest.approx(1.0 / 3)
    assert dtw([0, 1, 2], [0, 2], normalize="n+m") == pytest.approx(1.0 / 5)
    # path is monotone, starts and ends at the corners, and its cost equals the total
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=17), rng.normal(size=23)
    res = dtw(a, b, return_path=True)
    p = res.path
    assert p[0].tolist() == [0, 0] and p[-1].tolist() == [16, 22]
    steps = np.diff(p, axis=0)
    assert ((steps >= 0) & (steps <= 1)).all() and (steps.sum(axis=1) >= 1).all()
    assert np.abs(a[p[:, 0]] - b[p[:, 1]]).sum() == pytest.approx(res.total_cost, rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_dtw_frechet_soft_dtw_against_naive_loops(seed):
    rng = np.random.default_rng(seed)
    n, m, k = int(rng.integers(1, 25)), int(rng.integers(1, 25)), int(rng.integers(1, 4))
    a, b = rng.normal(size=(n, k)), rng.normal(size=(m, k))
    assert dtw(a, b) == pytest.approx(naive_dtw(a, b), rel=1e-12)
    assert discrete_frechet(a, b) == pytest.approx(naive_frechet(a, b), rel=1e-12)
    assert soft_dtw(a, b, gamma=0.7) == pytest.approx(naive_soft_dtw(a, b, 0.7), rel=1e-10)


def test_sakoe_chiba_band():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(20, 1)), rng.normal(size=(26, 1))
    for r in (1.5, 3, 6):
        assert dtw(a, b, band=r) == pytest.approx(naive_dtw(a, b, band=r), rel=1e-12)
    # a band can only raise the cost, and a wide band changes nothing
    assert dtw(a, b, band=2) >= dtw(a, b) - 1e-12
    assert dtw(a, b, band=100) == dtw(a, b)
    # a shift by 3 samples needs a band of at least 3 to be absorbed
    s = np.sin(np.linspace(0, 6, 40))
    late = np.concatenate([np.full(3, s[0]), s])
    padded = np.concatenate([s, np.full(3, s[-1])])
    assert dtw(padded, late, band=3) == pytest.approx(0.0, abs=1e-12)
    assert dtw(padded, late, band=1) > 0.1
    with pytest.raises(MeshtalkError, match="band"):
        dtw(a, b, band=-1)


def test_frechet_textbook_cases():
    # by hand (see module docstring recurrence): a=[0,1,2], b=[0,2] -> 1
    assert discrete_frechet([0, 1, 2], [0, 2]) == 1.0
    # two parallel polylines at distance h
    x = np.linspace(0, 1, 11)
    a = np.column_stack([x, np.zeros_like(x)])
    b = np.column_stack([x, np.full_like(x, 0.3)])
    assert discrete_frechet(a, b) == pytest.approx(0.3)
    # the man walking his dog the wrong way round: reversing a path costs its length
    assert discrete_frechet(a, a[::-1]) == pytest.approx(1.0)
    # bottleneck: one outlier decides it, DTW sums it
    c = b.copy()
    c[5, 1] = 2.0
    assert discrete_frechet(a, c) == pytest.approx(2.0)


def test_soft_dtw_hand_values_and_limits():
    assert soft_dtw([0.0], [1.0, 2.0], gamma=1.0) == pytest.approx(5.0)
    # a=b=[0,1]: R22 = 0 + softmin(0, 1, 1) = -log(1 + 2/e)
    assert soft_dtw([0, 1], [0, 1], gamma=1.0) == pytest.approx(-math.log(1 + 2 / math.e))
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=12), rng.normal(size=9)
    assert soft_dtw(a, b, gamma=1e-4) == pytest.approx(dtw(a, b, metric="sqeuclidean"), rel=1e-3)
    assert soft_dtw(a, a, gamma=0.5, divergence=True) == pytest.approx(0.0, abs=1e-12)
    assert soft_dtw(a, b, gamma=0.5, divergence=True) > 0
    with pytest.raises(MeshtalkError, match="gamma"):
        soft_dtw(a, b, gamma=0)


@pytest.mark.parametrize(
    "bad", [[], np.zeros((3, 2, 2)), [1.0, np.nan], ["a", "b"]]
)
def test_series_validation(bad):
    with pytest.raises(MeshtalkError):
        dtw(bad, [1.0, 2.0])
    with pytest.raises(MeshtalkError):
        discrete_frechet([1.0, 2.0], bad)


def test_dimension_and_option_errors():
    with pytest.raises(MeshtalkError, match="dimensions"):
        dtw(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(MeshtalkError, match="normalize"):
        dtw([1, 2], [1, 2], normalize="mean")
    with pytest.raises(MeshtalkError, match="metric"):
        dtw([1, 2], [1, 2], metric="cosine")


# ---------------------------------------------------------------- lag, correlation, amplitude
def naive_pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    return sxy / (sx * sy)


def test_pearson_against_naive_and_constant():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=30), rng.normal(size=30)
    assert pearson(x, y) == pytest.approx(naive_pearson(x, y), rel=1e-12)
    assert pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert pearson(np.ones(5), x[:5]) is None


def naive_lag(pred, gt, max_lag):
    best = None
    for lag in sorted(range(-max_lag, max_lag + 1), key=abs):
        if lag >= 0:
            g, p = gt[: len(gt) - lag], pred[lag:]
        else:
            g, p = gt[-lag:], pred[: len(pred) + lag]
        r = naive_pearson(list(g), list(p))
        if best is None or r > best[0] + 1e-12:
            best = (r, lag)
    return best


def test_temporal_misalignment_known_shift():
    rng = np.random.default_rng(4)
    gt = np.convolve(rng.normal(size=120), np.ones(5) / 5, mode="same")
    late = np.concatenate([np.zeros(3), gt[:-3]])  # prediction 3 frames late
    mis = temporal_misalignment(late, gt, fps=30)
    assert mis.lag_frames == 3 and mis.lag_ms == pytest.approx(100.0)
    assert temporal_misalignment(gt[3:], gt[:-3], fps=25).lag_frames == -3  # early
    assert temporal_misalignment(gt, gt, fps=30).lag_frames == 0
    pred = gt + 0.3 * rng.normal(size=gt.size)
    mis = temporal_misalignment(pred, gt, fps=30, max_lag_ms=200)
    r, lag = naive_lag(pred, gt, 6)
    assert (mis.lag_frames, mis.correlation) == (lag, pytest.approx(r, rel=1e-12))
    with pytest.raises(MeshtalkError, match="constant"):
        temporal_misalignment(np.ones(40), gt[:40], fps=30)
    with pytest.raises(MeshtalkError, match="fps"):
        temporal_misalignment(gt, gt, fps=0)


def test_speech_envelope_values():
    sr, fps = 16000, 25
    t = np.arange(sr) / sr
    audio = 0.5 * np.sin(2 * np.pi * 200 * t)
    env = speech_envelope(audio, sr, fps)
    assert env.shape == (25,)
    assert env[1:-1] == pytest.approx(np.full(23, 0.5 / math.sqrt(2)), rel=1e-3)
    # loud second half
    audio2 = np.where(t >= 0.5, 1.0, 0.1) * np.sign(np.sin(2 * np.pi * 100 * t))
    env2 = speech_envelope(np.column_stack([audio2, audio2]), sr, fps, n_frames=25)
    assert env2[3] == pytest.approx(0.1, rel=1e-6) and env2[20] == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(MeshtalkError):
        speech_envelope(np.array([np.nan, 1.0]), sr, fps)


def test_speech_opening_correlation_and_frozen_mouth():
    rng = np.random.default_rng(8)
    env = np.abs(np.convolve(rng.normal(size=100), np.ones(4), mode="same"))
    assert speech_opening_correlation(env, 3 * env + 1) == pytest.approx(1.0)
    assert speech_opening_correlation(env, np.full(100, 0.01)) == 0.0
    lagged = np.concatenate([np.zeros(2), env[:-2]])
    assert speech_opening_correlation(env, lagged, lag_frames=2) == pytest.approx(1.0)
    assert speech_opening_correlation(lagged, env, lag_frames=-2) == pytest.approx(1.0)


def test_mouth_statistics_and_differences():
    c = np.array([1.0, 3.0, 1.0, 3.0])
    s = mouth_statistics(c)
    assert (s.mean, s.amplitude, s.range) == (2.0, 1.0, 2.0)
    assert s.robust_range == pytest.approx(2.0)
    half = 2.0 + 0.5 * (c - 2.0)
    assert opening_amplitude_difference(half, c) == pytest.approx(-0.5)
    assert opening_range_difference(half, c) == pytest.approx(-1.0)
    assert opening_range_difference(half, c, robust=True) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    mu = sum(x) / 50
    assert mouth_statistics(x).amplitude == pytest.approx(math.sqrt(sum((v - mu) ** 2 for v in x) / 50))
