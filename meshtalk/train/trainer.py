"""The training loop: Adam, checkpoints, resume, validation, progress bar, metrics log, DDP.

One step processes one sequence (as the reference does; ``accumulate`` sums several before an
optimiser step). Under ``torchrun`` with several processes the model is wrapped in
``DistributedDataParallel`` and the sequences are sharded by rank; only rank 0 writes files.
A plain ``python``/``meshtalk train`` run is a single process on CPU or one GPU.

Files in ``out_dir``: ``config.yaml`` (the experiment), ``metrics.jsonl`` (one JSON object per
epoch), ``checkpoints/last.safetensors`` + ``last.state.pt`` (optimiser, epoch, step: for
resume) and ``checkpoints/best.safetensors`` (lowest validation loss).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from meshtalk.data.sequence import TalkingSequence
from meshtalk.errors import MeshtalkError
from meshtalk.model.checkpoint import read_checkpoint, save_model
from meshtalk.model.config import save_yaml
from meshtalk.model.talking_head import TalkingHead
from meshtalk.train.config import ExperimentConfig, LossConfig
from meshtalk.train.losses import chamfer_loss, lip_weighted_mse, surface_loss, velocity_loss, vertex_mse
from meshtalk.train.surface_distance import local_quadric_residual

logger = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> this rank's CUDA device when available, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    return torch.device(name)


def sequence_loss(
    model: nn.Module,
    seq: TalkingSequence,
    loss_cfg: LossConfig,
    device: torch.device,
    *,
    lip_weights: torch.Tensor | None = None,
    chunk_frames: int | None = None,
    loss_scale: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one sequence and its parts.

    Args:
        model: a :class:`TalkingHead` (or a DDP wrapper of one).
        seq: the sequence (registered or unregistered).
        loss_cfg: loss weights.
        device: where to compute.
        lip_weights: (V,) weights for the lip term (registered only).
        chunk_frames: decoder chunk size.
        loss_scale: factor applied to the total loss (the parts are reported unscaled).

    Returns:
        ``(loss, parts)`` with parts as floats in data units (``vertex_l2`` is the mean vertex
        distance for registered data).
    """
    ops = seq.ops.to(device)
    neutral = torch.as_tensor(seq.neutral, dtype=torch.float32, device=device)
    audio = torch.as_tensor(seq.audio, dtype=torch.float32, device=device)
    target = torch.as_tensor(seq.target, dtype=torch.float32, device=device)
    pred = model(neutral, ops, audio, seq.num_frames, chunk_frames=chunk_frames)
    parts: dict[str, torch.Tensor] = {}
    if seq.registered:
        if loss_cfg.mse:
            parts["mse"] = loss_cfg.mse * vertex_mse(pred, target)
        if loss_cfg.velocity:
            parts["velocity"] = loss_cfg.velocity * velocity_loss(pred, target)
        if loss_cfg.lip and lip_weights is not None:
            parts["lip"] = loss_cfg.lip * lip_weighted_mse(pred, target, lip_weights.to(device))
    else:
        lengths = torch.as_tensor(seq.target_lengths, device=device)
        name = "surface" if loss_cfg.unregistered == "surface" else "chamfer"
        parts[name] = loss_cfg.chamfer * unregistered_loss(pred, target, lengths, neutral, loss_cfg)
        if loss_cfg.tangential:
            normals = ops.frames[:, 2]                                          # (V, 3)
            disp = pred - neutral[None]
            tangential = disp - (disp * normals).sum(-1, keepdim=True) * normals
            parts["tangential"] = loss_cfg.tangential * tangential.pow(2).sum(-1).mean()
    if not parts:
        raise MeshtalkError("all loss weights are zero for this data; set loss.mse or loss.chamfer")
    loss = sum(parts.values()) * loss_scale
    out = {k: float(v.detach()) for k, v in parts.items()}
    if seq.registered:
        out["vertex_l2"] = float((pred.detach() - target).norm(dim=-1).mean())
    return loss, out


def neutral_loss(seq: TalkingSequence, loss_cfg: LossConfig) -> float:
    """The loss of predicting the neutral mesh for every frame (the scale of the task)."""
    neutral = torch.as_tensor(seq.neutral, dtype=torch.float32)
    target = torch.as_tensor(seq.target, dtype=torch.float32)
    pred = neutral[None].expand(len(target), -1, -1)
    if seq.registered:
        value = loss_cfg.mse * vertex_mse(pred, target) + loss_cfg.velocity * velocity_loss(pred, target)
    else:
        value = loss_cfg.chamfer * unregistered_loss(pred, target, torch.as_tensor(seq.target_lengths),
                                                     neutral, loss_cfg)
    return float(value)


