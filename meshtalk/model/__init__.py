"""The model: DiffusionNet blocks on sparse operators, audio encoders, the talking head, checkpoints."""

from meshtalk.model.audio import SAMPLE_RATE, AudioEncoder, num_motion_frames
from meshtalk.model.blocks import DiffusionNet, DiffusionNetBlock
from meshtalk.model.checkpoint import load_model, save_model
from meshtalk.model.config import (
    AudioEncoderConfig,
    DiffusionNetConfig,
    TalkingHeadConfig,
    TemporalConfig,
)
from meshtalk.model.diffusion import LearnedTimeDiffusion
from meshtalk.model.gradients import SpatialGradientFeatures
from meshtalk.model.talking_head import TalkingHead

__all__ = [
    "SAMPLE_RATE",
    "AudioEncoder",
    "AudioEncoderConfig",
    "DiffusionNet",
    "DiffusionNetBlock",
    "DiffusionNetConfig",
    "LearnedTimeDiffusion",
    "SpatialGradientFeatures",
    "TalkingHead",
    "TalkingHeadConfig",
    "TemporalConfig",
    "load_model",
    "num_motion_frames",
    "save_model",
]
