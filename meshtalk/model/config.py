"""Typed configuration of the talking-head model, and a small dataclass <-> YAML layer.

Every architectural choice (widths, number of blocks, eigenbasis size, audio encoder, temporal
module, fusion) is a field here, so experiments change a YAML file, never the code. The YAML
layer is generic: :func:`to_dict` / :func:`from_dict` map nested dataclasses to plain mappings
and reject unknown keys with a message naming the key and the allowed ones.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from meshtalk.errors import MeshtalkError

T = TypeVar("T")

TemporalKind = Literal["bilstm", "gru", "transformer", "none"]
FusionKind = Literal["concat", "film"]
AudioKind = Literal["wav2vec2", "hubert", "scratch", "logmel"]
CutRule = Literal["full", "opposed"]


@dataclass
class DiffusionNetConfig:
    """A DiffusionNet trunk: ``first_lin -> n_blocks x block -> last_lin``.

    Attributes:
        width: feature channels inside the blocks (C).
        n_blocks: number of diffusion blocks.
        mlp_hidden: hidden widths of each block's per-vertex MLP.
        dropout: dropout probability inside the MLPs (0 disables it).
        gradient_features: add spatial-gradient features to each block.
        gradient_rotations: let the gradient features learn a rotation in the tangent plane.
        diffusion_time_init: initial learned diffusion time of every channel.
        spectral_taper: fade the top fraction of the eigenbasis out with a raised cosine in
            ``lambda / lambda_K`` (0: hard cut at K, as in checkpoints written before this
            option). Makes the blocks agree across meshings when an eigenvalue cluster
            straddles K; 0.3 is a good value for new models.
    """

    width: int = 32
    n_blocks: int = 4
    mlp_hidden: tuple[int, ...] = (32, 32)
    dropout: float = 0.0
    gradient_features: bool = True
    gradient_rotations: bool = True
    diffusion_time_init: float = 0.0
    spectral_taper: float = 0.0


@dataclass
class AudioEncoderConfig:
    """Speech encoder producing one feature vector per motion frame.

    Attributes:
        kind: ``"wav2vec2"`` / ``"hubert"`` (Hugging Face model from ``source``), ``"scratch"``
            (a small wav2vec2-style encoder, randomly initialised and trained with the model) or
            ``"logmel"`` (log-mel spectrogram + dilated conv stack, :mod:`meshtalk.model.logmel`,
            trained from scratch).
        source: hub id or local folder (``save_pretrained`` layout) for wav2vec2/hubert.
        freeze_transformer: keep the transformer layers frozen (the CNN is always frozen for
            pretrained encoders; a scratch encoder trains everything).
        hf_config: the Hugging Face config as a mapping; filled in when a model is built, so a
            checkpoint can rebuild the encoder without the original folder or the hub.
        scratch_hidden: hidden size of the scratch encoder.
        scratch_layers: transformer layers of the scratch encoder.
        scratch_heads: attention heads of the scratch encoder.
        scratch_conv_dim: CNN channels of the scratch encoder (7 conv layers, 320x downsampling).
        logmel_bins: mel bands of the logmel encoder.
        logmel_channels: feature width of the logmel encoder (its output channels).
        logmel_conv_layers: residual dilated conv blocks of the logmel encoder (100 Hz).
        logmel_layers: transformer layers after the conv stack (0: conv only).
        logmel_heads: attention heads of those layers.
    """

    kind: AudioKind = "scratch"
    source: str | None = None
    freeze_transformer: bool = False
    hf_config: dict[str, Any] | None = None
    scratch_hidden: int = 64
    scratch_layers: int = 2
    scratch_heads: int = 2
    scratch_conv_dim: int = 64
    logmel_bins: int = 80
    logmel_channels: int = 128
    logmel_conv_layers: int = 4
    logmel_layers: int = 1
    logmel_heads: int = 4


@dataclass
class TemporalConfig:
    """Temporal module applied to the projected audio features.

    Attributes:
        kind: ``"bilstm"`` (reference), ``"gru"`` (bidirectional), ``"transformer"`` or ``"none"``.
        layers: number of recurrent / transformer layers.
        hidden: output width of the temporal module (split over both directions for recurrent kinds).
        heads: attention heads of the transformer kind.
    """

    kind: TemporalKind = "bilstm"
    layers: int = 3
    hidden: int = 32
    heads: int = 4


@dataclass
class TalkingHeadConfig:
    """The whole talking-head model; the defaults reproduce the reference's shape.

    Attributes:
        in_channels: per-vertex input features of the geometry encoder (xyz = 3).
        geometry_width: width of the geometry code per vertex (encoder output channels).
        audio_width: width of the projected audio code per frame (projection output channels).
        k_eig: number of Laplace-Beltrami eigenpairs the spectral diffusion uses.
        fps: default motion frame rate.
        encoder: the geometry encoder trunk.
        decoder: the displacement decoder trunk.
        audio: the speech encoder.
        temporal: the temporal module.
        fusion: how the audio code conditions the per-vertex code: ``"concat"`` (reference:
            per-vertex concatenation, then a linear layer) or ``"film"`` (the audio code scales
            and shifts the projected geometry code).
        template_extent: bounding-box extent (x, y, z) of the training neutral meshes; used to
            warn when an input mesh is far from the training scale or orientation.
        template_center: bounding-box centre of the training neutral meshes.
        gradient_checkpointing: recompute decoder activations in backward (training memory).
        normal_input: also feed each vertex's unit normal (the operators' frame normal: the
            mesh's, a point cloud's given normals, or estimated ones) to the geometry encoder,
            after the ``in_channels`` position features.
        cut_facing: a point cloud that comes with its own normals gets operators without the
            neighbour pairs joined across open space (the lips' slit; see
            :mod:`meshtalk.geometry.cloud`); part of the model because it was trained on them.
        cut_rule: which pairs that cut leaves out: ``"full"`` (its three tests) or
            ``"opposed"`` (only pairs whose normals point apart, such as the two walls of the
            mouth slit).
    """

    in_channels: int = 3
    geometry_width: int = 32
    audio_width: int = 32
    k_eig: int = 128
    fps: float = 30.0
    encoder: DiffusionNetConfig = field(default_factory=DiffusionNetConfig)
    decoder: DiffusionNetConfig = field(default_factory=DiffusionNetConfig)
    audio: AudioEncoderConfig = field(default_factory=AudioEncoderConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    fusion: FusionKind = "concat"
    template_extent: tuple[float, float, float] | None = None
    template_center: tuple[float, float, float] | None = None
    gradient_checkpointing: bool = False
    normal_input: bool = False
    cut_facing: bool = False
    cut_rule: CutRule = "full"


# --------------------------------------------------------------------------- generic YAML layer


def to_dict(obj: Any) -> Any:
    """Turn a (nested) dataclass into plain Python containers (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, where)
            except MeshtalkError as exc:
                errors.append(str(exc))
        raise MeshtalkError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            raise MeshtalkError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise MeshtalkError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where=where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise MeshtalkError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        if len(args) != len(value):
            raise MeshtalkError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value))
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise MeshtalkError(f"{where}: expected a list, got {value!r}")
        return [_coerce(args[0], v, where) for v in value] if args else list(value)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise MeshtalkError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise MeshtalkError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise MeshtalkError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MeshtalkError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise MeshtalkError(f"{where}: expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            raise MeshtalkError(f"{where}: expected a path, got {value!r}")
        return Path(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any] | None, *, where: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping, type-checking values; unknown keys are errors.

    Args:
        cls: the dataclass type.
        data: the mapping (missing keys take the dataclass defaults).
        where: the dotted position used in error messages.

    Raises:
        MeshtalkError: on an unknown key or a value of the wrong type.
    """
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise MeshtalkError(
            f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(names))})"
        )
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def dump_yaml(obj: Any) -> str:
    """The YAML text of a dataclass (or plain mapping)."""
    return yaml.safe_dump(to_dict(obj), sort_keys=False)


def save_yaml(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as YAML atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(dump_yaml(obj))
    os.replace(tmp, path)
    return path


def load_yaml(cls: type[T], path: str | Path) -> T:
    """Read dataclass ``cls`` from a YAML file.

    Raises:
        MeshtalkError: if the file is missing, is not YAML, or does not match ``cls``.
    """
    path = Path(path)
    if not path.is_file():
        raise MeshtalkError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise MeshtalkError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if data is not None and not isinstance(data, dict):
        raise MeshtalkError(f"{path}: expected a mapping at the top level")
    return from_dict(cls, data, where=path.name)
