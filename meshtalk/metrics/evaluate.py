"""Evaluate a directory of predicted sequences against a directory of ground truth.

Layouts read (both sides independently):

* FaceFormer (registered): ``DIR/vertices_npy/*.npy`` or ``DIR/*.npy``, each ``(T, V*3)`` or
  ``(T, V, 3)``; templates (for FDD) from a FaceFormer ``templates.pkl`` ``{subject: (V, 3)}``.
* Unregistered: ``DIR/*.npz`` holding ``verts (T, V, 3)`` and ``faces (F, 3)`` per sequence.

A prediction ``NAME.npy`` pairs with ground truth ``NAME``; ``NAME_<anything>`` (FaceFormer's
``NAME_condition_F2``) pairs with ``NAME`` too, one row per prediction. Sequences of different
lengths are cut to the shorter with a warning; frames holding NaN/inf are left out and counted
in the ``nan_frames`` column (or raise, with ``nan_policy='raise'``).

Metrics per pair:

* registered pairs (same vertex count): LVE, MVE, FDD, ABS-FDD (:mod:`.classic`; FDD needs
  templates and an upper-face mask); the lip mask is the user's, or an automatic one
  (:func:`.landmarks.lip_region_mask`) whose provenance is printed;
* all pairs: mouth-opening curves from automatic lip landmarks (:mod:`.curves`), their DTW (raw
  and path-normalised), discrete Fréchet, Soft-DTW divergence, temporal misalignment, opening
  amplitude and range differences, and with audio the speech-envelope correlation;
* correspondence-free per frame (always for unregistered pairs, on request otherwise): Chamfer,
  Hausdorff and, with ``kernel_sigma``, the varifold kernel distance.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.metrics import temporal
from meshtalk.metrics._validation import (
    as_motion,
    check_same_vertices,
    handle_nonfinite,
    truncate_pair,
)
from meshtalk.metrics.classic import _lip_max_sq, _motion_std
from meshtalk.metrics.curves import mouth_opening_curve, mouth_width_curve
from meshtalk.metrics.landmarks import LipLandmarks, find_lip_landmarks, lip_region_mask
from meshtalk.metrics.masks import RegionMask
from meshtalk.metrics.pointsets import frame_distances

log = logging.getLogger(__name__)

__all__ = [
    "EvaluationReport",
    "SequenceFile",
    "discover_sequences",
    "evaluate_directories",
    "load_templates",
    "write_atomic",
]


@dataclass(frozen=True)
class SequenceFile:
    """One sequence on disk.

    Attributes:
        name: file stem.
        path: the ``.npy`` or ``.npz`` file.
    """

    name: str
    path: Path

    def load(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Read ``(verts (T, V, 3) float64, faces (F, 3) int64 or None)``.

        Raises:
            MeshtalkError: unreadable file or unexpected content.
        """
        try:
            if self.path.suffix == ".npz":
                with np.load(self.path, allow_pickle=False) as z:
                    key = "verts" if "verts" in z else "vertices" if "vertices" in z else None
                    if key is None or "faces" not in z:
                        raise MeshtalkError(f"{self.path}: an unregistered sequence needs arrays 'verts' and 'faces', found {sorted(z.files)}")
                    verts, faces = z[key], z["faces"]
            else:
                verts, faces = np.load(self.path, allow_pickle=False), None
        except MeshtalkError:
            raise
        except Exception as exc:
            raise MeshtalkError(f"{self.path}: cannot read ({type(exc).__name__}: {exc})") from None
        v = as_motion(verts, str(self.path))
        if faces is not None:
            faces = np.asarray(faces)
            if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu" or faces.size == 0 \
                    or faces.min() < 0 or faces.max() >= v.shape[1]:
                raise MeshtalkError(f"{self.path}: faces must be (F, 3) integer indices into {v.shape[1]} vertices")
            faces = faces.astype(np.int64)
        return v, faces


