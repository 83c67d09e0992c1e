"""Why the new metrics exist: each failure mode is caught by the measure made for it.

A good prediction is the ground truth plus small noise. Against it we test a prediction late by
2 frames (timing), one with half the jaw opening (amplitude) and a frozen mouth (no motion).
"""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.metrics.classic import lip_vertex_error
from meshtalk.metrics.curves import mouth_opening_curve
from meshtalk.metrics.landmarks import find_lip_landmarks, lip_region_mask
from meshtalk.metrics.temporal import (
    dtw,
    opening_amplitude_difference,
    speech_envelope,
    speech_opening_correlation,
    temporal_misalignment,
)
from tests.metrics import heads


@pytest.fixture(scope="module")
def scene(talking):
    v, f, a, gt = talking
    rng = np.random.default_rng(11)
    lm = find_lip_landmarks(v, f)
    lips = lip_region_mask(v, lm)
    preds = {
        "good": gt + rng.normal(scale=1e-4, size=gt.shape),
        "late2": heads.talking_sequence(v, np.concatenate([np.zeros(2), a[:-2]])),
        "half": heads.talking_sequence(v, 0.5 * a),
        "frozen": np.repeat(v[None], len(a), axis=0),
    }
    audio = heads.speech_audio(a, seed=2)
    env = speech_envelope(audio, 16000, 30.0, n_frames=len(a))
    return lm, lips, gt, preds, env


def test_shift_by_two_frames_raises_lve_sharply_but_dtw_only_slightly(scene):
    lm, lips, gt, preds, _ = scene
    op_gt = mouth_opening_curve(gt, lm)
    lve = {k: lip_vertex_error(p, gt, lips) for k, p in preds.items()}
    dtw_n = {k: dtw(mouth_opening_curve(p, lm), op_gt, normalize="path") for k, p in preds.items()}
    assert lve["late2"] > 20 * lve["good"]
    # DTW absorbs the shift: far below what the amplitude or frozen errors cost
    assert dtw_n["late2"] < 0.2 * dtw_n["half"]
    assert dtw_n["late2"] < 0.2 * dtw_n["frozen"]
    # while LVE ranks the well-shaped, late prediction no better than a half-open mouth
    assert lve["late2"] > 0.5 * lve["half"]
    assert temporal_misalignment(mouth_opening_curve(preds["late2"], lm), op_gt, fps=30).lag_frames == 2


def test_half_amplitude_with_right_timing_is_caught_by_the_amplitude_measure(scene):
    lm, _, gt, preds, _ = scene
    op_gt = mouth_opening_curve(gt, lm)
    amp_gt = op_gt.std()
    op_half = mouth_opening_curve(preds["half"], lm)
    assert opening_amplitude_difference(op_half, op_gt) == pytest.approx(-0.5 * amp_gt, rel=0.05)
    assert abs(opening_amplitude_difference(mouth_opening_curve(preds["good"], lm), op_gt)) < 0.05 * amp_gt
    assert abs(opening_amplitude_difference(mouth_opening_curve(preds["late2"], lm), op_gt)) < 0.05 * amp_gt
    # the timing is right, so the lag measure does not flag it
    assert temporal_misalignment(op_half, op_gt, fps=30).lag_frames == 0


def test_frozen_mouth_scores_worst_on_speech_correlation(scene):
    lm, _, gt, preds, env = scene
    corr = {k: speech_opening_correlation(env, mouth_opening_curve(p, lm)) for k, p in preds.items()}
    corr["gt"] = speech_opening_correlation(env, mouth_opening_curve(gt, lm))
    assert corr["gt"] > 0.5
    assert min(corr, key=corr.get) == "frozen"
    assert corr["frozen"] == 0.0
    assert min(v for k, v in corr.items() if k != "frozen") > 0.1
    assert corr["half"] == pytest.approx(corr["gt"], abs=0.02)  # correlation ignores amplitude
