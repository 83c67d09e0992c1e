"""Lip-sync evaluation on any topology.

* :mod:`~meshtalk.metrics.masks` — :class:`RegionMask` with provenance, :func:`load_region_mask`.
* :mod:`~meshtalk.metrics.classic` — LVE, MVE, FDD, ABS-FDD as CodeTalker computes them.
* :mod:`~meshtalk.metrics.landmarks` — mouth corners, lip midpoints and lip region on any mesh or
  point cloud; region-mask transfer between meshings.
* :mod:`~meshtalk.metrics.curves` — mouth-opening and mouth-width curves.
* :mod:`~meshtalk.metrics.temporal` — DTW, discrete Fréchet, Soft-DTW, temporal misalignment,
  speech-envelope correlation, opening amplitude/range.
* :mod:`~meshtalk.metrics.pointsets` — chunked kNN, Chamfer, Hausdorff, kernel (varifold) distance.
* :mod:`~meshtalk.metrics.evaluate` — evaluation of prediction/ground-truth directories.

Definitions with formulas: ``docs/metrics.md``.
"""

from meshtalk.metrics._validation import NonFiniteFrameWarning, SequenceLengthWarning
from meshtalk.metrics.classic import (
    ClassicReport,
    classic_metrics,
    fdd_sequence,
    lip_max_sq_error,
    lip_vertex_error,
    mean_vertex_error,
)
from meshtalk.metrics.curves import mouth_curves, mouth_opening_curve, mouth_width_curve
from meshtalk.metrics.landmarks import (
    FaceFrame,
    LipLandmarks,
    estimate_face_frame,
    find_lip_landmarks,
    lip_region_mask,
    transfer_region_mask,
)
from meshtalk.metrics.masks import RegionMask, load_region_mask
from meshtalk.metrics.temporal import (
    discrete_frechet,
    dtw,
    opening_amplitude_difference,
    opening_range_difference,
    soft_dtw,
    speech_envelope,
    speech_opening_correlation,
    temporal_misalignment,
)

__all__ = [
    "ClassicReport",
    "FaceFrame",
    "LipLandmarks",
    "NonFiniteFrameWarning",
    "RegionMask",
    "SequenceLengthWarning",
    "classic_metrics",
    "discrete_frechet",
    "dtw",
    "estimate_face_frame",
    "fdd_sequence",
    "find_lip_landmarks",
    "lip_max_sq_error",
    "lip_region_mask",
    "lip_vertex_error",
    "load_region_mask",
    "mean_vertex_error",
    "mouth_curves",
    "mouth_opening_curve",
    "mouth_width_curve",
    "opening_amplitude_difference",
    "opening_range_difference",
    "soft_dtw",
    "speech_envelope",
    "speech_opening_correlation",
    "temporal_misalignment",
    "transfer_region_mask",
]
