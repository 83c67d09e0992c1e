"""The talking-head model: any neutral mesh + speech -> per-frame vertex positions.

::

    neutral xyz (V, 3) --geometry encoder (DiffusionNet)--> geometry code (V, Cg)   [once per mesh]
    audio (S,) --encoder (wav2vec2/HuBERT/scratch), aligned to T frames--> (T, H)
               --linear--> (T, Ca) --temporal module (bi-LSTM/GRU/transformer/none)--> (T, Ct)
    fusion(geometry code, audio code) (T, V, W) --decoder (DiffusionNet)--> displacement (T, V, 3)
    output = neutral + displacement

The decoder's last layer starts at zero, so an untrained model returns the neutral mesh.
Frames are decoded independently (the temporal context comes from the audio side), in chunks
of ``chunk_frames`` so memory stays bounded whatever the sequence length; the geometry code is
computed once per mesh and reused across chunks and windows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from meshtalk.model.audio import AudioEncoder
from meshtalk.model.blocks import DiffusionNet
from meshtalk.model.config import TalkingHeadConfig, TemporalConfig

if TYPE_CHECKING:  # pragma: no cover
    from meshtalk.geometry import SpectralOperators

#: Activation budget used to pick a default decode chunk (bytes). Small chunks keep the
#: per-block tensors cache-resident, which is faster on CPU than large batches.
DEFAULT_DECODE_BUDGET = 96 * 2**20


def default_chunk_frames(n_verts: int, width: int, *, budget_bytes: int = DEFAULT_DECODE_BUDGET) -> int:
    """Frames decoded at once so that decoder activations stay within ``budget_bytes``.

    About 16 float32 tensors of shape (frames, V, width) are alive at the peak of a block.
    """
    per_frame = max(1, n_verts) * max(1, width) * 4 * 16
    return int(min(64, max(1, budget_bytes // per_frame)))


class SinusoidalPosition(nn.Module):
    """Adds fixed sinusoidal position codes to a (B, T, C) sequence."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.arange(x.shape[1], device=x.device, dtype=x.dtype)[:, None]
        i = torch.arange(0, self.channels, 2, device=x.device, dtype=x.dtype)
        freq = torch.exp(-math.log(10000.0) * i / self.channels)
        pe = torch.zeros(x.shape[1], self.channels, device=x.device, dtype=x.dtype)
        pe[:, 0::2] = torch.sin(t * freq)
        pe[:, 1::2] = torch.cos(t * freq)[:, : self.channels // 2]
        return x + pe[None]


class TemporalModule(nn.Module):
    """Temporal context over the per-frame audio code.

    Args:
        in_channels: channels of the input sequence.
        config: which module and its size.
    """

    def __init__(self, in_channels: int, config: TemporalConfig):
        super().__init__()
        self.kind = config.kind
        if config.kind in ("bilstm", "gru"):
            if config.hidden % 2:
                raise ValueError(f"temporal.hidden must be even for a bidirectional {config.kind}")
            rnn = nn.LSTM if config.kind == "bilstm" else nn.GRU
            self.net = rnn(in_channels, config.hidden // 2, num_layers=config.layers,
                           batch_first=True, bidirectional=True)
            self.out_channels = config.hidden
        elif config.kind == "transformer":
            layer = nn.TransformerEncoderLayer(in_channels, config.heads, 4 * in_channels,
                                               dropout=0.0, batch_first=True)
            self.position = SinusoidalPosition(in_channels)
            self.net = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
            self.out = nn.Linear(in_channels, config.hidden)
            self.out_channels = config.hidden
        elif config.kind == "none":
            self.net = nn.Identity()
            self.out_channels = in_channels
        else:
            raise ValueError(f"unknown temporal module {config.kind!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, T, C_in). Returns: (B, T, out_channels)."""
        if self.kind in ("bilstm", "gru"):
            return self.net(x)[0]
        if self.kind == "transformer":
            return self.out(self.net(self.position(x)))
        return x


class Fusion(nn.Module):
    """Combine the per-vertex geometry code with the per-frame audio code.

    ``concat`` is a linear layer on ``[geometry_v, audio_t]``, evaluated as
    ``W_g geometry_v + W_a audio_t + b`` so the (T, V, Cg + Ca) concatenation is never formed.
    ``film`` modulates: ``(W_g geometry_v) * (1 + gamma(audio_t)) + beta(audio_t)``.

    Args:
        geometry_channels: Cg.
        audio_channels: Ca.
        out_channels: W, the decoder width.
        kind: ``"concat"`` or ``"film"``.
    """

    def __init__(self, geometry_channels: int, audio_channels: int, out_channels: int, kind: str = "concat"):
        super().__init__()
        if kind not in ("concat", "film"):
            raise ValueError(f"unknown fusion {kind!r}")
        self.kind = kind
        self.geometry = nn.Linear(geometry_channels, out_channels)
        self.audio = nn.Linear(audio_channels, out_channels * (2 if kind == "film" else 1),
                               bias=kind == "film")

    def forward(self, geometry_code: torch.Tensor, audio_code: torch.Tensor) -> torch.Tensor:
        """Args: geometry_code: (V, Cg); audio_code: (T, Ca). Returns: (V, T, W), vertex-major."""
        g = self.geometry(geometry_code)[:, None]                           # (V, 1, W)
        a = self.audio(audio_code)[None]                                    # (1, T, W or 2W)
        if self.kind == "concat":
            return g + a
        gamma, beta = a.chunk(2, dim=-1)
        return g * (1 + gamma) + beta


class TalkingHead(nn.Module):
    """Audio-conditioned, topology-agnostic deformation of a neutral face mesh.

    Args:
        config: the architecture (defaults: the reference's shape).
        load_pretrained_audio: load the pretrained audio encoder from ``config.audio.source``
            (``False`` when weights come from a checkpoint).
    """

    def __init__(self, config: TalkingHeadConfig | None = None, *, load_pretrained_audio: bool = True):
        super().__init__()
        config = config or TalkingHeadConfig()
        self.config = config
        self.geometry_encoder = DiffusionNet(config.in_channels + (3 if config.normal_input else 0),
                                             config.geometry_width, config.encoder)
        self.audio_encoder = AudioEncoder(config.audio, load_pretrained=load_pretrained_audio)
        self.audio_projection = nn.Linear(self.audio_encoder.out_channels, config.audio_width)
        self.temporal = TemporalModule(config.audio_width, config.temporal)
        self.fusion = Fusion(config.geometry_width, self.temporal.out_channels, config.decoder.width,
                             config.fusion)
        self.decoder = DiffusionNet(config.decoder.width, 3, config.decoder, zero_last=True,
                                    with_first_lin=False)

    # ----------------------------------------------------------------------------------- parts

    def encode_geometry(self, neutral: torch.Tensor, ops: SpectralOperators) -> torch.Tensor:
        """Per-vertex code of the neutral mesh; compute once per mesh and reuse.

        Args:
            neutral: (V, 3) neutral vertex positions.
            ops: operators of the neutral mesh (``k_eig`` eigenpairs or more); with
                ``config.normal_input`` its frame normals ``ops.frames[:, 2]`` are input too.

        Returns:
            (V, Cg) geometry code.
        """
        if neutral.dim() != 2 or neutral.shape[-1] != self.config.in_channels:
            raise ValueError(f"neutral must be (V, {self.config.in_channels}), got {tuple(neutral.shape)}")
        if self.config.normal_input:
            normals = ops.frames[:, 2].to(device=neutral.device, dtype=neutral.dtype)
            neutral = torch.cat([neutral, normals], dim=-1)
        return self.geometry_encoder(neutral, ops)

    def encode_audio(self, waveform: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Per-frame audio code.

        Args:
            waveform: (B, S) or (S,) 16 kHz mono audio.
            num_frames: T.

        Returns:
            (B, T, Ct) audio code after projection and the temporal module.
        """
        feats = self.audio_encoder(waveform, num_frames)
        return self.temporal(self.audio_projection(feats))

    def decode(
        self,
        geometry_code: torch.Tensor,
        audio_code: torch.Tensor,
        ops: SpectralOperators,
        *,
        chunk_frames: int | None = None,
    ) -> torch.Tensor:
        """Per-vertex displacements for every frame, decoded in chunks of frames.

        Args:
            geometry_code: (V, Cg) from :meth:`encode_geometry`.
            audio_code: (T, Ct) from :meth:`encode_audio` (one sequence).
            ops: operators of the neutral mesh.
            chunk_frames: frames per chunk (default: from a memory budget and V).

        Returns:
            (T, V, 3) displacements.
        """
        n_frames, n_verts = audio_code.shape[0], geometry_code.shape[0]
        chunk = chunk_frames or default_chunk_frames(n_verts, self.config.decoder.width)
        use_ckpt = self.config.gradient_checkpointing and torch.is_grad_enabled() and self.training
        if not torch.is_grad_enabled():
            # inference: fill one preallocated (T, V, 3) tensor (no list + concatenation copy)
            out = geometry_code.new_empty((n_frames, n_verts, 3))
            for start in range(0, n_frames, chunk):
                out[start:start + chunk] = self._decode_chunk(geometry_code, audio_code[start:start + chunk], ops)
            return out
        outs = []
        for start in range(0, n_frames, chunk):
            a = audio_code[start:start + chunk]
            if use_ckpt:
                outs.append(checkpoint(self._decode_chunk, geometry_code, a, ops, use_reentrant=False))
            else:
                outs.append(self._decode_chunk(geometry_code, a, ops))
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=0)

    def _decode_chunk(self, geometry_code: torch.Tensor, audio_code: torch.Tensor, ops) -> torch.Tensor:
        out = self.decoder.forward_vertex_major(self.fusion(geometry_code, audio_code), ops)  # (V, T, 3)
        return out.transpose(0, 1)

    def forward(
        self,
        neutral: torch.Tensor,
        ops: SpectralOperators,
        waveform: torch.Tensor,
        num_frames: int,
        *,
        chunk_frames: int | None = None,
    ) -> torch.Tensor:
        """Animate one neutral mesh with one utterance.

        Args:
            neutral: (V, 3) neutral vertices.
            ops: operators of the neutral mesh.
            waveform: (S,) or (1, S) 16 kHz mono audio.
            num_frames: T, number of motion frames.
            chunk_frames: frames decoded at once.

        Returns:
            (T, V, 3) animated vertex positions ``neutral + displacement``.
        """
        geometry_code = self.encode_geometry(neutral, ops)
        audio_code = self.encode_audio(waveform.reshape(1, -1), num_frames)[0]
        return neutral[None] + self.decode(geometry_code, audio_code, ops, chunk_frames=chunk_frames)
