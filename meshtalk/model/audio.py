"""Speech encoders: Hugging Face wav2vec2 / HuBERT, or a small wav2vec2-style encoder from scratch.

All encoders take a 16 kHz mono waveform and return one feature vector per *motion* frame:
the CNN features (about 49.8 per second) are linearly resampled to exactly ``num_frames`` before
the transformer (as in the reference), so the output length always equals the number of motion
frames whatever the frame rate (25, 30, 60 fps, ...).

Pretrained encoders come from a hub id or a local folder written by ``save_pretrained``; their
CNN is frozen and their transformer frozen or fine-tuned. Without network access a hub id that
is not in the local cache raises a one-line :class:`~meshtalk.errors.MeshtalkError` that says how
to provide a local folder. The ``scratch`` kind builds a tiny randomly initialised
``Wav2Vec2Model`` trained with the rest of the network; the ``logmel`` kind is a log-mel
spectrogram front end with a conv stack (:class:`meshtalk.model.logmel.LogMelEncoder`), also
trained from scratch and computed without any audio library.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from meshtalk.errors import MeshtalkError
from meshtalk.model.config import AudioEncoderConfig

logger = logging.getLogger(__name__)

#: Sample rate every encoder expects.
SAMPLE_RATE = 16_000


def normalize_waveform(waveform: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Zero-mean, unit-variance normalisation per utterance (what ``Wav2Vec2FeatureExtractor`` does).

    Args:
        waveform: (B, S) audio.

    Returns:
        (B, S) normalised audio (silence stays zero).
    """
    mean = waveform.mean(dim=-1, keepdim=True)
    var = waveform.var(dim=-1, keepdim=True, unbiased=False)
    return (waveform - mean) / torch.sqrt(var + eps)


