"""The field's classic vertex metrics, computed exactly as CodeTalker's ``cal_metric.py`` does.

Notation: ``pred, gt: (T, V, 3)`` vertex positions of one sequence, ``template: (V, 3)`` the
subject's neutral mesh, Ω a lip mask and U an upper-face mask (:class:`RegionMask`).

* LVE  = mean over frames of ``max_{v∈Ω} ||pred[t,v] - gt[t,v]||²`` (squared L2, no root); the
  dataset value pools the frames of all sequences (long sequences weigh more).
* MVE  = mean over frames and all vertices of ``||pred[t,v] - gt[t,v]||`` (plain L2), pooled.
* FDD  = per sequence ``mean_{v∈U} std_t ||gt[t,v]-template[v]||² - mean_{v∈U} std_t ||pred[t,v]-template[v]||²``
  (population std), **signed**; the dataset value is the mean over sequences; ABS-FDD the mean of
  the absolute values.

LVE and FDD reproduce the reference numpy operations (same reductions in the same order) and so
match it bit for bit on float64 input; MVE is pooled from per-sequence sums (equal to within
float64 rounding) so that all frames need not be held in memory. All computation is float64.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.metrics._validation import (
    as_motion,
    check_same_vertices,
    handle_nonfinite,
    truncate_pair,
)
from meshtalk.metrics.masks import RegionMask

__all__ = [
    "ClassicReport",
    "SequenceClassic",
    "classic_metrics",
    "fdd_sequence",
    "lip_max_sq_error",
    "lip_vertex_error",
    "mean_vertex_error",
    "upper_face_motion_std",
]


def _prepare(pred: object, gt: object, what: str, nan_policy: str, label: str = ""):
    p = as_motion(pred, "pred")
    g = as_motion(gt, "gt")
    check_same_vertices(p, g, what)
    p, g = truncate_pair(p, g, label)
    p, g, dropped = handle_nonfinite(p, g, nan_policy, label)
    if p.shape[0] == 0:
        raise MeshtalkError(f"{label + ': ' if label else ''}{what}: no finite frames left to evaluate")
    return p, g, dropped


def lip_max_sq_error(pred: object, gt: object, lip_mask: RegionMask, *, nan_policy: str = "raise") -> np.ndarray:
    """Per-frame maximum squared lip-vertex error.

    Args:
        pred: ``(T, V, 3)`` or ``(T, V*3)`` predicted vertices.
        gt: ``(T', V, 3)`` or ``(T', V*3)`` ground truth; both are cut to ``min(T, T')`` with a warning.
        lip_mask: lip region Ω.
        nan_policy: ``'raise'`` or ``'omit'`` (drop frames holding NaN/inf, with a warning).

    Returns:
        ``(T,)`` float64: ``max_{v∈Ω} ||pred[t,v] - gt[t,v]||²`` for each kept frame.

    Raises:
        MeshtalkError: different vertex counts, a mask out of range, NaN frames with ``'raise'``.
    """
    p, g, _ = _prepare(pred, gt, "LVE", nan_policy)
    lip_mask.check(p.shape[1], "LVE")
    return _lip_max_sq(p, g, lip_mask.indices)


def _lip_max_sq(p: np.ndarray, g: np.ndarray, idx: np.ndarray) -> np.ndarray:
    sq = np.sum(np.square(g[:, idx, :] - p[:, idx, :]), axis=2)
    return np.max(sq, axis=1)


def lip_vertex_error(pred: object, gt: object, lip_mask: RegionMask, *, nan_policy: str = "raise") -> float:
    """LVE of one sequence: mean over frames of the max squared lip-vertex error.

    Args:
        pred: ``(T, V, 3)`` or ``(T, V*3)``.
        gt: ``(T', V, 3)`` or ``(T', V*3)``.
        lip_mask: lip region Ω.
        nan_policy: ``'raise'`` or ``'omit'``.

    Returns:
        ``mean_t max_{v∈Ω} ||pred[t,v] - gt[t,v]||²`` in squared data units.
    """
    return float(np.mean(lip_max_sq_error(pred, gt, lip_mask, nan_policy=nan_policy)))


def mean_vertex_error(
    pred: object, gt: object, *, mask: RegionMask | None = None, nan_policy: str = "raise"
) -> float:
    """MVE of one sequence: mean over frames and vertices of the L2 vertex error.

    Args:
        pred: ``(T, V, 3)`` or ``(T, V*3)``.
        gt: ``(T', V, 3)`` or ``(T', V*3)``.
        mask: restrict to these vertices (default: all, the published convention).
        nan_policy: ``'raise'`` or ``'omit'``.

    Returns:
        ``mean_{t,v} ||pred[t,v] - gt[t,v]||`` in data units.
    """
    p, g, _ = _prepare(pred, gt, "MVE", nan_policy)
    if mask is not None:
        mask.check(p.shape[1], "MVE")
        p, g = p[:, mask.indices], g[:, mask.indices]
    return float(np.mean(np.sqrt(np.sum(np.square(g - p), axis=2))))


def upper_face_motion_std(motion: object, template: object, upper_mask: RegionMask) -> float:
    """Mean over U of the population std over time of the squared displacement from the template.

    Args:
        motion: ``(T, V, 3)`` or ``(T, V*3)`` vertex positions (finite).
        template: ``(V, 3)`` or ``(V*3,)`` neutral mesh of the subject.
        upper_mask: upper-face region U.

    Returns:
        ``mean_{v∈U} std_t ||motion[t,v] - template[v]||²``.
    """
    m = as_motion(motion, "motion")
    tpl = _as_template(template, m.shape[1])
    upper_mask.check(m.shape[1], "FDD")
    if not np.isfinite(m).all():
        raise MeshtalkError("FDD: motion holds NaN/inf")
    return _motion_std(m, tpl, upper_mask.indices)


def _motion_std(m: np.ndarray, tpl: np.ndarray, idx: np.ndarray) -> float:
    disp = m - tpl.reshape(1, -1, 3)
    d2 = np.sum(np.square(disp[:, idx, :]), axis=2)
    return float(np.mean(np.std(d2, axis=0)))


def _as_template(template: object, n_vertices: int) -> np.ndarray:
    t = np.asarray(template, dtype=np.float64)
    if t.size != n_vertices * 3:
        raise MeshtalkError(f"template: expected {n_vertices} vertices ({n_vertices * 3} values), got shape {t.shape}")
    t = t.reshape(n_vertices, 3)
    if not np.isfinite(t).all():
        raise MeshtalkError("template holds NaN/inf")
    return t


def fdd_sequence(
    pred: object, gt: object, template: object, upper_mask: RegionMask, *, nan_policy: str = "raise"
) -> float:
    """Signed upper-face dynamics deviation of one sequence (CodeTalker's FDD_s).

    Args:
        pred: ``(T, V, 3)`` or ``(T, V*3)``.
        gt: ``(T', V, 3)`` or ``(T', V*3)``.
        template: ``(V, 3)`` neutral mesh the displacements are measured from.
        upper_mask: upper-face region U.
        nan_policy: ``'raise'`` or ``'omit'``.

    Returns:
        ``mean_{v∈U} std_t ||gt-template||² - mean_{v∈U} std_t ||pred-template||²`` (positive when
        the prediction's upper face moves less than the ground truth's).
    """
    p, g, _ = _prepare(pred, gt, "FDD", nan_policy)
    tpl = _as_template(template, p.shape[1])
    upper_mask.check(p.shape[1], "FDD")
    return _motion_std(g, tpl, upper_mask.indices) - _motion_std(p, tpl, upper_mask.indices)


@dataclass(frozen=True)
class SequenceClassic:
    """Classic metrics of one sequence.

    Attributes:
        name: sequence name.
        n_frames: frames evaluated (after truncation and NaN removal).
        lve: mean over this sequence's frames of the max squared lip error.
        mve: mean L2 vertex error over this sequence.
        fdd: signed FDD_s, or ``None`` without template/upper mask.
        dropped_frames: indices of frames left out for NaN/inf.
    """

    name: str
    n_frames: int
    lve: float
    mve: float
    fdd: float | None
    dropped_frames: tuple[int, ...] = ()


@dataclass(frozen=True)
class ClassicReport:
    """Dataset-level classic metrics, with the masks they were computed on.

    Attributes:
        lve: pooled LVE (all frames of all sequences), squared data units.
        mve: pooled MVE, data units.
        fdd: mean of the signed FDD_s over sequences (``None`` without templates/upper mask).
        abs_fdd: mean of ``|FDD_s|``.
        n_frames: pooled frame count.
        lip_mask: mask used for LVE.
        upper_mask: mask used for FDD, if any.
        sequences: per-sequence values.
    """

    lve: float
    mve: float
    fdd: float | None
    abs_fdd: float | None
    n_frames: int
    lip_mask: RegionMask
    upper_mask: RegionMask | None
    sequences: list[SequenceClassic] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable lines, each number with the mask it used."""
        out = [
            f"LVE     {self.lve:.6e}  [{self.lip_mask.describe()}]",
            f"MVE     {self.mve:.6e}  [all vertices]",
        ]
        if self.fdd is not None and self.upper_mask is not None:
            out.append(f"FDD     {self.fdd:.6e}  [{self.upper_mask.describe()}]")
            out.append(f"ABS-FDD {self.abs_fdd:.6e}  [{self.upper_mask.describe()}]")
        dropped = sum(len(s.dropped_frames) for s in self.sequences)
        out.append(f"frames  {self.n_frames} in {len(self.sequences)} sequences; {dropped} NaN/inf frames left out")
        return out


def classic_metrics(
    sequences: Iterable[tuple[str, object, object, object | None]],
    lip_mask: RegionMask,
    upper_mask: RegionMask | None = None,
    *,
    nan_policy: str = "raise",
) -> ClassicReport:
    """LVE, MVE, FDD and ABS-FDD over a test set, pooled as the reference scripts pool them.

    Args:
        sequences: ``(name, pred, gt, template)`` tuples; ``pred``/``gt`` ``(T, V, 3)`` or
            ``(T, V*3)``, ``template`` ``(V, 3)`` or ``None`` (then FDD is not computed).
        lip_mask: lip region Ω for LVE.
        upper_mask: upper-face region U for FDD (``None``: no FDD).
        nan_policy: ``'raise'`` or ``'omit'`` frames holding NaN/inf (omitted frames are listed in
            :attr:`SequenceClassic.dropped_frames`).

    Returns:
        A :class:`ClassicReport`.

    Raises:
        MeshtalkError: no sequences, vertex count mismatch, masks out of range, NaN with ``'raise'``.
    """
    per_frame_lve: list[np.ndarray] = []
    mve_sum = 0.0
    mve_count = 0
    fdds: list[float] = []
    rows: list[SequenceClassic] = []
    for name, pred, gt, template in sequences:
        p, g, dropped = _prepare(pred, gt, "LVE/MVE/FDD", nan_policy, label=str(name))
        lip_mask.check(p.shape[1], "LVE")
        e = _lip_max_sq(p, g, lip_mask.indices)
        per_frame_lve.append(e)
        norms = np.sqrt(np.sum(np.square(g - p), axis=2))
        mve_sum += math.fsum(norms.sum(axis=1))
        mve_count += norms.size
        fdd_s = None
        if template is not None and upper_mask is not None:
            upper_mask.check(p.shape[1], "FDD")
            tpl = _as_template(template, p.shape[1])
            fdd_s = _motion_std(g, tpl, upper_mask.indices) - _motion_std(p, tpl, upper_mask.indices)
            fdds.append(fdd_s)
        rows.append(
            SequenceClassic(
                name=str(name),
                n_frames=int(p.shape[0]),
                lve=float(np.mean(e)),
                mve=float(np.mean(norms)),
                fdd=fdd_s,
                dropped_frames=tuple(int(i) for i in dropped),
            )
        )
    if not rows:
        raise MeshtalkError("classic metrics: no sequences to evaluate")
    if fdds and len(fdds) != len(rows):
        raise MeshtalkError("FDD: some sequences have a template and some do not; give all or none")
    pooled = np.concatenate(per_frame_lve)
    fdd = sum(fdds) / len(fdds) if fdds else None
    abs_fdd = sum(abs(x) for x in fdds) / len(fdds) if fdds else None
    return ClassicReport(
        lve=float(np.mean(pooled)),
        mve=mve_sum / mve_count,
        fdd=fdd,
        abs_fdd=abs_fdd,
        n_frames=int(pooled.size),
        lip_mask=lip_mask,
        upper_mask=upper_mask if fdds else None,
        sequences=rows,
    )