def discover_sequences(directory: str | Path) -> dict[str, SequenceFile]:
    """Find the sequences in a directory (FaceFormer or unregistered layout).

    Args:
        directory: ``DIR`` holding ``vertices_npy/*.npy``, ``*.npy`` or ``*.npz``.

    Returns:
        ``{name: SequenceFile}`` sorted by name.

    Raises:
        MeshtalkError: missing directory, no sequence, or one name twice.
    """
    d = Path(directory)
    if not d.is_dir():
        raise MeshtalkError(f"not a directory: {d}")
    files = []
    for sub in (d / "vertices_npy", d):
        if sub.is_dir():
            files += sorted(sub.glob("*.npy"))
    files += sorted(d.glob("*.npz"))
    out: dict[str, SequenceFile] = {}
    for p in files:
        if p.stem in out:
            raise MeshtalkError(f"sequence {p.stem!r} found twice: {out[p.stem].path} and {p}")
        out[p.stem] = SequenceFile(p.stem, p)
    if not out:
        raise MeshtalkError(
            f"no sequences in {d}: expected vertices_npy/*.npy or *.npy (FaceFormer layout) or *.npz with verts and faces"
        )
    return dict(sorted(out.items()))


def load_templates(path: str | Path) -> dict[str, np.ndarray]:
    """Read a FaceFormer ``templates.pkl``: ``{subject: (V, 3) or (V*3,)}`` → ``{subject: (V, 3)}``.

    Raises:
        MeshtalkError: unreadable or not a dict of arrays.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            obj = pickle.load(fh, encoding="latin1")
    except Exception as exc:
        raise MeshtalkError(f"{p}: cannot read templates ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict) or not obj:
        raise MeshtalkError(f"{p}: expected a dict {{subject: (V, 3) array}}")
    out = {}
    for k, v in obj.items():
        a = np.asarray(v, dtype=np.float64)
        if a.size % 3:
            raise MeshtalkError(f"{p}: template {k!r} has {a.size} values, not a multiple of 3")
        out[str(k)] = a.reshape(-1, 3)
    return out


def subject_of(name: str) -> str:
    """FaceFormer convention: the subject is the name without its last ``_`` token."""
    return name.rsplit("_", 1)[0] if "_" in name else name


def _clean(x: object) -> object:
    """JSON/CSV-safe value: non-finite floats become None."""
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def write_atomic(path: str | Path, text: str) -> Path:
    """Write text to ``path`` through a temporary file in the same directory and ``os.replace``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p


#: Per-sequence columns, in table order: (key, label, unit note).
COLUMNS = (
    ("lve", "LVE"), ("mve", "MVE"), ("fdd", "FDD"),
    ("opening_dtw", "DTW"), ("opening_dtw_path", "DTW/path"), ("opening_frechet", "DFD"),
    ("opening_soft_dtw", "SoftDTW-div"), ("lag_frames", "lag[fr]"), ("lag_ms", "lag[ms]"),
    ("opening_amplitude_diff", "d-amp"), ("opening_range_diff", "d-range"), ("width_amplitude_diff", "d-width-amp"),
    ("speech_corr_pred", "r(speech,pred)"), ("speech_corr_gt", "r(speech,gt)"),
    ("chamfer", "Chamfer"), ("hausdorff", "Hausdorff"), ("kernel", "kernel"),
)


