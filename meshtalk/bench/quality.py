"""Lip-sync quality of a model on the synthetic test split, per voice, per head and per meshing.

The test material follows the corpus's split rule (:mod:`meshtalk.data.synth.corpus`): test
sentences (index % 10 == 0 of the corpus text generator), held-out test voices
(:data:`~meshtalk.data.synth.speech.TEST_VOICES`) and heads the default model never saw (the
default corpus — seed 0, 8 heads — trains on head seeds 0–5, validates on 6 and tests on 7; seeds
7 and up are unseen). Every utterance animates every meshing of every head: the registered
template, isotropic remeshings, a decimation, noisy/holed scans, a point cloud, and (full run) a
~100k-vertex remeshing. Ground truth comes from the head's displacement field, exact on any
meshing.

Per sequence and method (model, ``neutral`` mesh, ``loudness``-driven jaw; see
:mod:`meshtalk.bench.baselines`):

* ``lve_mm2`` — lip vertex error (CodeTalker's LVE: mean over frames of the max over lip vertices
  of the squared L2 error), mm², with the **automatic** lip mask of that meshing
  (:func:`meshtalk.metrics.lip_region_mask`; its name and size are reported beside the number);
* ``opening_dtw_mm`` — DTW of the mouth-opening curves (upper-to-lower lip midpoint distance),
  path-normalised, mm;
* ``opening_frechet_mm`` — discrete Fréchet distance of the same curves, mm;
* ``opening_corr`` — Pearson correlation of the opening curves (NaN for a constant curve, i.e.
  the neutral baseline).

Lower is better except ``opening_corr``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from meshtalk.bench.baselines import (
    LoudnessGains,
    fit_loudness_gains,
    loudness_articulation,
    neutral_motion,
)
from meshtalk.errors import MeshtalkError

log = logging.getLogger(__name__)

__all__ = [
    "FULL_MESHINGS",
    "METHODS",
    "METRICS",
    "QUICK_MESHINGS",
    "QualityConfig",
    "QualityResult",
    "SequenceCase",
    "evaluate_quality",
    "model_predictor",
    "score_motion",
    "test_cases",
]

#: Meshings of the quick run: registered template, one remeshing, one point cloud.
QUICK_MESHINGS: tuple[tuple[str, dict], ...] = (
    ("template", {}),
    ("remesh", {"target_vertices": 2000}),
    ("pointcloud", {"count": 2000}),
)
#: Meshings of the full run (the corpus's test pool).
FULL_MESHINGS: tuple[tuple[str, dict], ...] = (
    ("template", {}),
    ("remesh", {"target_vertices": 2000}),
    ("remesh", {"target_vertices": 12000}),
    ("decimate", {"target_vertices": 4000}),
    ("noise", {"sigma": 0.0003}),
    ("holes", {"count": 4}),
    ("pointcloud", {"count": 20000}),
    ("remesh", {"target_vertices": 100000}),
)
#: Ground-truth mouth-opening range (mm) below which the curve metrics of a case are left out
#: (NaN): the automatic lip landmarks did not land on the parting lips of that meshing.
MIN_OPENING_RANGE_MM = 0.5
#: Frames a prediction may lack (frame-count rounding); more is an error.
_FRAME_SLACK = 2
#: Methods scored, the model first.
METHODS = ("model", "neutral", "loudness")
#: Metric keys of a score (see the module docstring).
METRICS = ("lve_mm2", "opening_dtw_mm", "opening_frechet_mm", "opening_corr")


@dataclass(frozen=True)
class QualityConfig:
    """What the quality benchmark runs on.

    Attributes:
        heads: head seeds (:func:`meshtalk.data.synth.heads.make_head`), named ``head<seed>``.
        voices: voices to use; None: the first ``n_voices`` installed test voices.
        n_voices: number of test voices when ``voices`` is None.
        sentences: test sentences per (head, voice).
        meshings: ``(kind, kwargs)`` per meshing; kind ``"template"`` or a
            :func:`meshtalk.data.synth.scans.make_scan` kind.
        seed: text and scan seed.
        fps: motion frame rate.
        sample_rate: audio rate in Hz.
        fit_sentences: training-split utterances (training voices) the loudness gains are fitted on.
    """

    heads: tuple[int, ...] = (7,)
    voices: tuple[str, ...] | None = None
    n_voices: int = 2
    sentences: int = 2
    meshings: tuple[tuple[str, dict], ...] = QUICK_MESHINGS
    seed: int = 0
    fps: float = 30.0
    sample_rate: int = 16000
    fit_sentences: int = 4

    def __post_init__(self) -> None:
        if not self.heads:
            raise MeshtalkError("bench quality: at least one head is needed")
        if self.sentences < 1 or self.n_voices < 1:
            raise MeshtalkError(f"bench quality: sentences and n_voices must be >= 1, got "
                                f"{self.sentences} and {self.n_voices}")
        if not self.meshings:
            raise MeshtalkError("bench quality: at least one meshing is needed")


@dataclass
class SequenceCase:
    """One test sequence on one meshing.

    Attributes:
        name: ``<head>_<voice>_s<sentence>``.
        head, voice, meshing: what it is.
        verts: (V, 3) float64 neutral vertices, metres, +Y up, +Z forward.
        faces: (F, 3) int64 triangles or None (point cloud).
        audio: (S,) float32 speech.
        sample_rate: Hz.
        fps: frame rate.
        articulation: (T, 4) float64 jaw, lip_aperture, protrusion, spread.
        gt: (T, V, 3) float64 ground-truth positions.
        text: the sentence.
        field: the head's displacement field (:class:`~meshtalk.data.synth.motion.MouthField`).
        true_mouth_width: corner-to-corner distance of the head's own mouth landmarks, metres
            (a check on the automatic landmarks).
        motion_points: (V, 3) where the field gives each vertex's motion (None: ``verts``; a
            noisy scan's clean points).
    """

    name: str
    head: str
    voice: str
    meshing: str
    verts: np.ndarray
    faces: np.ndarray | None
    audio: np.ndarray
    sample_rate: int
    fps: float
    articulation: np.ndarray
    gt: np.ndarray
    text: str = ""
    field: object = None
    true_mouth_width: float = math.nan
    motion_points: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        """T."""
        return int(self.gt.shape[0])


#: A predictor maps a case to (T', V, 3) positions (T' is cut to T).
Predictor = Callable[[SequenceCase], np.ndarray]


@dataclass
class QualityResult:
    """Scores of one quality run.

    Attributes:
        rows: one dict per case: name, head, voice, meshing, vertices, frames, mask (name and
            size of the automatic lip mask), gt_opening_range_mm (range of the ground-truth
            mouth-opening curve between the automatic lip landmarks), auto_mouth_width_mm and
            true_mouth_width_mm (the automatic landmarks' mouth width vs the head's own) and one
            score dict per method.
        summary: group (``"all"``, ``"voice V"``, ``"head H"``, ``"meshing M"``) -> method ->
            metric -> mean over the group's cases (NaN-aware), plus ``"n"``.
        masks: meshing -> lip mask description.
        gains: the loudness baseline's gains.
        model: what the model was (path or label).
        seconds: wall time of the run.
        examples: data for the plots: ``curves`` (mouth-opening curves of one case, mm) and
            ``heat`` (per-vertex mean model error of one case on a meshing with faces).
        config: the settings as a dict.
    """

    rows: list[dict]
    summary: dict
    masks: dict[str, str]
    gains: LoudnessGains
    model: str
    seconds: float
    examples: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """JSON-ready dict without the plot arrays."""
        return {"model": self.model, "seconds": round(self.seconds, 2), "gains": asdict(self.gains),
                "masks": self.masks, "config": self.config, "summary": self.summary, "rows": self.rows}


# --------------------------------------------------------------------------------- material


def _test_voices(config: QualityConfig) -> list[str]:
    from meshtalk.data.synth.speech import TEST_VOICES, list_voices

    if config.voices:
        return list(config.voices)
    installed = set(list_voices())
    voices = [v for v in TEST_VOICES if v in installed][: config.n_voices]
    if not voices:
        raise MeshtalkError("bench quality: no held-out test voice is installed "
                            f"({', '.join(TEST_VOICES)}); make setup-system installs the speech engines")
    return voices


def _sentences(split: str, count: int, seed: int) -> list[tuple[int, str]]:
    from meshtalk.data.synth.corpus import _sentence_split, make_sentence

    out, idx = [], 0
    while len(out) < count:
        if _sentence_split(idx) == split:
            out.append((idx, make_sentence(idx, seed=seed)))
        idx += 1
    return out


def _utterance(text: str, voice: str, config: QualityConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(audio (S,) float32, articulation (T, 4) float64) of one sentence."""
    from meshtalk.data.synth.articulation import articulation_curves
    from meshtalk.data.synth.speech import synthesize

    utt = synthesize(text, voice, sample_rate=config.sample_rate, seed=seed)
    duration = len(utt.audio) / utt.sample_rate
    art = articulation_curves(utt.phones, fps=config.fps, duration=duration)
    return np.asarray(utt.audio, np.float32), np.asarray(art.as_array(), np.float64)


