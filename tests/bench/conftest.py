"""Fixtures of the benchmark tests: a tiny randomly initialised model on disk, speech engines."""

from __future__ import annotations

import shutil

import pytest


def _voice() -> str | None:
    try:
        from meshtalk.data.synth.speech import list_voices
    except ImportError:  # pragma: no cover - synth extra missing
        return None
    voices = list_voices()
    return "flite:awb" if "flite:awb" in voices else (voices[0] if voices else None)


@pytest.fixture(scope="session")
def voice() -> str:
    """An installed voice (the tests skip, naming the fix, without one)."""
    v = _voice()
    if v is None or shutil.which("espeak-ng") is None and not v.startswith(("flite", "festival")):
        pytest.skip("no speech engine installed (make setup-system installs espeak-ng, flite, festival)")
    return v


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A folder with a randomly initialised small TalkingHead (``model.safetensors``)."""
    import torch

    from meshtalk.model import TalkingHead
    from meshtalk.model.checkpoint import save_model
    from meshtalk.model.config import AudioEncoderConfig, DiffusionNetConfig, TalkingHeadConfig, TemporalConfig

    torch.manual_seed(0)
    trunk = DiffusionNetConfig(width=8, n_blocks=1, mlp_hidden=(8,))
    cfg = TalkingHeadConfig(
        k_eig=16, geometry_width=8, audio_width=8, fps=30.0, encoder=trunk,
        decoder=DiffusionNetConfig(width=8, n_blocks=1, mlp_hidden=(8,)),
        audio=AudioEncoderConfig(kind="scratch", scratch_hidden=16, scratch_layers=1, scratch_heads=2,
                                 scratch_conv_dim=16),
        temporal=TemporalConfig(kind="bilstm", layers=1, hidden=8),
    )
    model = TalkingHead(cfg, load_pretrained_audio=False).eval()
    folder = tmp_path_factory.mktemp("tiny-model")
    save_model(model, folder / "model.safetensors")
    return folder
