"""Training: losses, the trainer (Adam, checkpoints, resume, validation, DDP) and its config."""

from meshtalk.train.config import DataConfig, ExperimentConfig, LossConfig, TrainerConfig, load_experiment
from meshtalk.train.losses import chamfer_loss, lip_weighted_mse, velocity_loss, vertex_mse
from meshtalk.train.trainer import Trainer, sequence_loss

__all__ = [
    "DataConfig",
    "ExperimentConfig",
    "LossConfig",
    "Trainer",
    "TrainerConfig",
    "chamfer_loss",
    "lip_weighted_mse",
    "load_experiment",
    "sequence_loss",
    "velocity_loss",
    "vertex_mse",
]