@dataclass
class EvaluationReport:
    """Result of :func:`evaluate_directories`.

    Attributes:
        rows: one dict per (prediction, ground truth) pair: ``name``, ``gt``, ``frames``,
            ``nan_frames``, ``registered`` and the metric columns (``None`` where not computed).
        summary: dataset values: ``lve``/``mve`` pooled over frames; ``fdd``/``abs_fdd`` and the
            curve metrics averaged over sequences; ``mean_abs_lag_ms`` the mean temporal
            misalignment; point-set distances averaged over all frames.
        masks: ``{'lips': description, 'upper': description}`` of the masks used.
        settings: the options used (fps, kernel sigma, ...).
        warnings: warnings raised while evaluating (length mismatches, NaN frames, unmatched files).
    """

    rows: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    masks: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def table(self) -> str:
        """A plain-text table: per-sequence rows, then the summary with the masks beside."""
        keys = [k for k, _ in COLUMNS if any(r.get(k) is not None for r in self.rows)]
        labels = dict(COLUMNS)
        head = ["sequence", "frames", "NaN"] + [labels[k] for k in keys]
        body = []
        for r in self.rows:
            cells = [r["name"], str(r["frames"]), str(r["nan_frames"])]
            for k in keys:
                v = r.get(k)
                cells.append("-" if v is None else (f"{v:d}" if isinstance(v, int) else f"{v:.4e}"))
            body.append(cells)
        widths = [max(len(c[i]) for c in [head] + body) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in [head] + body]
        lines.append("")
        lip = self.masks.get("lips")
        upper = self.masks.get("upper")
        for key, value in self.summary.items():
            if value is None:
                continue
            note = ""
            if key == "lve" and lip:
                note = f"  [{lip}]"
            elif key in ("fdd", "abs_fdd") and upper:
                note = f"  [{upper}]"
            elif key == "mve":
                note = "  [all vertices]"
            shown = f"{value:d}" if isinstance(value, int) else f"{value:.6e}"
            lines.append(f"{key:<24}{shown}{note}")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite numbers become null)."""
        return _clean({"summary": self.summary, "masks": self.masks, "settings": self.settings,
                       "sequences": self.rows, "warnings": self.warnings})

    def write_json(self, path: str | Path) -> Path:
        """Write the report as JSON, atomically; no NaN/inf is ever written."""
        return write_atomic(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    def write_csv(self, path: str | Path) -> Path:
        """Write the per-sequence rows as CSV, atomically (empty cell = not computed)."""
        cols = ["name", "gt", "frames", "nan_frames", "registered"] + [k for k, _ in COLUMNS]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: ("" if v is None else v) for k, v in _clean(r).items()})
        return write_atomic(path, buf.getvalue())


def _pairs(preds: dict[str, SequenceFile], gts: dict[str, SequenceFile], notes: list[str]):
    used: set[str] = set()
    pairs = []
    for pname, pf in preds.items():
        if pname in gts:
            pairs.append((pf, gts[pname]))
            used.add(pname)
            continue
        match = [g for g in gts if pname.startswith(g + "_")]
        if match:
            g = max(match, key=len)
            pairs.append((pf, gts[g]))
            used.add(g)
        else:
            notes.append(f"prediction {pname} has no ground truth; skipped")
    missing = sorted(set(gts) - used)
    if missing:
        notes.append(f"{len(missing)} ground-truth sequences have no prediction (first: {missing[0]})")
    return pairs


def _read_audio(path: Path) -> tuple[np.ndarray, float]:
    try:
        import soundfile

        data, sr = soundfile.read(str(path), dtype="float64", always_2d=False)
    except ImportError:
        from scipy.io import wavfile

        sr, data = wavfile.read(str(path))
        data = np.asarray(data, dtype=np.float64)
    except Exception as exc:
        raise MeshtalkError(f"{path}: cannot read audio ({type(exc).__name__}: {exc})") from None
    return np.asarray(data, dtype=np.float64), float(sr)


def evaluate_directories(
    pred_dir: str | Path,
    gt_dir: str | Path,
    *,
    lip_mask: RegionMask | None = None,
    upper_mask: RegionMask | None = None,
    templates: dict[str, np.ndarray] | None = None,
    faces: np.ndarray | None = None,
    fps: float = 30.0,
    gt_stride: int = 1,
    pred_stride: int = 1,
    mode: str = "auto",
    orientation: object = "canonical",
    audio_dir: str | Path | None = None,
    pointsets: bool | None = None,
    kernel_sigma: float | None = None,
    max_points: int | None = None,
    soft_dtw_gamma: float = 0.1,
    nan_policy: str = "omit",
    device: str | None = None,
) -> EvaluationReport:
    """Evaluate every prediction in ``pred_dir`` against its ground truth in ``gt_dir``.

    Args:
        pred_dir: predictions (FaceFormer or unregistered layout).
        gt_dir: ground truth (same layouts).
        lip_mask: lip mask for LVE (registered); default: an automatic lip region per meshing.
        upper_mask: upper-face mask for FDD (needs ``templates``).
        templates: ``{subject: (V, 3)}`` neutral meshes (FDD, and the neutral for landmarks).
        faces: ``(F, 3)`` triangles of the registered meshing, for ``.npy`` sequences (which hold
            no faces); without them the lip landmarks treat the vertices as a point cloud, which
            needs a dense mesh (tens of thousands of vertices on a head).
        fps: frame rate of the sequences after striding (for lags in ms and the audio envelope).
        gt_stride: keep every n-th ground-truth frame (VOCASET on disk is 60 fps: use 2).
        pred_stride: keep every n-th predicted frame.
        mode: ``'auto'`` (registered metrics where vertex counts agree), ``'registered'`` (error
            where they do not) or ``'unregistered'`` (correspondence-free metrics only).
        orientation: face orientation for the lip landmarks (see ``find_lip_landmarks``).
        audio_dir: directory with ``<gt name>.wav`` (or ``wav/<gt name>.wav``) for the
            speech-envelope correlation.
        pointsets: compute Chamfer/Hausdorff per frame (default: for unregistered pairs only).
        kernel_sigma: kernel width for the varifold distance (data units); ``None``: not computed.
        max_points: subsample frames to this many points for Chamfer/Hausdorff.
        soft_dtw_gamma: Soft-DTW γ relative to the variance of the ground-truth opening curve.
        nan_policy: ``'omit'`` (count and leave out NaN/inf frames) or ``'raise'``.
        device: torch device for the point-set distances.

    Returns:
        :class:`EvaluationReport`.

    Raises:
        MeshtalkError: empty/missing directories, no pairs, or mismatched meshes in ``'registered'`` mode.
    """
    if mode not in ("auto", "registered", "unregistered"):
        raise MeshtalkError(f"mode must be 'auto', 'registered' or 'unregistered', got {mode!r}")
    if gt_stride < 1 or pred_stride < 1:
        raise MeshtalkError("strides must be >= 1")
    preds, gts = discover_sequences(pred_dir), discover_sequences(gt_dir)
    report = EvaluationReport()
    pairs = _pairs(preds, gts, report.warnings)
    if not pairs:
        raise MeshtalkError(f"no prediction in {pred_dir} matches a ground-truth name in {gt_dir}")
    report.settings = {"fps": fps, "gt_stride": gt_stride, "pred_stride": pred_stride, "mode": mode,
                       "orientation": orientation if isinstance(orientation, str) else "user",
                       "kernel_sigma": kernel_sigma, "max_points": max_points,
                       "soft_dtw_gamma_relative": soft_dtw_gamma, "nan_policy": nan_policy}
    landmark_cache: dict[tuple, LipLandmarks | None] = {}
    auto_masks: dict[tuple, RegionMask] = {}
    lve_frames: list[np.ndarray] = []
    mve_sum, mve_count = 0.0, 0
    pointset_frames: dict[str, list[np.ndarray]] = {"chamfer": [], "hausdorff": [], "kernel": []}
    for pf, gf in pairs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            row = _evaluate_pair(pf, gf, report, lip_mask, upper_mask, templates, faces, fps, gt_stride, pred_stride,
                                 mode, orientation, audio_dir, pointsets, kernel_sigma, max_points,
                                 soft_dtw_gamma, nan_policy, device, landmark_cache, auto_masks,
                                 lve_frames, pointset_frames)
        for w in caught:
            report.warnings.append(str(w.message))
        row, (part_sum, part_count) = row
        mve_sum += part_sum
        mve_count += part_count
        report.rows.append(row)
    s: dict = {"sequences": len(report.rows), "frames": int(sum(r["frames"] for r in report.rows)),
               "nan_frames": int(sum(r["nan_frames"] for r in report.rows))}
    if lve_frames:
        s["lve"] = float(np.mean(np.concatenate(lve_frames)))
        s["mve"] = mve_sum / mve_count
    fdds = [r["fdd"] for r in report.rows if r.get("fdd") is not None]
    if fdds:
        s["fdd"] = sum(fdds) / len(fdds)
        s["abs_fdd"] = sum(abs(x) for x in fdds) / len(fdds)
    for key in ("opening_dtw", "opening_dtw_path", "opening_frechet", "opening_soft_dtw",
                "opening_amplitude_diff", "opening_range_diff", "width_amplitude_diff",
                "speech_corr_pred", "speech_corr_gt"):
        vals = [r[key] for r in report.rows if r.get(key) is not None]
        if vals:
            s[key] = float(np.mean(vals))
    lags = [abs(r["lag_ms"]) for r in report.rows if r.get("lag_ms") is not None]
    if lags:
        s["mean_abs_lag_ms"] = float(np.mean(lags))
    for key, chunks in pointset_frames.items():
        if chunks:
            s[key] = float(np.mean(np.concatenate(chunks)))
    report.summary = s
    if lip_mask is not None:
        report.masks["lips"] = lip_mask.describe()
    elif auto_masks:
        first = next(iter(auto_masks.values()))
        counts = sorted({m.count for m in auto_masks.values()})
        report.masks["lips"] = (first.describe() if len(auto_masks) == 1
                                else f"lips-auto ({len(auto_masks)} meshings, {counts[0]}-{counts[-1]} v; automatic lip region)")
    if upper_mask is not None and fdds:
        report.masks["upper"] = upper_mask.describe()
    return report


def _landmarks_for(verts0: np.ndarray, faces, key: tuple, cache: dict, orientation, report, name: str):
    """Landmarks of one meshing (cached), or ``None`` with a warning when none are found."""
    if key not in cache:
        try:
            cache[key] = find_lip_landmarks(verts0, faces, orientation=orientation)
        except MeshtalkError as exc:
            cache[key] = None
            report.warnings.append(
                f"{name}: no lip landmarks ({exc}); mouth-curve metrics and the automatic lip mask are "
                "skipped (give --faces, --orientation or --lip-mask)"
            )
    return cache[key]


def _curve_metrics(row, p, g, lm_p, lm_g, fps, soft_dtw_gamma, report, pf, gf, audio_dir, n_before, dropped) -> None:
    op_p, op_g = mouth_opening_curve(p, lm_p), mouth_opening_curve(g, lm_g)
    wd_p, wd_g = mouth_width_curve(p, lm_p), mouth_width_curve(g, lm_g)
    row["opening_dtw"] = temporal.dtw(op_p, op_g)
    row["opening_dtw_path"] = temporal.dtw(op_p, op_g, normalize="path")
    row["opening_frechet"] = temporal.discrete_frechet(op_p, op_g)
    var = float(np.var(op_g))
    if var > 0:
        row["opening_soft_dtw"] = temporal.soft_dtw(op_p, op_g, gamma=soft_dtw_gamma * var, divergence=True)
    try:
        mis = temporal.temporal_misalignment(op_p, op_g, fps=fps)
        row["lag_frames"], row["lag_ms"] = mis.lag_frames, mis.lag_ms
    except MeshtalkError as exc:
        report.warnings.append(f"{pf.name}: {exc}")
    row["opening_amplitude_diff"] = temporal.opening_amplitude_difference(op_p, op_g)
    row["opening_range_diff"] = temporal.opening_range_difference(op_p, op_g)
    row["width_amplitude_diff"] = temporal.opening_amplitude_difference(wd_p, wd_g)
    if audio_dir is not None:
        a = Path(audio_dir)
        wav = next((c for c in (a / f"{gf.name}.wav", a / "wav" / f"{gf.name}.wav") if c.is_file()), None)
        if wav is None:
            report.warnings.append(f"{gf.name}: no audio {gf.name}.wav in {a}")
        else:
            audio, sr = _read_audio(wav)
            keep = np.ones(n_before, dtype=bool)
            keep[dropped] = False
            env = temporal.speech_envelope(audio, sr, fps, n_frames=n_before)[keep]
            row["speech_corr_pred"] = temporal.speech_opening_correlation(env, op_p)
            row["speech_corr_gt"] = temporal.speech_opening_correlation(env, op_g)


def _evaluate_pair(pf, gf, report, lip_mask, upper_mask, templates, faces, fps, gt_stride, pred_stride, mode,
                   orientation, audio_dir, pointsets, kernel_sigma, max_points, soft_dtw_gamma, nan_policy,
                   device, landmark_cache, auto_masks, lve_frames, pointset_frames) -> dict:
    p, pfaces = pf.load()
    g, gfaces = gf.load()
    if faces is not None:
        if pfaces is None and int(faces.max()) < p.shape[1]:
            pfaces = faces
        if gfaces is None and int(faces.max()) < g.shape[1]:
            gfaces = faces
    p, g = p[::pred_stride], g[::gt_stride]
    registered = mode != "unregistered" and p.shape[1] == g.shape[1]
    if mode == "registered":
        check_same_vertices(p, g, f"{pf.name}: LVE/MVE/FDD")
    p, g = truncate_pair(p, g, pf.name)
    n_before = p.shape[0]
    p, g, dropped = handle_nonfinite(p, g, nan_policy, pf.name)
    if p.shape[0] < 2:
        raise MeshtalkError(f"{pf.name}: fewer than 2 finite frames to evaluate")
    row: dict = {"name": pf.name, "gt": gf.name, "frames": int(p.shape[0]), "nan_frames": int(dropped.size),
                 "registered": registered}
    row.update({k: None for k, _ in COLUMNS})
    subject = subject_of(gf.name)
    template = None
    if templates is not None:
        template = templates.get(subject)
        if template is not None and template.shape[0] != g.shape[1]:
            raise MeshtalkError(f"template of {subject!r} has {template.shape[0]} vertices, ground truth {gf.name} has {g.shape[1]}")
    # --- landmarks (neutral: template, else the first ground-truth frame)
    neutral_g = template if template is not None else g[0]
    own_meshing = gf.path.suffix == ".npz"  # every unregistered sequence has its own meshing
    lm_g = _landmarks_for(neutral_g, gfaces, ("gt", subject, g.shape[1], gf.name if own_meshing else ""),
                          landmark_cache, orientation, report, gf.name)
    if registered:
        lm_p = lm_g
    else:
        lm_p = _landmarks_for(p[0], pfaces, ("pred", pf.name), landmark_cache, orientation, report, pf.name)
    # --- classic metrics
    mve_part = (0.0, 0)
    if registered:
        mask = lip_mask
        if mask is None and lm_g is not None:
            key = (subject, g.shape[1])
            if key not in auto_masks:
                auto_masks[key] = lip_region_mask(neutral_g, lm_g)
            mask = auto_masks[key]
        if mask is not None:
            mask.check(g.shape[1], "LVE")
            e = _lip_max_sq(p, g, mask.indices)
            lve_frames.append(e)
            row["lve"] = float(np.mean(e))
        norms = np.sqrt(np.sum(np.square(g - p), axis=2))
        row["mve"] = float(np.mean(norms))
        mve_part = (math.fsum(norms.sum(axis=1)), int(norms.size))
        if upper_mask is not None and template is not None:
            upper_mask.check(g.shape[1], "FDD")
            row["fdd"] = _motion_std(g, template, upper_mask.indices) - _motion_std(p, template, upper_mask.indices)
    # --- curves
    if lm_g is not None and lm_p is not None:
        _curve_metrics(row, p, g, lm_p, lm_g, fps, soft_dtw_gamma, report, pf, gf, audio_dir, n_before, dropped)
    # --- correspondence-free
    want_ps = (not registered) if pointsets is None else pointsets
    if want_ps or kernel_sigma is not None:
        both = pfaces is not None and gfaces is not None
        fd = frame_distances(p, g, faces_pred=pfaces if both else None, faces_gt=gfaces if both else None,
                             sigma=kernel_sigma, max_points=max_points, device=device)
        if want_ps:
            row["chamfer"], row["hausdorff"] = float(fd.chamfer.mean()), float(fd.hausdorff.mean())
            pointset_frames["chamfer"].append(fd.chamfer)
            pointset_frames["hausdorff"].append(fd.hausdorff)
        if fd.kernel is not None:
            row["kernel"] = float(fd.kernel.mean())
            pointset_frames["kernel"].append(fd.kernel)
    return row, mve_part