def _fit_gains(config: QualityConfig) -> LoudnessGains:
    from meshtalk.data.synth.speech import TEST_VOICES, list_voices

    train_voices = [v for v in list_voices() if v not in TEST_VOICES]
    if not train_voices:
        raise MeshtalkError("bench quality: no training voice installed to fit the loudness baseline")
    pairs = []
    for i, (idx, text) in enumerate(_sentences("train", config.fit_sentences, config.seed)):
        audio, art = _utterance(text, train_voices[i % len(train_voices)], config, seed=idx)
        pairs.append((audio, config.sample_rate, art))
    return fit_loudness_gains(pairs, config.fps)


def _meshings(head, config: QualityConfig) -> list[tuple[str, np.ndarray, np.ndarray | None, np.ndarray]]:
    """``(name, verts (V, 3), faces (F, 3) or None, motion points (V, 3))`` of each meshing: the
    vertices' exact motion is the field evaluated at the motion points (a noisy scan's clean
    points, see :attr:`meshtalk.data.synth.scans.Scan.motion_points`; the vertices otherwise)."""
    from meshtalk.data.synth.scans import make_scan

    out = []
    for kind, kwargs in config.meshings:
        if kind == "template":
            verts = np.asarray(head.verts, np.float64)
            out.append(("template", verts, np.asarray(head.faces, np.int64), verts))
            continue
        kw = dict(kwargs)
        if kind in ("noise", "holes", "pointcloud", "permute"):
            kw.setdefault("seed", config.seed)
        scan = make_scan(head, kind, **kw)
        faces = None if scan.is_point_cloud else np.asarray(scan.faces, np.int64)
        out.append((scan.name, np.asarray(scan.verts, np.float64), faces,
                    np.asarray(scan.motion_source, np.float64)))
    return out


