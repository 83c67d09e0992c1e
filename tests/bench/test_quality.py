"""meshtalk/bench/quality.py: oracle model scores zero, baselines do not; analytic scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from meshtalk.bench.quality import QualityConfig, evaluate_quality, score_motion
from meshtalk.errors import MeshtalkError


@pytest.fixture(scope="module")
def oracle_result(voice):
    cfg = QualityConfig(heads=(7,), voices=(voice,), sentences=1, fit_sentences=1,
                        meshings=(("remesh", {"target_vertices": 2000}),))
    return evaluate_quality(lambda case: case.gt, cfg, model_label="oracle")


def test_ground_truth_model_scores_zero_and_baselines_do_not(oracle_result):
    r = oracle_result
    assert len(r.rows) == 1
    row = r.rows[0]
    assert row["model"]["lve_mm2"] == pytest.approx(0.0, abs=1e-12)
    assert row["model"]["opening_dtw_mm"] == pytest.approx(0.0, abs=1e-9)
    assert row["model"]["opening_frechet_mm"] == pytest.approx(0.0, abs=1e-9)
    assert row["model"]["opening_corr"] == pytest.approx(1.0)
    # the mouth opens by millimetres in a sentence: the frozen mesh is far off
    assert row["gt_opening_range_mm"] > 2.0
    assert row["neutral"]["lve_mm2"] > 1.0
    assert row["neutral"]["opening_dtw_mm"] > 0.5
    assert math.isnan(row["neutral"]["opening_corr"])
    assert 0 < row["loudness"]["lve_mm2"] < row["neutral"]["lve_mm2"] * 5
    assert row["true_mouth_width_mm"] == pytest.approx(43.7, abs=5) and row["auto_mouth_width_mm"] > 0
    assert row["mask"].startswith("lips-auto (") and f"of {row['vertices']} v" in row["mask"]
    # groups: all, one voice, one head, one meshing, with the same means
    assert set(r.summary) == {"all", f"voice {row['voice']}", "head head007", f"meshing {row['meshing']}"}
    assert r.summary["all"]["neutral"]["lve_mm2"] == pytest.approx(row["neutral"]["lve_mm2"])
    assert "curves" in r.examples and "heat" in r.examples


def test_score_motion_analytic_offset():
    """A rigid offset d of every vertex: LVE = |d|² exactly; the opening curve is unchanged."""
    from meshtalk.metrics import RegionMask

    rng = np.random.default_rng(0)
    verts = rng.normal(size=(200, 3)) * 0.05
    a = 0.004 * np.sin(np.linspace(0, 2 * np.pi, 40))
    gt = np.repeat(verts[None], 40, axis=0)
    gt[:, 150, 1] += a          # "upper lip" moves up
    gt[:, 50, 1] -= a           # "lower lip" moves down
    d = np.array([0.001, -0.002, 0.002])                # |d|² = 9e-6 m² = 9 mm²
    mask = RegionMask(name="all", indices=np.arange(200), source="test", n_vertices=200)
    s = score_motion(gt + d, gt, mask, (150, 50))
    assert s["lve_mm2"] == pytest.approx(9.0, rel=1e-9)
    assert s["opening_dtw_mm"] == pytest.approx(0.0, abs=1e-9)
    assert s["opening_frechet_mm"] == pytest.approx(0.0, abs=1e-9)
    assert s["opening_corr"] == pytest.approx(1.0)
    # a frozen mouth: LVE = mean over frames of max_v |a|² on the two moving vertices; no correlation
    frozen = score_motion(np.repeat(verts[None], 40, axis=0), gt, mask, (150, 50))
    assert frozen["lve_mm2"] == pytest.approx(np.mean(a ** 2) * 1e6, rel=1e-9)
    assert math.isnan(frozen["opening_corr"])
    # landmarks that do not straddle the moving lips: curve metrics left out, LVE kept
    off = score_motion(gt + d, gt, mask, (3, 4))
    assert off["lve_mm2"] == pytest.approx(9.0) and math.isnan(off["opening_dtw_mm"])


def test_wrong_prediction_shape_is_one_line_error(voice):
    cfg = QualityConfig(heads=(7,), voices=(voice,), sentences=1, fit_sentences=1,
                        meshings=(("remesh", {"target_vertices": 2000}),))
    with pytest.raises(MeshtalkError, match=r"prediction .* has shape"):
        evaluate_quality(lambda case: case.gt[:, :10], cfg)
    with pytest.raises(MeshtalkError, match=r"prediction .* has shape"):
        evaluate_quality(lambda case: case.gt[:-5], cfg)
    # one frame short (frame-count rounding): scored on the common frames, still exact
    r = evaluate_quality(lambda case: case.gt[:-1], cfg)
    assert r.rows[0]["model"]["lve_mm2"] == 0.0 and r.rows[0]["neutral"]["lve_mm2"] > 0


@pytest.mark.parametrize("kwargs", [dict(heads=()), dict(sentences=0), dict(meshings=())])
def test_config_validation(kwargs):
    with pytest.raises(MeshtalkError):
        QualityConfig(**kwargs)
