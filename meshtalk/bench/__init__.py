"""``meshtalk bench``: the benchmark suite users run.

* :mod:`~meshtalk.bench.baselines` — the two reference predictors (neutral mesh, loudness-driven jaw).
* :mod:`~meshtalk.bench.quality` — lip-sync quality of a model on the synthetic test split, per
  voice, per head and per meshing, against the baselines.
* :mod:`~meshtalk.bench.speed` — precompute / audio-encode / decode time and peak memory per
  vertex count, each size in a fresh subprocess.
* :mod:`~meshtalk.bench.plots` — matplotlib PNGs (error heat map, mouth-opening curves, time vs
  vertex count).
* :mod:`~meshtalk.bench.report` — the markdown section of ``docs/benchmarks.md``.
"""

from meshtalk.bench.quality import (
    FULL_MESHINGS,
    QUICK_MESHINGS,
    QualityConfig,
    QualityResult,
    SequenceCase,
    evaluate_quality,
    model_predictor,
)
from meshtalk.bench.speed import SpeedRow, measure_speed

__all__ = [
    "FULL_MESHINGS",
    "QUICK_MESHINGS",
    "QualityConfig",
    "QualityResult",
    "SequenceCase",
    "SpeedRow",
    "evaluate_quality",
    "measure_speed",
    "model_predictor",
]
