"""Benchmark figures as small matplotlib PNGs (Agg backend, no display needed).

* :func:`plot_error_heatmap` — mean per-vertex error of the model on the face, front view
  (painter's algorithm over front-facing triangles; no OpenGL needed);
* :func:`plot_opening_curves` — mouth-opening curves, ground truth vs model vs baselines;
* :func:`plot_speed` — time vs vertex count, log-log.

Every function writes to a temporary name and renames it (an existing file is replaced only by a
complete one) and returns the path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError

__all__ = ["plot_error_heatmap", "plot_opening_curves", "plot_speed"]

_DPI = 80


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pyplot():
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - matplotlib is a core dependency
        raise MeshtalkError("plots need matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        fig.savefig(tmp, dpi=_DPI, format="png")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        _pyplot().close(fig)
    return path


def plot_error_heatmap(verts: np.ndarray, faces: np.ndarray, error: np.ndarray, path: Path, *,
                       title: str = "", unit: str = "mm") -> Path:
    """Per-vertex error on the face, seen from the front (+Z), cropped to the lower face.

    Args:
        verts: (V, 3) neutral vertices, +Y up, +Z forward.
        faces: (F, 3) int triangles.
        error: (V,) non-negative per-vertex error.
        path: output PNG.
        title: figure title.
        unit: colour-bar unit.

    Returns:
        ``path``.

    Raises:
        MeshtalkError: shapes that do not match.
    """
    v = np.asarray(verts, np.float64)
    f = np.asarray(faces, np.int64)
    e = np.asarray(error, np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3 or e.shape != (len(v),):
        raise MeshtalkError(f"heat map: need verts (V, 3), faces (F, 3), error (V,); got {v.shape}, "
                            f"{f.shape}, {e.shape}")
    plt = _pyplot()
    from matplotlib.collections import PolyCollection

    tri = v[f]                                                         # (F, 3, 3)
    normal_z = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2]
    keep = normal_z > 0
    tri, fe = tri[keep], e[f[keep]].mean(1)
    order = np.argsort(tri[:, :, 2].mean(1))                           # far to near
    tri, fe = tri[order], fe[order]
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    vmax = max(float(np.percentile(e, 99.5)), 1e-12)
    coll = PolyCollection(tri[:, :, :2], array=fe, cmap="inferno", clim=(0.0, vmax),
                          edgecolors="face", linewidths=0.3)
    ax.add_collection(coll)
    ax.set_xlim(v[:, 0].min(), v[:, 0].max())
    ax.set_ylim(v[:, 1].min(), v[:, 1].max())
    ax.set_aspect("equal")
    ax.axis("off")
    fig.colorbar(coll, ax=ax, fraction=0.046, pad=0.04, label=f"mean error ({unit})")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_opening_curves(curves: dict[str, np.ndarray], fps: float, path: Path, *, title: str = "") -> Path:
    """Mouth-opening curves over time.

    Args:
        curves: label -> (T,) opening in mm; ``"gt"`` is drawn black and thick.
        fps: frame rate.
        path: output PNG.
        title: figure title.

    Returns:
        ``path``.
    """
    if not curves:
        raise MeshtalkError("opening-curve plot: no curve given")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    styles = {"gt": dict(color="black", lw=2.2, label="ground truth"), "model": dict(color="C0", lw=1.5),
              "neutral": dict(color="C7", lw=1.0, ls="--"), "loudness": dict(color="C3", lw=1.0)}
    for label, y in curves.items():
        y = np.asarray(y, np.float64)
        kw = {"label": label, **styles.get(label, {})}
        ax.plot(np.arange(len(y)) / fps, y, **kw)
    top = max(float(np.nanmax(np.asarray(y, np.float64))) for y in curves.values())
    bottom = min(float(np.nanmin(np.asarray(y, np.float64))) for y in curves.values())
    ax.set_ylim(bottom - 0.05 * (top - bottom + 1e-9), top + 0.3 * (top - bottom + 1e-9))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mouth opening (mm)")
    ax.legend(fontsize=7, loc="upper right", ncol=4)
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_speed(vertices: Sequence[int], series: dict[str, Sequence[float]], path: Path, *,
               title: str = "", unit: str = "s") -> Path:
    """Time vs vertex count on log-log axes.

    Args:
        vertices: (N,) vertex counts.
        series: label -> (N,) times (positive).
        path: output PNG.
        title: figure title.
        unit: y-axis unit.

    Returns:
        ``path``.
    """
    x = np.asarray(vertices, np.float64)
    if x.size == 0 or np.any(x <= 0):
        raise MeshtalkError(f"speed plot: need positive vertex counts, got {list(vertices)}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for i, (label, y) in enumerate(series.items()):
        y = np.asarray(y, np.float64)
        ok = np.isfinite(y) & (y > 0)
        ax.loglog(x[ok], y[ok], marker="o", color=f"C{i}", label=label)
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.xaxis.set_major_locator(FixedLocator(x))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v / 1000:.3g}k" if v >= 1000 else f"{v:.0f}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("vertices")
    ax.set_ylabel(f"time ({unit})")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
