"""Mouth curves: hand-computed values, tracking on a talking head, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.metrics.curves import mouth_curves, mouth_opening_curve, mouth_width_curve, track_point
from meshtalk.metrics.landmarks import find_lip_landmarks


def test_hand_computed_curves():
    # vertices: 0 right corner, 1 left corner, 2 upper lip, 3 lower lip
    seq = np.zeros((2, 4, 3))
    seq[:, 0] = [[-1, 0, 0], [-1.5, 0, 0]]
    seq[:, 1] = [[1, 0, 0], [1.5, 0, 0]]
    seq[:, 2] = [[0, 0.5, 0], [0, 0.5, 0]]
    seq[:, 3] = [[0, -0.5, 0], [0, -2.5, 0]]
    assert mouth_opening_curve(seq, (2, 3)).tolist() == [1.0, 3.0]
    assert mouth_width_curve(seq, (0, 1)).tolist() == [2.0, 3.0]
    assert mouth_opening_curve(seq.reshape(2, 12), (2, 3)).tolist() == [1.0, 3.0]
    assert track_point(seq, [2, 3]).tolist() == [[0, 0, 0], [0, -1, 0]]
    assert track_point(seq, [2, 3], weights=[3, 1])[1].tolist() == [0, -0.25, 0]


def test_bad_input():
    seq = np.zeros((2, 4, 3))
    with pytest.raises(MeshtalkError, match="out of range"):
        mouth_opening_curve(seq, (2, 9))
    with pytest.raises(MeshtalkError, match="two vertex indices"):
        mouth_opening_curve(seq, (1, 2, 3))
    with pytest.raises(MeshtalkError, match="weights"):
        track_point(seq, [1, 2], weights=[1, -1])
    with pytest.raises(MeshtalkError, match="integer"):
        track_point(seq, [0.5])


def test_opening_curve_follows_the_jaw_on_a_talking_head(talking):
    v, f, a, gt = talking
    lm = find_lip_landmarks(v, f)
    curves = mouth_curves(gt, lm)
    # the lower-lip vertex moves down with the jaw by a(t), the upper one stays
    rest = v[lm.index("upper_lip")] - v[lm.index("lower_lip")]
    expected = np.linalg.norm(rest[None] + np.outer(a, [0, 1, 0]), axis=1)
    assert curves.opening == pytest.approx(expected, abs=1e-12)
    assert np.corrcoef(curves.opening, a)[0, 1] > 0.999
    assert curves.width.std() < 0.2 * curves.opening.std()
