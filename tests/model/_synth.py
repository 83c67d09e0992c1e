"""A tiny synthetic talking-face task for model and training tests.

The "face" is an ellipsoid; the "mouth" is a bump near the lower front that opens along the
normal with the opening a(t) of the speech: ``target_t = neutral + a(t) * w(x) * n(x)``. The
audio is a voiced sound whose pitch and loudness follow a(t), exactly zero when a(t) = 0, so
silence must map to the neutral mesh.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from meshtalk.data.sequence import TalkingSequence
from meshtalk.model.config import AudioEncoderConfig, DiffusionNetConfig, TalkingHeadConfig, TemporalConfig

SR = 16_000
FPS = 30.0
MOUTH = np.array([0.0, -0.45, 0.5])


def tiny_config(k: int = 24, width: int = 16, **overrides) -> TalkingHeadConfig:
    """A fast configuration of the real architecture (with the spectral taper new models use)."""
    trunk = DiffusionNetConfig(width=width, n_blocks=2, mlp_hidden=(width, width), spectral_taper=0.3)
    cfg = TalkingHeadConfig(
        k_eig=k, geometry_width=width, audio_width=width, fps=FPS,
        encoder=trunk,
        decoder=DiffusionNetConfig(width=width, n_blocks=2, mlp_hidden=(width, width), spectral_taper=0.3),
        audio=AudioEncoderConfig(kind="scratch", scratch_hidden=32, scratch_layers=1, scratch_heads=2,
                                 scratch_conv_dim=32),
        temporal=TemporalConfig(kind="bilstm", layers=1, hidden=width),
    )
    for k_, v in overrides.items():
        setattr(cfg, k_, v)
    return cfg


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    n = np.zeros_like(verts)
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    for i in range(3):
        np.add.at(n, faces[:, i], fn)
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def mouth_field(verts: np.ndarray, faces: np.ndarray, amplitude: float = 0.15) -> np.ndarray:
    """(V, 3) displacement at full loudness: a smooth bump along the outward normal."""
    w = amplitude * np.exp(-np.sum((verts - MOUTH) ** 2, axis=1) / 0.15)
    return w[:, None] * vertex_normals(verts, faces)


def envelope(n_frames: int, seed: int, *, silent: bool = False) -> np.ndarray:
    """(T,) loudness in [0, 1]: syllable-like bumps separated by exact silences."""
    a = np.zeros(n_frames)
    if silent:
        return a
    rng = np.random.default_rng(seed)
    t = 2
    while t < n_frames - 3:
        length = int(rng.integers(4, 10))
        peak = rng.uniform(0.4, 1.0)
        end = min(t + length, n_frames - 1)
        a[t:end] = peak * np.sin(np.linspace(0, np.pi, end - t + 2)[1:-1])
        t = end + int(rng.integers(2, 6))
    return a


def audio_from_envelope(a: np.ndarray, seed: int = 0) -> np.ndarray:
    """(S,) 16 kHz voiced sound whose pitch and loudness follow a(t) (exact zeros where a = 0).

    The opening is carried by the spectrum (pitch rises with a), not only by the loudness:
    wav2vec2-style encoders normalise each frame's features, which hides pure loudness.
    """
    n = int(round(len(a) / FPS * SR))
    t = np.arange(n) / SR
    amp = np.interp(t * FPS, np.arange(len(a)), a)
    f0 = 110 + 20 * np.random.default_rng(seed).random() + 500 * amp
    phase = 2 * np.pi * np.cumsum(f0) / SR
    gain = np.minimum(1.0, 4.0 * amp)
    return (gain * (np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase))).astype(np.float32)


def make_sequence(verts, faces, ops, seed: int, n_frames: int = 45, *, silent: bool = False,
                  target_verts=None, target_faces=None, name: str | None = None) -> TalkingSequence:
    """A registered sequence, or unregistered when ``target_verts``/``target_faces`` are given
    (the targets are then the *other* meshing deformed by the same field)."""
    a = envelope(n_frames, seed, silent=silent)
    audio = audio_from_envelope(a, seed)
    if target_verts is None:
        target = verts[None] + a[:, None, None] * mouth_field(verts, faces)[None]
        lengths = None
    else:
        target = target_verts[None] + a[:, None, None] * mouth_field(target_verts, target_faces)[None]
        lengths = np.full(n_frames, len(target_verts))
    return TalkingSequence(name=name or f"seq{seed}", subject="ellipsoid", audio=audio, fps=FPS,
                           neutral=verts.astype(np.float32), faces=faces, target=target.astype(np.float32),
                           target_lengths=lengths, dataset="synthetic", ops=ops)


_TRAINED: dict = {}


def trained_model(tmp_root=None):
    """Train the tiny model once per test process; returns ``(model, info)``.

    ``info`` holds the mesh, operators, training sequences and the per-epoch training losses.
    Several test modules share this run (overfit, topology agnosticism, silence, seams).
    """
    if "model" in _TRAINED:
        return _TRAINED["model"], _TRAINED["info"]
    import json
    import tempfile

    import torch

    from meshtalk.model import TalkingHead
    from meshtalk.train import ExperimentConfig, Trainer
    from tests.model._ops import ellipsoid, make_ops

    torch.manual_seed(0)
    verts, faces = ellipsoid(2)
    ops = make_ops(verts, faces, 24)
    train = [make_sequence(verts, faces, ops, 0, n_frames=30)]
    cfg = ExperimentConfig(model=tiny_config(fusion="film"))
    out = Path(tempfile.mkdtemp(prefix="meshtalk-overfit-", dir=tmp_root))
    cfg.train.out_dir = str(out)
    cfg.train.epochs = 80
    cfg.train.lr = 1e-2
    cfg.train.grad_clip = 1.0
    cfg.train.lr_schedule = "cosine"
    cfg.train.progress = False
    cfg.train.resume = False
    cfg.train.val_every = 10_000
    cfg.train.checkpoint_every = 10_000
    model = TalkingHead(cfg.model)
    trainer = Trainer(model, cfg, train)
    initial = trainer.evaluate(train)["loss"]
    trainer.fit()
    final = trainer.evaluate(train)["loss"]
    losses = [json.loads(line)["train_loss"] for line in open(out / "metrics.jsonl")]
    info = {"verts": verts, "faces": faces, "ops": ops, "train": train, "losses": losses, "initial_loss": initial,
            "final_loss": final,
            "out_dir": out, "config": cfg}
    model.eval()
    _TRAINED.update(model=model, info=info)
    return model, info