def unregistered_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    lengths: torch.Tensor,
    neutral: torch.Tensor,
    loss_cfg: LossConfig,
) -> torch.Tensor:
    """The configured unregistered loss (``loss_cfg.unregistered``), unweighted.

    Args:
        pred: (T, V, 3) predicted positions.
        target: (T, P, 3) padded target points.
        lengths: (T,) valid target points per frame.
        neutral: (V, 3) the undeformed template (for the neutral-frame bias correction).
        loss_cfg: the loss section of the experiment.

    Raises:
        MeshtalkError: unknown loss kind or a reference frame outside the sequence.
    """
    if loss_cfg.unregistered == "chamfer":
        return chamfer_loss(pred, target, lengths, frame_chunk=loss_cfg.chamfer_frame_chunk,
                            point_chunk=loss_cfg.chamfer_point_chunk)
    if loss_cfg.unregistered != "surface":
        raise MeshtalkError(f"loss.unregistered must be 'surface' or 'chamfer', got {loss_cfg.unregistered!r}")
    reference = None
    ref = loss_cfg.surface_reference_frame
    if ref is not None:
        if not -len(target) <= ref < len(target):
            raise MeshtalkError(f"loss.surface_reference_frame={ref} is outside a {len(target)}-frame sequence")
        ref %= len(target)
        n = int(lengths[ref])
        with torch.no_grad():
            reference = local_quadric_residual(neutral[None], target[ref:ref + 1, :n],
                                               k=loss_cfg.surface_k,
                                               point_chunk=loss_cfg.chamfer_point_chunk)[0]
    return surface_loss(pred, target, lengths, k=loss_cfg.surface_k, reverse=loss_cfg.surface_reverse,
                        reference=reference, frame_chunk=loss_cfg.chamfer_frame_chunk,
                        point_chunk=loss_cfg.chamfer_point_chunk)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class Trainer:
    """Fit a :class:`TalkingHead` on sequence datasets.

    Args:
        model: the model (its config is saved with every checkpoint).
        config: the experiment (``loss`` and ``train`` sections are used here).
        train_set: indexable of :class:`TalkingSequence`.
        val_set: optional validation sequences.
        lip_vertices: optional (L,) lip vertex indices for the lip-weighted loss.
    """

    def __init__(
        self,
        model: TalkingHead,
        config: ExperimentConfig,
        train_set,
        val_set=None,
        *,
        lip_vertices: np.ndarray | None = None,
    ):
        self.config = config
        self.cfg = config.train
        self.train_set = train_set
        self.val_set = val_set
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = resolve_device(self.cfg.device)
        self.out_dir = Path(self.cfg.out_dir)
        self.ckpt_dir = self.out_dir / "checkpoints"
        torch.manual_seed(self.cfg.seed)
        self.model = model.to(self.device)
        self._fill_template_stats()
        self.ddp_model: nn.Module = self.model
        if self.world_size > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            self.ddp_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        self.epoch = 0
        self.step = 0
        self.best_val = math.inf
        self.loss_scale = 1.0
        if config.loss.normalize:
            values = [neutral_loss(train_set[i], config.loss) for i in range(min(len(train_set), 8))]
            positive = [v for v in values if v > 0]
            if positive:
                self.loss_scale = 1.0 / float(np.mean(positive))
        self.lip_weights = None
        if lip_vertices is not None:
            n_verts = len(train_set[0].neutral)
            w = torch.zeros(n_verts)
            w[torch.as_tensor(np.asarray(lip_vertices, np.int64))] = 1.0
            self.lip_weights = w

    @property
    def is_main(self) -> bool:
        """Rank 0 (the only process that writes files)."""
        return self.rank == 0

    def _fill_template_stats(self) -> None:
        cfg = self.model.config
        if cfg.template_extent is not None:
            return
        ext, ctr = [], []
        for i in range(min(len(self.train_set), 16)):
            v = np.asarray(self.train_set[i].neutral, np.float64)
            ext.append(v.max(0) - v.min(0))
            ctr.append((v.max(0) + v.min(0)) / 2)
        cfg.template_extent = tuple(float(x) for x in np.mean(ext, 0))
        cfg.template_center = tuple(float(x) for x in np.mean(ctr, 0))

    # ------------------------------------------------------------------------------ state

    def save(self, name: str = "last") -> Path:
        """Write ``checkpoints/<name>.safetensors`` and, for ``last``, the resume state."""
        path = save_model(self.model, self.ckpt_dir / f"{name}.safetensors",
                          metadata={"epoch": str(self.epoch), "step": str(self.step)})
        if name == "last":
            _atomic_torch_save({"optimizer": self.optimizer.state_dict(), "epoch": self.epoch,
                                "step": self.step, "best_val": self.best_val,
                                "torch_rng": torch.get_rng_state()},
                               self.ckpt_dir / "last.state.pt")
        return path

    def resume(self) -> bool:
        """Load ``checkpoints/last`` if present; returns whether it did."""
        weights = self.ckpt_dir / "last.safetensors"
        state_path = self.ckpt_dir / "last.state.pt"
        if not (weights.is_file() and state_path.is_file()):
            return False
        _, tensors, _ = read_checkpoint(weights)
        self.model.load_state_dict(tensors)
        try:
            state = torch.load(state_path, map_location=self.device, weights_only=False)
        except Exception as exc:
            raise MeshtalkError(f"{state_path}: cannot read the resume state ({exc}); delete it to start over") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.best_val = float(state.get("best_val", math.inf))
        logger.info("resumed from %s at epoch %d, step %d", weights, self.epoch, self.step)
        return True

    # ------------------------------------------------------------------------------- loop

    def _log(self, record: dict[str, Any]) -> None:
        if not self.is_main:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with open(self.out_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def evaluate(self, dataset) -> dict[str, float]:
        """Mean loss parts over a dataset, without gradients."""
        self.model.eval()
        sums: dict[str, float] = {}
        with torch.no_grad():
            for i in range(len(dataset)):
                loss, parts = sequence_loss(self.model, dataset[i], self.config.loss, self.device,
                                            lip_weights=self.lip_weights, chunk_frames=self.cfg.chunk_frames,
                                            loss_scale=self.loss_scale)
                parts["loss"] = float(loss)
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v
        self.model.train()
        return {k: v / max(1, len(dataset)) for k, v in sums.items()}

    def _set_lr(self, steps_per_epoch: int) -> None:
        if self.cfg.lr_schedule != "cosine":
            return
        total = self.cfg.epochs * max(1, math.ceil(steps_per_epoch / self.cfg.accumulate))
        if self.cfg.max_steps is not None:
            total = min(total, self.cfg.max_steps)
        warmup = max(1, int(0.1 * total))
        if self.step < warmup:
            lr = self.cfg.lr * (self.step + 1) / warmup
        else:
            frac = min(1.0, (self.step - warmup) / max(1, total - warmup))
            lr = self.cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def fit(self) -> dict[str, Any]:
        """Train for ``epochs`` (or ``max_steps``), validating and checkpointing as configured.

        Returns:
            The last metrics record (``train_loss``, ``val_loss`` when validated, ``epoch``, ``step``).
        """
        from tqdm.auto import tqdm

        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_yaml(self.config, self.out_dir / "config.yaml")
        if self.cfg.resume:
            self.resume()
        record: dict[str, Any] = {}
        self.model.train()
        n = len(self.train_set)
        while self.epoch < self.cfg.epochs:
            if self.cfg.max_steps is not None and self.step >= self.cfg.max_steps:
                break
            order = list(range(n))
            random.Random(self.cfg.seed + self.epoch).shuffle(order)
            order = order[self.rank::self.world_size] if self.world_size > 1 else order
            t0 = time.time()
            total, count = 0.0, 0
            bar = tqdm(order, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}", leave=False,
                       disable=not (self.cfg.progress and self.is_main))
            self.optimizer.zero_grad(set_to_none=True)
            for j, idx in enumerate(bar):
                loss, _ = sequence_loss(self.ddp_model, self.train_set[idx], self.config.loss, self.device,
                                        lip_weights=self.lip_weights, chunk_frames=self.cfg.chunk_frames,
                                        loss_scale=self.loss_scale)
                if not torch.isfinite(loss):
                    raise MeshtalkError(f"training diverged at step {self.step} (loss {float(loss)}); lower train.lr")
                (loss / self.cfg.accumulate).backward()
                total += loss.item()
                count += 1
                if (j + 1) % self.cfg.accumulate == 0 or j + 1 == len(order):
                    if self.cfg.grad_clip > 0:
                        nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
                    self._set_lr(len(order))
                    self.optimizer.step()
                    self.optimizer.zero_grad(set_to_none=True)
                    self.step += 1
                    bar.set_postfix(loss=f"{total / count:.3g}")
                    if self.cfg.max_steps is not None and self.step >= self.cfg.max_steps:
                        break
            self.epoch += 1
            record = {"epoch": self.epoch, "step": self.step, "train_loss": total / max(1, count),
                      "seconds": round(time.time() - t0, 3)}
            if self.val_set is not None and len(self.val_set) and self.epoch % self.cfg.val_every == 0:
                val = self.evaluate(self.val_set)
                record.update({f"val_{k}": v for k, v in val.items()})
                if self.is_main and val["loss"] < self.best_val:
                    self.best_val = val["loss"]
                    self.save("best")
            self._log(record)
            logger.info("epoch %d: %s", self.epoch, record)
            if self.is_main and (self.epoch % self.cfg.checkpoint_every == 0 or self.epoch == self.cfg.epochs):
                self.save("last")
        if self.is_main and self.step > 0:
            self.save("last")
        return record