def test_cases(config: QualityConfig):
    """Yield every :class:`SequenceCase` of ``config``: heads × voices × sentences × meshings.

    Utterances are synthesised once per (voice, sentence) and reused on every head and meshing.
    """
    from meshtalk.data.synth.heads import make_head
    from meshtalk.data.synth.motion import MouthField

    voices = _test_voices(config)
    sentences = _sentences("test", config.sentences, config.seed)
    speech = {(v, idx): (text, *_utterance(text, v, config, seed=idx)) for v in voices for idx, text in sentences}
    for seed in config.heads:
        head = make_head(int(seed), name=f"head{int(seed):03d}")
        field_ = MouthField(head)
        width = float(np.linalg.norm(head.landmarks.left_corner - head.landmarks.right_corner))
        for mesh_name, verts, faces, moving in _meshings(head, config):
            for (voice, idx), (text, audio, art) in speech.items():
                gt = verts[None] + field_.displace(moving, art)
                yield SequenceCase(name=f"{head.name}_{voice.replace(':', '-')}_s{idx:05d}", head=head.name,
                                   voice=voice, meshing=mesh_name, verts=verts, faces=faces, audio=audio,
                                   sample_rate=config.sample_rate, fps=config.fps, articulation=art, gt=gt,
                                   text=text, field=field_, true_mouth_width=width, motion_points=moving)


def count_cases(config: QualityConfig) -> int:
    """Number of cases :func:`test_cases` yields."""
    return len(config.heads) * len(_test_voices(config)) * config.sentences * len(config.meshings)


