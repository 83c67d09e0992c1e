"""meshtalk/bench/plots.py: PNGs exist, are small and are not blank; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.bench import plots
from meshtalk.errors import MeshtalkError


def _assert_png(path):
    import matplotlib.image as mpimg

    assert path.is_file() and 0 < path.stat().st_size < 300_000
    img = mpimg.imread(path)
    assert img.ndim == 3 and img[..., :3].std() > 0.02     # not a blank canvas


def _grid(n=20):
    x, y = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    verts = np.stack([x.ravel(), y.ravel(), 0.2 * (1 - x.ravel() ** 2 - y.ravel() ** 2)], 1)
    i = np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None]
    i = i.ravel()
    faces = np.concatenate([np.stack([i, i + 1, i + n + 1], 1), np.stack([i, i + n + 1, i + n], 1)])
    return verts, faces


def test_heatmap(tmp_path):
    verts, faces = _grid()
    out = plots.plot_error_heatmap(verts, faces, np.linalg.norm(verts[:, :2], axis=1), tmp_path / "h.png",
                                   title="t")
    _assert_png(out)
    # all triangles face +z: every one is drawn, the picture holds the colour ramp
    with pytest.raises(MeshtalkError, match="heat map"):
        plots.plot_error_heatmap(verts, faces, np.ones(3), tmp_path / "bad.png")


def test_curves_and_speed(tmp_path):
    t = np.linspace(0, 3, 90)
    curves = {"gt": 5 + 5 * np.sin(t * 6) ** 2, "model": 5 + 4 * np.sin(t * 6 + 0.3) ** 2, "neutral": np.full(90, 5.0)}
    _assert_png(plots.plot_opening_curves(curves, 30.0, tmp_path / "c.png", title="c"))
    _assert_png(plots.plot_speed([2000, 8000, 20000], {"a": [0.1, 0.5, 2.0], "b": [1e-3, 4e-3, 1e-2]},
                                 tmp_path / "s.png"))
    with pytest.raises(MeshtalkError):
        plots.plot_speed([0, 10], {"a": [1, 2]}, tmp_path / "bad.png")
    with pytest.raises(MeshtalkError):
        plots.plot_opening_curves({}, 30.0, tmp_path / "bad.png")
    assert not list(tmp_path.glob(".*"))                     # no temporary files left
