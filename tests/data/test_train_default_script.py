"""Helpers of scripts/train_default_model.py that write figures into the model card."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_default_model.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_default_model", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod   # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("shift", [-3, 0, 2, 5])
def test_best_lag_recovers_a_known_delay(script, shift):
    truth = np.random.default_rng(0).standard_normal(200).cumsum()
    pred = np.roll(truth, shift)          # pred[t + shift] = truth[t]: pred lags by `shift`
    assert script._best_lag(pred[10:-10], truth[10:-10], max_lag=8) == shift


def _group(model, neutral, loudness):
    return {name: {"lve_mm2": v[0], "opening_dtw_mm": v[1]}
            for name, v in (("model", model), ("neutral", neutral), ("loudness", loudness))}


def test_verdict_needs_a_wide_margin_on_both_measures(script):
    wide = script.WIDE_MARGIN
    met = script._verdict(_group((10, 1), (10 * wide, wide), (10 * wide + 1, 2)))
    assert met.endswith("is met.")
    narrow = script._verdict(_group((19.2, 0.72), (62.2, 3.43), (20.4, 0.86)))   # this stop's model
    assert "not by a wide margin" in narrow and narrow.endswith("**not met**.")
    lost = script._verdict(_group((25, 1.7), (62, 3.4), (20, 0.86)))
    assert "does **not** beat the loudness baseline" in lost