# --------------------------------------------------------------------------------- scoring


def score_motion(pred: np.ndarray, gt: np.ndarray, lip_mask, landmarks) -> dict[str, float]:
    """Scores of one predicted motion against ground truth.

    Args:
        pred: (T, V, 3) predicted positions, metres.
        gt: (T, V, 3) ground-truth positions, metres.
        lip_mask: the :class:`~meshtalk.metrics.RegionMask` of the lips.
        landmarks: :class:`~meshtalk.metrics.LipLandmarks` of the neutral mesh, or ``(upper, lower)``
            vertex indices (None: no curve metrics).

    Returns:
        ``{metric: value}`` for :data:`METRICS` (NaN where undefined: the correlation of a
        constant curve; every curve metric when the ground-truth opening range is below
        :data:`MIN_OPENING_RANGE_MM`, i.e. the landmarks missed the lips).
    """
    from meshtalk.metrics import discrete_frechet, dtw, lip_vertex_error, mouth_opening_curve
    from meshtalk.metrics.temporal import pearson

    out = {"lve_mm2": lip_vertex_error(pred, gt, lip_mask) * 1e6}
    if landmarks is None:
        out.update(opening_dtw_mm=math.nan, opening_frechet_mm=math.nan, opening_corr=math.nan)
        return out
    op_p = mouth_opening_curve(pred, landmarks) * 1000.0
    op_g = mouth_opening_curve(gt, landmarks) * 1000.0
    if np.ptp(op_g) < MIN_OPENING_RANGE_MM:
        # the landmarks do not straddle the moving lips: curve metrics would measure nothing
        out.update(opening_dtw_mm=math.nan, opening_frechet_mm=math.nan, opening_corr=math.nan)
        return out
    corr = pearson(op_p, op_g) if np.ptp(op_p) > 1e-6 else None
    out["opening_dtw_mm"] = float(dtw(op_p, op_g, normalize="path"))
    out["opening_frechet_mm"] = float(discrete_frechet(op_p, op_g))
    out["opening_corr"] = math.nan if corr is None else corr
    return out


def _lip_geometry(verts: np.ndarray, faces: np.ndarray | None):
    from meshtalk.metrics import find_lip_landmarks, lip_region_mask

    lm = find_lip_landmarks(verts, faces)
    return lm, lip_region_mask(verts, lm)


def _summarise(rows: list[dict]) -> dict:
    groups: dict[str, list[dict]] = {"all": rows}
    for key in ("voice", "head", "meshing"):
        for r in rows:
            groups.setdefault(f"{key} {r[key]}", []).append(r)
    out = {}
    for g, rs in groups.items():
        out[g] = {"n": len(rs)}
        for m in METHODS:
            vals = {k: [r[m][k] for r in rs if math.isfinite(r[m][k])] for k in METRICS}
            out[g][m] = {k: (float(np.mean(v)) if v else math.nan) for k, v in vals.items()}
    return out


def model_predictor(model=None, *, cache=None, device: str | None = None) -> tuple[Predictor, str]:
    """A predictor running :func:`meshtalk.pipeline.animate` (automatic placement included).

    Args:
        model: None (the shipped default), a model folder/file, a ``TalkingHead`` or ``LoadedModel``.
        cache: operator cache folder (None: no cache).
        device: ``"cpu"`` (default) or ``"cuda"``.

    Returns:
        (predictor, a label naming the model).
    """
    from meshtalk.pipeline import animate, load_model

    loaded = load_model(model, device=device)

    def predict(case: SequenceCase) -> np.ndarray:
        return animate((case.verts, case.faces), (case.audio, case.sample_rate), loaded, fps=case.fps,
                       cache=cache, device=device)

    return predict, str(loaded.path)