def num_motion_frames(n_samples: int, fps: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Number of motion frames covering ``n_samples`` of audio at ``fps`` (at least 1)."""
    return max(1, int(round(n_samples / sample_rate * fps)))


def _scratch_hf_config(cfg: AudioEncoderConfig):
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        hidden_size=cfg.scratch_hidden,
        num_hidden_layers=cfg.scratch_layers,
        num_attention_heads=cfg.scratch_heads,
        intermediate_size=4 * cfg.scratch_hidden,
        conv_dim=(cfg.scratch_conv_dim,) * 7,
        num_conv_pos_embeddings=32,
        num_conv_pos_embedding_groups=max(1, math.gcd(16, cfg.scratch_hidden)),
        mask_time_prob=0.0,
        layerdrop=0.0,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        feat_proj_dropout=0.0,
        vocab_size=4,
    )


def _model_classes(kind: str):
    from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model

    if kind == "hubert":
        return HubertConfig, HubertModel
    return Wav2Vec2Config, Wav2Vec2Model


def _load_pretrained(kind: str, source: str):
    _, model_cls = _model_classes(kind)
    path = Path(source).expanduser()
    looks_like_path = path.exists() or source.startswith((".", "/", "~")) or source.count("/") > 1
    if looks_like_path and not path.is_dir():
        raise MeshtalkError(
            f"audio encoder folder not found: {source}; pass a folder written by "
            f"save_pretrained (config.json + weights), e.g. --audio-encoder /path/to/hubert-base"
        )
    try:
        return model_cls.from_pretrained(str(path) if path.is_dir() else source)
    except (OSError, ValueError, EnvironmentError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MeshtalkError(
            f"cannot load audio encoder {source!r} ({first[:120]}); without network access, "
            f"save it once where the hub is reachable (AutoModel.from_pretrained('{source}')"
            f".save_pretrained('DIR')) and pass the local folder: --audio-encoder DIR"
        ) from None


class AudioEncoder(nn.Module):
    """A wav2vec2-family encoder with frame-rate alignment to the motion frames.

    Args:
        config: encoder configuration; ``config.hf_config`` is filled in with the Hugging Face
            config of the built model.
        load_pretrained: load weights from ``config.source`` (set ``False`` when the weights
            come from a meshtalk checkpoint; the architecture is then rebuilt from
            ``config.hf_config`` without touching the hub or the folder).

    Raises:
        MeshtalkError: if a pretrained encoder cannot be found.
    """

    def __init__(self, config: AudioEncoderConfig, *, load_pretrained: bool = True):
        super().__init__()
        self.config = config
        if config.kind == "logmel":
            from meshtalk.model.logmel import LogMelEncoder

            self.backbone = LogMelEncoder(config.logmel_bins, config.logmel_channels, config.logmel_conv_layers,
                                          config.logmel_layers, config.logmel_heads, SAMPLE_RATE)
            config.hf_config = None
            self.min_samples = self.backbone.min_samples
            self.out_channels = self.backbone.out_channels
            return
        if config.kind == "scratch":
            hf_cfg = _scratch_hf_config(config) if config.hf_config is None else None
            if hf_cfg is None:
                cfg_cls, _ = _model_classes("wav2vec2")
                hf_cfg = cfg_cls.from_dict(config.hf_config)
            _, model_cls = _model_classes("wav2vec2")
            self.backbone = model_cls(hf_cfg)
        elif config.kind in ("wav2vec2", "hubert"):
            if load_pretrained or config.hf_config is None:
                if not config.source:
                    raise MeshtalkError(
                        f"audio encoder kind {config.kind!r} needs a source: a hub id or a local "
                        f"folder (--audio-encoder PATH_OR_ID)"
                    )
                self.backbone = _load_pretrained(config.kind, config.source)
            else:
                cfg_cls, model_cls = _model_classes(config.kind)
                self.backbone = model_cls(cfg_cls.from_dict(config.hf_config))
        else:
            raise MeshtalkError(
                f"unknown audio encoder kind {config.kind!r} (wav2vec2, hubert, scratch, logmel)")
        config.hf_config = self._json_config(self.backbone.config)
        # No SpecAugment-style masking inside: the motion targets are not masked.
        self.backbone.config.mask_time_prob = 0.0
        self.backbone.config.mask_feature_prob = 0.0
        if config.kind != "scratch":
            for p in self.backbone.feature_extractor.parameters():
                p.requires_grad_(False)
            if config.freeze_transformer:
                for p in self.backbone.parameters():
                    p.requires_grad_(False)
        kernels = self.backbone.config.conv_kernel
        strides = self.backbone.config.conv_stride
        rf, jump = 1, 1
        for k, s in zip(kernels, strides):
            rf += (k - 1) * jump
            jump *= s
        #: Fewest samples the CNN accepts (its receptive field); shorter audio is zero-padded.
        self.min_samples = rf
        #: Output channels per frame.
        self.out_channels = int(self.backbone.config.hidden_size)

    @staticmethod
    def _json_config(hf_config) -> dict[str, Any]:
        d = hf_config.to_dict()
        return {k: v for k, v in d.items() if not k.startswith("_") and k not in ("transformers_version",)}

    def forward(self, waveform: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Encode speech into one feature per motion frame.

        Args:
            waveform: (B, S) or (S,) 16 kHz mono audio (any scale; normalised here).
            num_frames: T, the number of motion frames to produce.

        Returns:
            (B, T, C) features, ``C = out_channels``.
        """
        if waveform.dim() == 1:
            waveform = waveform[None]
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if waveform.shape[-1] < self.min_samples:
            pad = self.min_samples - waveform.shape[-1]
            waveform = F.pad(waveform, (pad // 2, pad - pad // 2))
        if self.config.kind == "logmel":
            return self.backbone(waveform, num_frames)
        x = normalize_waveform(waveform)
        bb = self.backbone
        feats = bb.feature_extractor(x)                                     # (B, C_cnn, F)
        feats = F.interpolate(feats, size=num_frames, mode="linear", align_corners=True)
        feats = feats.transpose(1, 2)                                       # (B, T, C_cnn)
        projected = bb.feature_projection(feats)
        hidden = projected[0] if isinstance(projected, tuple) else projected
        out = bb.encoder(hidden)
        return out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
