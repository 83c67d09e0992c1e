"""Articulation curves from a phone timeline: jaw, lip aperture, protrusion, corner spread.

The model is the dominance-function co-articulation of Cohen & Massaro (1993): every phone has a
target for each articulatory parameter and a dominance over time that peaks on the phone and decays
exponentially away from it; the curve is the dominance-weighted mean of all targets. Phones with low
dominance for a parameter (the lips during /t/, /k/, /h/) take their value from their neighbours,
which gives anticipatory rounding ("two": lips round during the /t/) and carry-over.

Two additions make the curves fit for ground truth:

- **Closure on /p b m/.** A blended curve approaches but never reaches a target, so lip aperture is
  multiplied by a closure gate: exactly 1 − 1 = 0 from the bilabial's onset through its hold (the
  whole of /m/, the first 80 % of /p b/; at least one frame period around its centre) with
  raised-cosine ramps of ≤ 50 ms that end before the neighbouring phone's centre.
- **Smoothness.** Targets are blended on a 500 Hz grid, smoothed with a 10 ms Gaussian and then
  sampled at the frame times ``i / fps``.

Units and ranges (all dimensionless, float32):

- ``jaw``: jaw opening, 0 = teeth together (rest) … 1 = widest speech opening (a loud /aa/).
- ``lip_aperture``: vertical lip opening, 0 = lips sealed … 1 = widest (/aa/).
- ``protrusion``: lip protrusion/rounding, 0 = neutral … 1 = fully protruded (/uw/, /w/).
- ``spread``: mouth-corner spread, −1 = corners drawn in (rounded) … 0 = neutral … 1 = wide (/iy/).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.data.synth.phones import BILABIALS, PHONE_SET, SILENCE, Phone

__all__ = ["Articulation", "articulation_curves", "PARAMETERS", "TARGETS"]

#: The articulatory parameters, in the column order of :meth:`Articulation.as_array`.
PARAMETERS = ("jaw", "lip_aperture", "protrusion", "spread")

_GRID_HZ = 500.0
_SMOOTH_S = 0.010
_RAMP_S = 0.050
_HOLD_FRACTION_STOP = 0.8   # /p b/: lips part at the release, about 4/5 into the labelled span

# Targets (jaw, lip_aperture, protrusion, spread); diphthongs have an onset and an offset target.
_T = tuple[float, float, float, float]
TARGETS: dict[str, tuple[_T, ...]] = {
    "AA": ((0.85, 0.85, 0.00, 0.10),),
    "AE": ((0.75, 0.70, 0.00, 0.45),),
    "AH": ((0.60, 0.55, 0.00, 0.10),),
    "AO": ((0.70, 0.60, 0.55, -0.40),),
    "AW": ((0.80, 0.75, 0.10, 0.10), (0.40, 0.30, 0.70, -0.60)),
    "AY": ((0.80, 0.75, 0.00, 0.15), (0.30, 0.30, 0.00, 0.60)),
    "EH": ((0.55, 0.50, 0.00, 0.35),),
    "ER": ((0.40, 0.30, 0.45, -0.20),),
    "EY": ((0.50, 0.45, 0.00, 0.40), (0.30, 0.30, 0.00, 0.60)),
    "IH": ((0.35, 0.35, 0.00, 0.50),),
    "IY": ((0.25, 0.25, 0.00, 0.70),),
    "OW": ((0.55, 0.45, 0.60, -0.50), (0.35, 0.25, 0.85, -0.80)),
    "OY": ((0.65, 0.55, 0.55, -0.40), (0.30, 0.30, 0.00, 0.50)),
    "UH": ((0.40, 0.30, 0.60, -0.50),),
    "UW": ((0.30, 0.15, 1.00, -0.85),),
    "P": ((0.15, 0.00, 0.10, 0.00),), "B": ((0.15, 0.00, 0.10, 0.00),), "M": ((0.15, 0.00, 0.10, 0.00),),
    "F": ((0.12, 0.08, 0.00, 0.10),), "V": ((0.12, 0.08, 0.00, 0.10),),
    "TH": ((0.18, 0.20, 0.00, 0.10),), "DH": ((0.18, 0.20, 0.00, 0.10),),
    "T": ((0.18, 0.20, 0.00, 0.10),), "D": ((0.18, 0.20, 0.00, 0.10),), "N": ((0.18, 0.20, 0.00, 0.10),),
    "S": ((0.08, 0.12, 0.00, 0.25),), "Z": ((0.08, 0.12, 0.00, 0.25),),
    "SH": ((0.12, 0.18, 0.65, -0.30),), "ZH": ((0.12, 0.18, 0.65, -0.30),),
    "CH": ((0.12, 0.18, 0.65, -0.30),), "JH": ((0.12, 0.18, 0.65, -0.30),),
    "K": ((0.25, 0.30, 0.00, 0.00),), "G": ((0.25, 0.30, 0.00, 0.00),), "NG": ((0.25, 0.30, 0.00, 0.00),),
    "L": ((0.25, 0.30, 0.00, 0.10),), "R": ((0.25, 0.20, 0.50, -0.30),),
    "W": ((0.18, 0.10, 0.95, -0.85),), "Y": ((0.20, 0.22, 0.00, 0.50),),
    "HH": ((0.35, 0.35, 0.00, 0.00),),
    SILENCE: ((0.02, 0.00, 0.00, 0.00),),
}

# Dominance (strength per parameter, decay time constant in s) by phone class.
_D = tuple[tuple[float, float, float, float], float]
_VOWEL_DOM: _D = ((1.0, 1.0, 0.6, 0.6), 0.06)
_ROUNDED_VOWEL_DOM: _D = ((1.0, 1.0, 1.0, 1.0), 0.06)
_DOMINANCE: dict[str, _D] = {
    **{p: _VOWEL_DOM for p in ("AA", "AE", "AH", "AY", "EH", "EY", "IH", "IY")},
    **{p: _ROUNDED_VOWEL_DOM for p in ("AO", "AW", "ER", "OW", "OY", "UH", "UW")},
    **{p: ((0.6, 1.5, 0.2, 0.3), 0.05) for p in ("P", "B", "M")},
    **{p: ((0.6, 1.2, 0.2, 0.3), 0.05) for p in ("F", "V")},
    **{p: ((0.6, 0.6, 1.2, 1.0), 0.07) for p in ("SH", "ZH", "CH", "JH", "W", "R")},
    **{p: ((1.0, 0.4, 0.1, 0.3), 0.05) for p in ("S", "Z")},
    **{p: ((0.7, 0.3, 0.1, 0.2), 0.04) for p in ("T", "D", "N", "TH", "DH", "L", "Y")},
    **{p: ((0.4, 0.2, 0.1, 0.1), 0.04) for p in ("K", "G", "NG")},
    "HH": ((0.1, 0.1, 0.1, 0.1), 0.03),
    SILENCE: ((0.8, 0.8, 0.8, 0.8), 0.04),
}
_REST = np.array(TARGETS[SILENCE][0])
_REST_WEIGHT = 1e-3
_LOWER = np.array([0.0, 0.0, 0.0, -1.0])
_UPPER = np.array([1.0, 1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Articulation:
    """Articulatory curves sampled at ``t_i = i / fps``, i = 0 … T−1.

    Attributes:
        fps: frames per second.
        jaw: (T,) float32 jaw opening in [0, 1].
        lip_aperture: (T,) float32 vertical lip opening in [0, 1]; 0 = lips sealed.
        protrusion: (T,) float32 lip protrusion in [0, 1].
        spread: (T,) float32 mouth-corner spread in [−1, 1]; negative = rounded.
    """

    fps: float
    jaw: np.ndarray
    lip_aperture: np.ndarray
    protrusion: np.ndarray
    spread: np.ndarray

    @property
    def times(self) -> np.ndarray:
        """(T,) float64 frame times in seconds."""
        return np.arange(len(self.jaw)) / self.fps

    def as_array(self) -> np.ndarray:
        """(T, 4) float32 in the order of :data:`PARAMETERS`."""
        return np.stack([self.jaw, self.lip_aperture, self.protrusion, self.spread], axis=1)


def _validate(phones: Sequence, fps: float, duration: float | None) -> tuple[list[Phone], float]:
    if not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise MeshtalkError(f"fps must be a positive finite number, got {fps!r}")
    out: list[Phone] = []
    for i, p in enumerate(phones):
        if isinstance(p, Phone):
            label, start, end = p.label, p.start, p.end
        else:
            try:
                label, start, end = p
            except (TypeError, ValueError):
                raise MeshtalkError(f"phone {i} must be a Phone or (label, start, end), got {p!r}") from None
        if label not in PHONE_SET:
            raise MeshtalkError(f"phone {i} has label {label!r} outside the shared phone set (ARPAbet + SIL)")
        start, end = float(start), float(end)
        if not (math.isfinite(start) and math.isfinite(end)) or end < start or start < 0:
            raise MeshtalkError(f"phone {i} ({label}) has bad times start={start!r} end={end!r}")
        if out and start < out[-1].start - 1e-9:
            raise MeshtalkError(
                f"phones must be in time order; phone {i} ({label}) starts at {start} before phone {i - 1}"
            )
        out.append(Phone(label, start, end))
    if duration is None:
        duration = out[-1].end if out else 0.0
    if not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration < 0:
        raise MeshtalkError(f"duration must be a non-negative finite number of seconds, got {duration!r}")
    return out, float(duration)


def _blend(phones: list[Phone], grid: np.ndarray) -> np.ndarray:
    """Dominance-weighted mean of the targets on ``grid``: (G,) times → (G, 4)."""
    num = np.zeros((grid.size, 4)) + _REST_WEIGHT * _REST
    den = np.full((grid.size, 4), _REST_WEIGHT)
    for p in phones:
        targets = TARGETS[p.label]
        alpha, tau = _DOMINANCE[p.label]
        alpha = np.asarray(alpha)
        width = (p.end - p.start) / len(targets)
        for k, target in enumerate(targets):
            s = p.start + k * width
            centre, half_core = s + 0.5 * width, 0.25 * width
            reach = half_core + 10.0 * tau
            lo, hi = np.searchsorted(grid, [centre - reach, centre + reach])
            if hi <= lo:
                continue
            dist = np.maximum(np.abs(grid[lo:hi] - centre) - half_core, 0.0)
            dom = alpha[None, :] * np.exp(-dist / tau)[:, None]          # (g, 4)
            num[lo:hi] += dom * np.asarray(target)[None, :]
            den[lo:hi] += dom
    return num / den


def _closure_gate(phones: list[Phone], times: np.ndarray, fps: float) -> np.ndarray:
    """(T,) in [0, 1]: 1 while the lips are sealed for /p b m/, raised-cosine ramps around."""
    gate = np.zeros(times.size)
    half_frame = 0.5 / fps + 1e-9
    for i, p in enumerate(phones):
        if p.label not in BILABIALS:
            continue
        dur = p.end - p.start
        centre = p.centre
        hold_end = p.end if p.label == "M" else p.start + _HOLD_FRACTION_STOP * dur
        hold = (min(p.start, centre - half_frame), max(hold_end, centre + half_frame))
        prev_c = phones[i - 1].centre if i > 0 else -np.inf
        next_c = phones[i + 1].centre if i + 1 < len(phones) else np.inf
        ramp_in = max(min(_RAMP_S, hold[0] - prev_c), 1e-3)
        ramp_out = max(min(_RAMP_S, next_c - hold[1]), 1e-3)
        g = np.zeros(times.size)
        g[(times >= hold[0]) & (times <= hold[1])] = 1.0
        before = (times < hold[0]) & (times > hold[0] - ramp_in)
        g[before] = 0.5 * (1 + np.cos(np.pi * (hold[0] - times[before]) / ramp_in))
        after = (times > hold[1]) & (times < hold[1] + ramp_out)
        g[after] = 0.5 * (1 + np.cos(np.pi * (times[after] - hold[1]) / ramp_out))
        gate = np.maximum(gate, g)
    return gate


def articulation_curves(
    phones: Sequence[Phone] | Sequence[tuple[str, float, float]],
    *,
    fps: float = 30.0,
    duration: float | None = None,
    seed: int | None = None,
) -> Articulation:
    """Turn a phone timeline into co-articulated jaw and lip curves at the motion frame rate.

    Args:
        phones: the timeline, in time order: :class:`~meshtalk.data.synth.phones.Phone` or
            ``(label, start_s, end_s)`` with labels in the shared ARPAbet + ``SIL`` set. Gaps are
            treated as silence.
        fps: frame rate; frame i is at ``i / fps`` seconds.
        duration: length in seconds; default the last phone's end. T = ``round(duration * fps)``.
        seed: ``None`` for the canonical curves; an integer draws a speaking style (per-parameter
            gains of ±15 % and a 0–30 ms articulatory lead), the same for the same seed. Closures
            on /p b m/ are kept exactly.

    Returns:
        :class:`Articulation` with four (T,) float32 curves (units in the module docstring).

    Raises:
        MeshtalkError: on an unknown label, unordered or non-finite times, or a bad fps/duration.
    """
    phone_list, duration = _validate(phones, fps, duration)
    n_frames = int(round(duration * fps))
    times = np.arange(n_frames) / float(fps)
    # Gaps in the timeline are silence.
    filled: list[Phone] = []
    cursor = 0.0
    for p in phone_list:
        if p.start > cursor + 1e-9:
            filled.append(Phone(SILENCE, cursor, p.start))
        if p.end > p.start:
            filled.append(p)
        cursor = max(cursor, p.end)
    if cursor < duration:
        filled.append(Phone(SILENCE, cursor, duration))

    gains, lead = np.ones(4), 0.0
    if seed is not None:
        rng = np.random.default_rng(seed)
        gains = rng.uniform(0.85, 1.15, size=4)
        lead = float(rng.uniform(0.0, 0.030))
    if n_frames == 0:
        empty = np.zeros(0, np.float32)
        return Articulation(float(fps), empty, empty.copy(), empty.copy(), empty.copy())

    pad = 0.1
    grid = np.arange(-pad, duration + pad, 1.0 / _GRID_HZ)
    curves = _blend(filled, grid)
    from scipy.ndimage import gaussian_filter1d

    curves = gaussian_filter1d(curves, _SMOOTH_S * _GRID_HZ, axis=0, mode="nearest")
    values = np.stack([np.interp(times + lead, grid, curves[:, j]) for j in range(4)], axis=1)
    values = _REST + (values - _REST) * gains
    values = np.clip(values, _LOWER, _UPPER)
    values[:, 1] *= 1.0 - _closure_gate(filled, times, float(fps))
    values = values.astype(np.float32)
    return Articulation(
        fps=float(fps),
        jaw=values[:, 0].copy(),
        lip_aperture=values[:, 1].copy(),
        protrusion=values[:, 2].copy(),
        spread=values[:, 3].copy(),
    )
