"""One training/evaluation sequence: speech, a neutral mesh with its operators, target motion."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

#: ``ops_fn(verts (V, 3) float64, faces (F, 3) or None, k) -> SpectralOperators``
OperatorsFn = Callable[[np.ndarray, "np.ndarray | None", int], Any]


def default_operators_fn(cache: Any = None) -> OperatorsFn:
    """Operators from :func:`meshtalk.geometry.compute_operators` through ``cache``."""

    def ops_fn(verts: np.ndarray, faces: np.ndarray | None, k: int):
        from meshtalk.geometry import compute_operators

        return compute_operators(np.asarray(verts, np.float64), faces, k=k, cache=cache)

    return ops_fn


@dataclasses.dataclass
class TalkingSequence:
    """A speech clip with the motion of one face.

    Attributes:
        name: sequence id (file stem).
        subject: speaker / identity id.
        audio: (S,) float32 mono speech at 16 kHz.
        fps: motion frame rate of ``target``.
        neutral: (V, 3) float32 neutral mesh the model deforms.
        faces: (F, 3) int64 triangles of ``neutral`` (None for a point cloud).
        target: registered: (T, V, 3) vertex positions in ``neutral``'s order; unregistered:
            (T, P, 3) target points per frame, padded when frames differ in point count.
        target_lengths: unregistered only: (T,) number of valid points of each target frame
            (None for registered data).
        dataset: name of the dataset the sequence came from.
        ops: operators of ``neutral`` (filled in lazily by the dataset).
    """

    name: str
    subject: str
    audio: np.ndarray
    fps: float
    neutral: np.ndarray
    faces: np.ndarray | None
    target: np.ndarray
    target_lengths: np.ndarray | None = None
    dataset: str = ""
    ops: Any = None

    @property
    def registered(self) -> bool:
        """True when ``target`` is in correspondence with ``neutral``."""
        return self.target_lengths is None

    @property
    def num_frames(self) -> int:
        """T."""
        return int(self.target.shape[0])
