"""``meshtalk train --config FILE.yaml``: train a talking-head model (one process, or torchrun)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``train`` subcommand."""
    p = subparsers.add_parser(
        "train",
        help="train a model from a YAML config",
        description="Train a talking-head model. Several GPUs: torchrun --nproc_per_node N -m meshtalk train ...",
    )
    p.add_argument("--config", required=True, type=Path, help="experiment YAML (see configs/)")
    p.add_argument("--out", type=Path, help="run folder (overrides train.out_dir)")
    p.add_argument("--audio-encoder", metavar="PATH_OR_ID",
                   help="wav2vec2/HuBERT hub id or local folder (overrides model.audio.source)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, auto (overrides train.device)")
    p.add_argument("--epochs", type=int, help="overrides train.epochs")
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    p.set_defaults(func=run)


def _load_indices(path: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise MeshtalkError(f"lip vertex file not found: {p}")
    return (np.load(p) if p.suffix == ".npy" else np.loadtxt(p)).astype(np.int64).ravel()


def build_datasets(config):
    """Training and validation datasets of an :class:`ExperimentConfig`."""
    from meshtalk.data.faceformer import FaceFormerDataset
    from meshtalk.data.unregistered import UnregisteredDataset

    d = config.data
    k = config.model.k_eig
    cache = d.operator_cache
    if d.layout == "faceformer":
        train = FaceFormerDataset(d.root, d.dataset, d.train_split, k_eig=k, cache=cache, max_frames=d.max_frames)
        val = (FaceFormerDataset(d.root, d.dataset, d.val_split, k_eig=k, cache=cache, max_frames=d.max_frames)
               if d.val_split else None)
        config.model.fps = train.spec.fps
    else:
        train = UnregisteredDataset(d.root, d.train_split, fps=d.fps, k_eig=k, cache=cache, max_frames=d.max_frames)
        val = (UnregisteredDataset(d.root, d.val_split, fps=d.fps, k_eig=k, cache=cache, max_frames=d.max_frames)
               if d.val_split else None)
        config.model.fps = d.fps
    return train, val


def run(args: argparse.Namespace) -> int:
    from meshtalk.model.talking_head import TalkingHead
    from meshtalk.train.config import load_experiment
    from meshtalk.train.trainer import Trainer

    config = load_experiment(args.config)
    if args.out:
        config.train.out_dir = str(args.out)
    if args.audio_encoder:
        config.model.audio.source = args.audio_encoder
        if config.model.audio.kind == "scratch":
            config.model.audio.kind = "hubert" if "hubert" in args.audio_encoder.lower() else "wav2vec2"
    if args.device:
        config.train.device = args.device
    if args.epochs is not None:
        config.train.epochs = args.epochs
    if args.no_resume:
        config.train.resume = False
    train, val = build_datasets(config)
    lips = _load_indices(config.data.lip_vertices) if config.data.lip_vertices else None
    model = TalkingHead(config.model)
    trainer = Trainer(model, config, train, val, lip_vertices=lips)
    record = trainer.fit()
    if trainer.is_main:
        print(f"trained {trainer.epoch} epoch(s), {trainer.step} step(s); last: {record}; "
              f"checkpoint: {trainer.ckpt_dir / 'last.safetensors'}")
    return 0
