"""LVE, MVE, FDD: hand-computed values, the CodeTalker operations, naive loops, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.metrics import NonFiniteFrameWarning, SequenceLengthWarning
from meshtalk.metrics.classic import (
    classic_metrics,
    fdd_sequence,
    lip_max_sq_error,
    lip_vertex_error,
    mean_vertex_error,
    upper_face_motion_std,
)
from meshtalk.metrics.masks import RegionMask

LIPS = RegionMask("lips", np.array([0, 2]), "test")
UPPER = RegionMask("upper", np.array([1, 2]), "test")


def tiny():
    # 2 frames, 3 vertices
    gt = np.zeros((2, 3, 3))
    pred = np.zeros((2, 3, 3))
    pred[0, 0] = [1, 0, 0]  # lip error² 1
    pred[0, 2] = [0, 2, 0]  # lip error² 4  -> frame 0 max 4
    pred[1, 1] = [3, 0, 0]  # not a lip vertex
    pred[1, 2] = [0, 0, 1]  # frame 1 max 1
    return pred, gt


def test_hand_computed_lve_mve():
    pred, gt = tiny()
    assert lip_max_sq_error(pred, gt, LIPS).tolist() == [4.0, 1.0]
    assert lip_vertex_error(pred, gt, LIPS) == 2.5
    # MVE: frame 0 norms 1, 0, 2; frame 1 norms 0, 3, 1 -> 7 / 6
    assert mean_vertex_error(pred, gt) == pytest.approx(7 / 6, abs=1e-15)
    # accepts the FaceFormer (T, V*3) layout
    assert lip_vertex_error(pred.reshape(2, 9), gt.reshape(2, 9), LIPS) == 2.5


def test_hand_computed_fdd():
    tpl = np.zeros((3, 3))
    gt = np.zeros((2, 3, 3))
    gt[0, 1] = [1, 0, 0]  # squared displacement of vertex 1 over time: 1, 0 -> std 0.5
    gt[1, 2] = [0, 2, 0]  # vertex 2: 0, 4 -> std 2
    pred = np.zeros((2, 3, 3))
    pred[1, 1] = [0, 0, 1]  # vertex 1: 0, 1 -> std 0.5 ; vertex 2 still -> std 0
    assert upper_face_motion_std(gt, tpl, UPPER) == 1.25
    assert upper_face_motion_std(pred, tpl, UPPER) == 0.25
    assert fdd_sequence(pred, gt, tpl, UPPER) == 1.0
    assert fdd_sequence(gt, pred, tpl, UPPER) == -1.0  # signed


def codetalker_reference(preds, gts, templates, mouth_map, upper_map):
    """The reference script's numpy operations, written out as it does them."""
    vertices_gt_all, vertices_pred_all, motion_std_difference, abs_diff = [], [], [], []
    for vertices_gt, vertices_pred, template in zip(gts, preds, templates):
        vertices_pred = vertices_pred[: vertices_gt.shape[0], :, :]
        motion_pred = vertices_pred - template.reshape(1, -1, 3)
        motion_gt = vertices_gt - template.reshape(1, -1, 3)
        vertices_gt_all.extend(list(vertices_gt))
        vertices_pred_all.extend(list(vertices_pred))
        L2_dis_upper = np.array([np.square(motion_gt[:, v, :]) for v in upper_map])
        L2_dis_upper = np.transpose(L2_dis_upper, (1, 0, 2))
        L2_dis_upper = np.sum(L2_dis_upper, axis=2)
        L2_dis_upper = np.std(L2_dis_upper, axis=0)
        gt_motion_std = np.mean(L2_dis_upper)
        L2_dis_upper = np.array([np.square(motion_pred[:, v, :]) for v in upper_map])
        L2_dis_upper = np.transpose(L2_dis_upper, (1, 0, 2))
        L2_dis_upper = np.sum(L2_dis_upper, axis=2)
        L2_dis_upper = np.std(L2_dis_upper, axis=0)
        pred_motion_std = np.mean(L2_dis_upper)
        motion_std_difference.append(gt_motion_std - pred_motion_std)
        abs_diff.append(abs(gt_motion_std - pred_motion_std))
    vertices_gt_all = np.array(vertices_gt_all)
    vertices_pred_all = np.array(vertices_pred_all)
    L2_dis_mouth_max = np.array([np.square(vertices_gt_all[:, v, :] - vertices_pred_all[:, v, :]) for v in mouth_map])
    L2_dis_mouth_max = np.transpose(L2_dis_mouth_max, (1, 0, 2))
    L2_dis_mouth_max = np.sum(L2_dis_mouth_max, axis=2)
    L2_dis_mouth_max = np.max(L2_dis_mouth_max, axis=1)
    mve = np.mean(np.linalg.norm(vertices_gt_all - vertices_pred_all, axis=2))
    return (np.mean(L2_dis_mouth_max), mve, sum(motion_std_difference) / len(motion_std_difference),
            sum(abs_diff) / len(abs_diff))


def random_set(rng, n_seq=4, v=40):
    preds, gts, tpls = [], [], []
    for _ in range(n_seq):
        t = int(rng.integers(5, 30))
        tpl = rng.normal(size=(v, 3)) * 0.1
        gts.append(tpl + rng.normal(size=(t, v, 3)) * 1e-3)
        preds.append(tpl + rng.normal(size=(t, v, 3)) * 1e-3)
        tpls.append(tpl)
    return preds, gts, tpls


