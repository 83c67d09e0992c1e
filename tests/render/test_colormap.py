"""Tests for meshtalk/render/colormap.py: heat-map colours and the colour bar."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.render.colormap import _HEAT_ANCHORS, colorbar, heat_colors


def luminance(rgb):
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def test_endpoints_and_clamping():
    c = heat_colors(np.array([-1.0, 0.0, 2.0, 5.0]), vmin=0.0, vmax=2.0)
    np.testing.assert_allclose(c[0], _HEAT_ANCHORS[0], atol=1e-6)
    np.testing.assert_allclose(c[1], _HEAT_ANCHORS[0], atol=1e-6)
    np.testing.assert_allclose(c[2], _HEAT_ANCHORS[-1], atol=1e-6)
    np.testing.assert_allclose(c[3], _HEAT_ANCHORS[-1], atol=1e-6)


def test_lightness_increases_with_error():
    c = heat_colors(np.linspace(0, 1, 101), 0.0, 1.0)
    assert np.all(np.diff(luminance(c.astype(np.float64))) > 0)


def test_shape_is_kept_and_default_vmax_is_the_maximum():
    values = np.arange(6.0).reshape(2, 3)
    c = heat_colors(values)
    assert c.shape == (2, 3, 3) and c.dtype == np.float32
    np.testing.assert_allclose(c[1, 2], _HEAT_ANCHORS[-1], atol=1e-6)


def test_midpoint_is_linear_between_anchors():
    t = 0.5 / (len(_HEAT_ANCHORS) - 1)  # halfway between the first two anchors
    np.testing.assert_allclose(heat_colors(np.array([t]), 0.0, 1.0)[0],
                               0.5 * (_HEAT_ANCHORS[0] + _HEAT_ANCHORS[1]), atol=1e-6)


@pytest.mark.parametrize("values, vmax", [(np.array([np.nan]), None), (np.ones(3), 0.0)])
def test_bad_input(values, vmax):
    with pytest.raises(ValueError):
        heat_colors(values, 0.0, vmax)


def test_colorbar_runs_from_cold_at_the_bottom_to_hot_at_the_top():
    bar = colorbar(200, 0.0, 3.5, width=80)
    assert bar.shape == (200, 80, 3) and bar.dtype == np.uint8
    column = bar[:, 10].astype(np.float64) / 255  # inside the colour ramp
    top, bottom = column[int(0.15 * 200)], column[int(0.85 * 200)]
    assert luminance(top) > luminance(bottom) + 0.3
