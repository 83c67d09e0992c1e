"""Training configuration: one YAML file maps to :class:`ExperimentConfig`.

Example (see ``configs/``)::

    model: {k_eig: 128, audio: {kind: hubert, source: /models/hubert-base-ls960}}
    data: {layout: faceformer, root: /data/vocaset, dataset: vocaset}
    loss: {mse: 1.0, velocity: 1.0}
    train: {epochs: 200, lr: 1.0e-4, out_dir: runs/voca}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from meshtalk.model.config import TalkingHeadConfig, load_yaml


@dataclass
class DataConfig:
    """Where the data is and how to read it.

    Attributes:
        layout: ``"faceformer"`` (registered) or ``"unregistered"``.
        root: dataset folder.
        dataset: registry name for the FaceFormer layout (vocaset, biwi, biwi6, multiface).
        train_split: split used for training.
        val_split: split used for validation (None: no validation).
        fps: frame rate of unregistered sequences that do not state one.
        max_frames: crop sequences to this many frames (None: whole sequences).
        operator_cache: folder of the operator cache (None: the geometry core's default).
        lip_vertices: ``.npy`` / ``.txt`` of lip vertex indices (0-based) for the lip loss.
    """

    layout: Literal["faceformer", "unregistered"] = "faceformer"
    root: str = "data/vocaset"
    dataset: str = "vocaset"
    train_split: str = "train"
    val_split: str | None = "val"
    fps: float = 30.0
    max_frames: int | None = None
    operator_cache: str | None = None
    lip_vertices: str | None = None


@dataclass
class LossConfig:
    """Loss weights. Registered data uses mse/velocity/lip; unregistered data uses chamfer.

    Attributes:
        mse: weight of the vertex MSE.
        velocity: weight of the temporal velocity loss.
        lip: weight of the lip-weighted MSE (needs ``data.lip_vertices``).
        chamfer: weight of the unregistered loss (whichever ``unregistered`` names).
        unregistered: ``"surface"``: squared point-to-surface distance from each predicted
            vertex to the target surface, reconstructed by local quadric fits of the target points
            (no sampling bias to third order; see :func:`~meshtalk.train.losses.surface_loss`);
            ``"chamfer"``: plain vertex-to-point Chamfer (biased by about curvature x spacing^2
            when the template and the targets are meshed differently).
        surface_k: target points per local quadric fit (``"surface"`` only).
        surface_reverse: weight of the target -> prediction surface term (``"surface"`` only).
        surface_reference_frame: index of a target frame that shows the neutral face (e.g. 0 when
            every sequence starts at rest): the residuals of the undeformed template against it are
            subtracted from every frame's, cancelling what is left of the sampling bias when the
            target meshing is the same in all frames. None: no correction.
        tangential: unregistered only: weight of the mean squared tangential displacement (along
            the neutral mesh's tangent planes). Chamfer cannot see vertices sliding along the
            surface, so without this term they drift.
        chamfer_frame_chunk: frames per Chamfer chunk.
        chamfer_point_chunk: predicted points per Chamfer chunk.
        normalize: divide the loss by the loss of the neutral mesh (no motion) on the training
            set, so it starts near 1 whatever the data units; motions in metres otherwise give
            losses around 1e-5, where Adam's epsilon slows learning down.
    """

    mse: float = 1.0
    velocity: float = 0.0
    lip: float = 0.0
    chamfer: float = 1.0
    unregistered: Literal["surface", "chamfer"] = "surface"
    surface_k: int = 8
    surface_reverse: float = 0.0
    surface_reference_frame: int | None = None
    tangential: float = 1.0
    chamfer_frame_chunk: int = 8
    chamfer_point_chunk: int = 4096
    normalize: bool = True


@dataclass
class TrainerConfig:
    """Optimisation and bookkeeping.

    Attributes:
        out_dir: run folder (checkpoints, metrics log, config copy).
        epochs: passes over the training set.
        max_steps: stop after this many optimiser steps (None: no limit).
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        lr_schedule: ``"constant"`` or ``"cosine"`` (linear warm-up over the first 10% of the
            steps, then cosine decay to 5% of ``lr``).
        grad_clip: clip the gradient norm to this (after backward; 0 disables).
        accumulate: sequences per optimiser step.
        val_every: validate every this many epochs.
        checkpoint_every: write ``last`` every this many epochs.
        seed: random seed.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        resume: continue from ``out_dir/checkpoints/last`` when present.
        progress: show a progress bar.
        chunk_frames: decoder frames per chunk in training (None: automatic).
    """

    out_dir: str = "runs/default"
    epochs: int = 200
    max_steps: int | None = None
    lr: float = 1e-4
    weight_decay: float = 0.0
    lr_schedule: Literal["constant", "cosine"] = "constant"
    grad_clip: float = 10.0
    accumulate: int = 1
    val_every: int = 10
    checkpoint_every: int = 1
    seed: int = 0
    device: str = "auto"
    resume: bool = True
    progress: bool = True
    chunk_frames: int | None = None


@dataclass
class ExperimentConfig:
    """Everything ``meshtalk train`` needs."""

    model: TalkingHeadConfig = field(default_factory=TalkingHeadConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainerConfig = field(default_factory=TrainerConfig)


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read an :class:`ExperimentConfig` from YAML (unknown keys are errors)."""
    return load_yaml(ExperimentConfig, path)
