"""The two baselines every model is compared with.

* **neutral** — the mesh does not move: ``(T, V, 3)`` copies of the neutral vertices.
* **loudness** — a loudness-driven jaw: the RMS speech envelope, normalised by its 95th
  percentile and clipped to [0, 1.5], drives the jaw and lip-aperture channels of the articulation
  (gains fitted by least squares on training-split speech); the motion is the head's **true**
  displacement field for that articulation. It knows the exact deformation shape and lacks only
  the timing and phone information in the speech.

This module is the one definition: ``scripts/train_default_model.py`` (the model card's
evaluation) imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from meshtalk.errors import MeshtalkError

__all__ = ["LoudnessGains", "fit_loudness_gains", "loudness_articulation", "neutral_motion"]

#: Percentile of the envelope that maps to 1.
ENVELOPE_PERCENTILE = 95.0


@dataclass(frozen=True)
class LoudnessGains:
    """Least-squares gains of the normalised envelope for the jaw and lip-aperture channels."""

    jaw: float
    lip_aperture: float


def _normalised_envelope(audio: np.ndarray, sample_rate: float, fps: float, n_frames: int) -> np.ndarray:
    from meshtalk.metrics import speech_envelope

    env = speech_envelope(audio, sample_rate, fps, n_frames=n_frames)
    return env / max(float(np.percentile(env, ENVELOPE_PERCENTILE)), 1e-9)


def fit_loudness_gains(pairs: Iterable[tuple[np.ndarray, float, np.ndarray]], fps: float) -> LoudnessGains:
    """Fit the gains on training speech.

    Args:
        pairs: ``(audio (S,), sample_rate, articulation (T, 4))`` per utterance; articulation
            columns jaw, lip_aperture, protrusion, spread.
        fps: articulation frame rate.

    Returns:
        The gains (``env · art / env · env`` per channel).

    Raises:
        MeshtalkError: no utterance given.
    """
    envs, arts = [], []
    for audio, rate, art in pairs:
        art = np.asarray(art, np.float64)
        envs.append(_normalised_envelope(np.asarray(audio, np.float64), rate, fps, len(art)))
        arts.append(art)
    if not envs:
        raise MeshtalkError("loudness baseline: no training utterance to fit its gains on")
    env, art = np.concatenate(envs), np.concatenate(arts)
    denom = max(float(env @ env), 1e-12)
    return LoudnessGains(float(env @ art[:, 0]) / denom, float(env @ art[:, 1]) / denom)


def loudness_articulation(audio: np.ndarray, sample_rate: float, n_frames: int, fps: float,
                          gains: LoudnessGains) -> np.ndarray:
    """Articulation of the loudness baseline.

    Args:
        audio: (S,) mono speech.
        sample_rate: its rate in Hz.
        n_frames: T.
        fps: frame rate.
        gains: from :func:`fit_loudness_gains`.

    Returns:
        (T, 4) float64 articulation (jaw and lip aperture follow the envelope; the rest 0).
    """
    env = np.clip(_normalised_envelope(np.asarray(audio, np.float64), sample_rate, fps, n_frames), 0.0, 1.5)
    art = np.zeros((n_frames, 4))
    art[:, 0] = gains.jaw * env
    art[:, 1] = gains.lip_aperture * env
    return art


def neutral_motion(verts: np.ndarray, n_frames: int) -> np.ndarray:
    """(T, V, 3) float64: the neutral vertices ``verts (V, 3)`` repeated ``n_frames`` times."""
    v = np.asarray(verts, np.float64)
    return np.broadcast_to(v[None], (n_frames, *v.shape)).copy()
