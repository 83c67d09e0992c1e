"""Model checkpoints: one ``.safetensors`` file holding the weights and, in its header, the config.

The safetensors header carries ``meshtalk_format`` / ``meshtalk_version`` and the model
configuration as JSON (``meshtalk_config``), so a checkpoint rebuilds the exact architecture,
audio encoder included, with neither the hub nor the original encoder folder. A readable copy of
the config can be written next to it (``<name>.yaml``). Writes go to a temporary file that is then
renamed over the destination. Anything unreadable raises a one-line
:class:`~meshtalk.errors.MeshtalkError`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from meshtalk.errors import MeshtalkError
from meshtalk.model.config import TalkingHeadConfig, from_dict, save_yaml, to_dict
from meshtalk.model.talking_head import TalkingHead

FORMAT = "meshtalk-talking-head"
VERSION = "1"


def save_model(
    model: TalkingHead,
    path: str | Path,
    *,
    metadata: dict[str, str] | None = None,
    write_yaml: bool = True,
) -> Path:
    """Write ``model`` to ``path`` (``.safetensors``) atomically.

    Args:
        model: the model.
        path: destination file.
        metadata: extra string key/values stored in the header (e.g. training step).
        write_yaml: also write the config as ``<path without suffix>.yaml``.

    Returns:
        The path written.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    header = {"meshtalk_format": FORMAT, "meshtalk_version": VERSION,
              "meshtalk_config": json.dumps(to_dict(model.config))}
    header.update({str(k): str(v) for k, v in (metadata or {}).items()})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=header)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if write_yaml:
        save_yaml(model.config, path.with_suffix(".yaml"))
    return path


def read_checkpoint(path: str | Path) -> tuple[TalkingHeadConfig, dict[str, torch.Tensor], dict[str, str]]:
    """Read config, weights and header metadata of a checkpoint.

    Raises:
        MeshtalkError: missing, truncated, corrupt or foreign file.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise MeshtalkError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # safetensors raises its own error types, OSError, ValueError...
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MeshtalkError(
            f"checkpoint {path} is corrupt or not a safetensors file ({msg[:100]}); "
            f"re-download it or retrain"
        ) from None
    if meta.get("meshtalk_format") != FORMAT:
        raise MeshtalkError(f"checkpoint {path} is not a meshtalk model (no '{FORMAT}' header)")
    try:
        config = from_dict(TalkingHeadConfig, json.loads(meta["meshtalk_config"]), where="checkpoint")
    except (KeyError, json.JSONDecodeError) as exc:
        raise MeshtalkError(f"checkpoint {path} has a damaged config header ({exc})") from None
    return config, tensors, meta


def load_model(path: str | Path, *, device: str | torch.device | None = None) -> TalkingHead:
    """Rebuild a :class:`TalkingHead` from a checkpoint, in eval mode.

    Args:
        path: a ``.safetensors`` file written by :func:`save_model`.
        device: where to put the model (default CPU).

    Raises:
        MeshtalkError: the file is missing, corrupt, or its weights do not fit its config.
    """
    config, tensors, _ = read_checkpoint(path)
    model = TalkingHead(config, load_pretrained_audio=False)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise MeshtalkError(f"checkpoint {path} does not match its config ({first[:120]})") from None
    return model.to(device or "cpu").eval()


def checkpoint_metadata(path: str | Path) -> dict[str, Any]:
    """The header metadata of a checkpoint (config as a mapping under ``"config"``)."""
    config, _, meta = read_checkpoint(path)
    out: dict[str, Any] = {k: v for k, v in meta.items() if k != "meshtalk_config"}
    out["config"] = to_dict(config)
    return out