def test_bit_compatible_with_codetalker_operations():
    rng = np.random.default_rng(0)
    preds, gts, tpls = random_set(rng)
    lips = RegionMask("lips", rng.choice(40, 12, replace=False), "random")
    upper = RegionMask("upper", rng.choice(40, 15, replace=False), "random")
    rep = classic_metrics(zip("abcd", preds, gts, tpls), lips, upper)
    lve, mve, fdd, abs_fdd = codetalker_reference(preds, gts, tpls, lips.indices.tolist(), upper.indices.tolist())
    assert rep.lve == lve  # bit for bit
    assert rep.fdd == fdd
    assert rep.abs_fdd == abs_fdd
    assert rep.mve == pytest.approx(mve, rel=1e-13)
    assert rep.n_frames == sum(len(g) for g in gts)
    text = "\n".join(rep.lines())
    assert "lips (12 v; random)" in text and "upper (15 v; random)" in text


def naive_classic(preds, gts, tpls, lips, upper):
    frames, norms_sum, norms_n, fdds = [], 0.0, 0, []
    for p, g, tpl in zip(preds, gts, tpls):
        for t in range(len(g)):
            worst = 0.0
            for v in lips:
                worst = max(worst, sum((p[t, v, c] - g[t, v, c]) ** 2 for c in range(3)))
            frames.append(worst)
            for v in range(g.shape[1]):
                norms_sum += math.sqrt(sum((p[t, v, c] - g[t, v, c]) ** 2 for c in range(3)))
                norms_n += 1

        def mstd(x):
            stds = []
            for v in upper:
                d = [sum((x[t, v, c] - tpl[v, c]) ** 2 for c in range(3)) for t in range(len(x))]
                mu = sum(d) / len(d)
                stds.append(math.sqrt(sum((e - mu) ** 2 for e in d) / len(d)))
            return sum(stds) / len(stds)

        fdds.append(mstd(g) - mstd(p))
    return sum(frames) / len(frames), norms_sum / norms_n, sum(fdds) / len(fdds), sum(map(abs, fdds)) / len(fdds)


def test_against_naive_loops():
    rng = np.random.default_rng(1)
    preds, gts, tpls = random_set(rng, n_seq=3, v=15)
    lips = RegionMask("lips", np.array([0, 3, 7, 11]), "t")
    upper = RegionMask("upper", np.array([1, 2, 14]), "t")
    rep = classic_metrics(zip("abc", preds, gts, tpls), lips, upper)
    ref = naive_classic(preds, gts, tpls, lips.indices, upper.indices)
    assert (rep.lve, rep.mve, rep.fdd, rep.abs_fdd) == pytest.approx(ref, rel=1e-12)
    # per-sequence variants
    for row, p, g, tpl in zip(rep.sequences, preds, gts, tpls):
        assert row.lve == pytest.approx(lip_vertex_error(p, g, lips), rel=1e-15)
        assert row.mve == pytest.approx(mean_vertex_error(p, g), rel=1e-15)
        assert row.fdd == pytest.approx(fdd_sequence(p, g, tpl, upper), rel=1e-15)


def test_different_lengths_truncate_with_warning():
    pred, gt = tiny()
    longer = np.concatenate([pred, np.full((3, 3, 3), 100.0)])
    with pytest.warns(SequenceLengthWarning, match="truncated to 2"):
        assert lip_vertex_error(longer, gt, LIPS) == 2.5


def test_mismatched_vertex_counts_suggest_unregistered_metrics():
    with pytest.raises(MeshtalkError) as err:
        lip_vertex_error(np.zeros((2, 4, 3)), np.zeros((2, 3, 3)), LIPS)
    msg = str(err.value)
    assert "\n" not in msg and "4 vertices" in msg and "chamfer" in msg and "--unregistered" in msg


def test_nan_frames_are_reported_not_averaged():
    pred, gt = tiny()
    pred = np.concatenate([pred, pred[:1]])
    gt = np.concatenate([gt, gt[:1]])
    pred[1, 0, 0] = np.nan
    with pytest.raises(MeshtalkError, match=r"1 of 3 frames hold NaN/inf \(frames 1\)"):
        lip_vertex_error(pred, gt, LIPS)
    with pytest.warns(NonFiniteFrameWarning, match="left out 1 of 3"):
        assert lip_vertex_error(pred, gt, LIPS, nan_policy="omit") == 4.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = classic_metrics([("s", pred, gt, None)], LIPS, nan_policy="omit")
    assert rep.sequences[0].dropped_frames == (1,) and rep.n_frames == 2
    assert "1 NaN/inf frames left out" in rep.lines()[-1]
    all_nan = np.full((2, 3, 3), np.nan)
    with pytest.raises(MeshtalkError, match="no finite frames"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lip_vertex_error(all_nan, gt[:2], LIPS, nan_policy="omit")


@pytest.mark.parametrize("bad", [np.zeros((2, 3)), np.zeros((2, 3, 2)), np.zeros((0, 3, 3)), np.array([["a"]])])
def test_bad_shapes(bad):
    with pytest.raises(MeshtalkError):
        lip_vertex_error(bad, np.zeros((2, 3, 3)), LIPS)


def test_other_validators():
    pred, gt = tiny()
    with pytest.raises(MeshtalkError, match="template"):
        fdd_sequence(pred, gt, np.zeros((2, 3)), UPPER)
    with pytest.raises(MeshtalkError, match="nan_policy"):
        lip_vertex_error(pred, gt, LIPS, nan_policy="ignore")
    with pytest.raises(MeshtalkError, match="no sequences"):
        classic_metrics([], LIPS)
    with pytest.raises(MeshtalkError, match="out of range"):
        lip_vertex_error(pred, gt, RegionMask("lips", np.array([5]), "t"))
    with pytest.raises(MeshtalkError, match="some sequences have a template"):
        classic_metrics([("a", pred, gt, np.zeros((3, 3))), ("b", pred, gt, None)], LIPS, UPPER)