def evaluate_quality(
    predict: Predictor,
    config: QualityConfig | None = None,
    *,
    model_label: str = "model",
    progress: bool = False,
) -> QualityResult:
    """Score ``predict`` and the two baselines on the test cases of ``config``.

    Args:
        predict: maps a :class:`SequenceCase` to (T', V, 3) positions (T' >= T - 2; longer is cut
            to T, up to 2 frames shorter is scored on the common frames).
        config: the settings (default: the quick run's).
        model_label: how the report names the model.
        progress: tqdm progress bar.

    Returns:
        The :class:`QualityResult`.

    Raises:
        MeshtalkError: a prediction of the wrong shape, or missing speech engines.
    """
    from meshtalk.metrics import mouth_opening_curve

    config = config or QualityConfig()
    t0 = time.perf_counter()
    gains = _fit_gains(config)
    lips: dict[tuple[str, str], tuple] = {}
    rows: list[dict] = []
    masks: dict[str, str] = {}
    examples: dict = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=count_cases(config), desc="bench quality", unit="seq")
    try:
        for case in test_cases(config):
            key = (case.head, case.meshing)
            if key not in lips:
                try:
                    lips[key] = _lip_geometry(case.verts, case.faces)
                except MeshtalkError as exc:
                    raise MeshtalkError(f"bench quality: lip landmarks on {case.head}/{case.meshing}: {exc}") from None
            lm, mask = lips[key]
            masks[case.meshing] = f"{mask.name} ({mask.indices.size} of {mask.n_vertices} v)"
            pred = np.asarray(predict(case), np.float64)
            n = case.n_frames
            if pred.ndim != 3 or pred.shape[1:] != case.verts.shape or len(pred) < n - _FRAME_SLACK:
                raise MeshtalkError(f"bench quality: prediction for {case.name} on {case.meshing} has shape "
                                    f"{pred.shape}; expected ({n}, {len(case.verts)}, 3)")
            if len(pred) < n:  # a rounding difference of the frame count: score the common frames
                log.warning("%s: %d predicted frames for %d; scoring the first %d", case.name, len(pred), n, len(pred))
                n = len(pred)
                case.gt = case.gt[:n]
                case.articulation = case.articulation[:n]
            pred = pred[:n]
            loud_art = loudness_articulation(case.audio, case.sample_rate, n, case.fps, gains)
            # the baseline moves with the head's true displacement field
            moving = case.verts if case.motion_points is None else case.motion_points
            loud = case.verts[None] + case.field.displace(moving, loud_art)
            motions = {"model": pred, "neutral": neutral_motion(case.verts, n), "loudness": loud}
            row = {"name": case.name, "head": case.head, "voice": case.voice, "meshing": case.meshing,
                   "vertices": int(len(case.verts)), "frames": n, "mask": masks[case.meshing],
                   "gt_opening_range_mm": float(np.ptp(mouth_opening_curve(case.gt, lm))) * 1000.0,
                   "auto_mouth_width_mm": float(lm.mouth_width) * 1000.0 if hasattr(lm, "mouth_width") else math.nan,
                   "true_mouth_width_mm": case.true_mouth_width * 1000.0}
            for m, motion in motions.items():
                row[m] = score_motion(motion, case.gt, mask, lm)
            rows.append(row)
            _keep_examples(examples, case, motions, lm)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return QualityResult(rows=rows, summary=_summarise(rows), masks=masks, gains=gains, model=model_label,
                         seconds=time.perf_counter() - t0, examples=examples,
                         config={k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()})


def _keep_examples(examples: dict, case: SequenceCase, motions: dict, lm) -> None:
    from meshtalk.metrics import mouth_opening_curve

    if "curves" not in examples:
        examples["curves"] = {
            "name": f"{case.name} on {case.meshing}", "fps": case.fps, "text": case.text,
            "gt": mouth_opening_curve(case.gt, lm) * 1000.0,
            **{m: mouth_opening_curve(v, lm) * 1000.0 for m, v in motions.items()},
        }
    if "heat" not in examples and case.faces is not None:
        err = np.linalg.norm(motions["model"] - case.gt, axis=-1).mean(0) * 1000.0
        examples["heat"] = {"name": f"{case.name} on {case.meshing}", "verts": case.verts,
                            "faces": case.faces, "error_mm": err}


def meshing_names(meshings: Sequence[tuple[str, dict]]) -> list[str]:
    """Human names of a meshing list (for help texts)."""
    return [k if not kw else f"{k}({', '.join(f'{a}={b}' for a, b in kw.items())})" for k, kw in meshings]
