"""The unregistered layout: every sequence carries its own neutral mesh and its own targets::

    <root>/unregistered/<seq>.npz   neutral_verts (V, 3), faces (F, 3), verts (T, P, 3)
                                    optional: lengths (T,) valid points per frame when frames are
                                    padded; fps (); subject (); audio (S,) + sample_rate ()
    <root>/wav/<seq>.wav            speech (unless inside the npz)
    <root>/splits.json|yaml         optional {"train": [seq, ...], "val": [...], "test": [...]}

Targets need not be in correspondence with the neutral mesh (remeshed or raw scans): training
uses a Chamfer loss with the per-frame lengths, and operators come from the neutral mesh only.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch.utils.data
import yaml

from meshtalk.data.sequence import OperatorsFn, TalkingSequence, default_operators_fn
from meshtalk.errors import MeshtalkError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


class UnregisteredDataset(torch.utils.data.Dataset):
    """Sequences of the unregistered layout.

    Args:
        root: dataset folder (containing ``unregistered/``).
        split: ``"train"``, ``"val"``, ``"test"`` (from the splits file) or ``"all"``; without a
            splits file every split is the whole set (logged).
        fps: frame rate when the npz does not state one.
        k_eig: eigenpairs of the operators.
        ops_fn: operator builder (default: ``compute_operators`` through ``cache``).
        cache: operator cache for the default builder.
        max_frames: crop sequences to at most this many frames.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        fps: float = 30.0,
        k_eig: int = 128,
        ops_fn: OperatorsFn | None = None,
        cache: Any = None,
        max_frames: int | None = None,
    ):
        self.root = Path(root)
        self.fps = fps
        self.k_eig = k_eig
        self.max_frames = max_frames
        self._ops_fn = ops_fn or default_operators_fn(cache)
        udir = self.root / "unregistered"
        if not udir.is_dir():
            raise MeshtalkError(f"{self.root}: no 'unregistered' folder (unregistered layout)")
        names = sorted(p.stem for p in udir.glob("*.npz"))
        split_file = next((self.root / f for f in ("splits.json", "splits.yaml", "splits.yml")
                           if (self.root / f).is_file()), None)
        if split != "all" and split_file is not None:
            text = split_file.read_text()
            splits = json.loads(text) if split_file.suffix == ".json" else yaml.safe_load(text)
            if split not in splits:
                raise MeshtalkError(f"{split_file}: no split {split!r} (has {', '.join(splits)})")
            wanted = set(map(str, splits[split]))
            names = [n for n in names if n in wanted]
        elif split != "all":
            logger.info("%s: no splits file; split %r is the whole set", self.root, split)
        if not names:
            raise MeshtalkError(f"{udir}: no sequence for split {split!r}")
        self.names = names
        self._ops: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> TalkingSequence:
        from meshtalk.inference import load_audio

        name = self.names[index]
        path = self.root / "unregistered" / f"{name}.npz"
        try:
            z = np.load(path, allow_pickle=False)
            neutral = np.asarray(z["neutral_verts"], np.float32)
            faces = np.asarray(z["faces"], np.int64) if "faces" in z.files else None
            target = np.asarray(z["verts"], np.float32)
        except (OSError, KeyError, ValueError) as exc:
            raise MeshtalkError(f"{path}: not a valid unregistered sequence ({exc})") from None
        if target.ndim != 3 or target.shape[-1] != 3:
            raise MeshtalkError(f"{path}: verts must be (T, P, 3), got {target.shape}")
        lengths = (np.asarray(z["lengths"], np.int64) if "lengths" in z.files
                   else np.full(len(target), target.shape[1], np.int64))
        fps = float(z["fps"]) if "fps" in z.files else self.fps
        subject = str(z["subject"]) if "subject" in z.files else name
        if "audio" in z.files:
            audio = load_audio((np.asarray(z["audio"]), int(z["sample_rate"]) if "sample_rate" in z.files
                                else SAMPLE_RATE))
        else:
            wav = self.root / "wav" / f"{name}.wav"
            if not wav.is_file():
                raise MeshtalkError(f"{path}: no audio in the npz and no {wav}")
            audio = load_audio(wav)
        n_audio = int(round(len(audio) / SAMPLE_RATE * fps))
        n = min(len(target), max(n_audio, 1))
        if self.max_frames:
            n = min(n, self.max_frames)
        target, lengths = target[:n], lengths[:n]
        audio = audio[: int(round(n / fps * SAMPLE_RATE))]
        key = name
        if key not in self._ops:
            self._ops[key] = self._ops_fn(neutral.astype(np.float64), faces, self.k_eig)
        return TalkingSequence(name=name, subject=subject, audio=audio, fps=fps, neutral=neutral,
                               faces=faces, target=target, target_lengths=lengths,
                               dataset="unregistered", ops=self._ops[key])
