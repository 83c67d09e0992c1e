"""Independent decoders of the export formats, written from the format specifications.

They use only :mod:`struct`, :mod:`json` and numpy, never meshtalk.export, so the tests compare
the writers against the specs and not against themselves.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

#: Blender's default import of a Y-up file (OBJ importer's object rotation, glTF importer's
#: data conversion): (x, y, z) -> (x, -z, y).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def decode_pc2(path: Path) -> dict:
    """PC2: '<12s i i f f i' header then frame-major float32 xyz, little-endian."""
    data = Path(path).read_bytes()
    sig, version, n_points, start, rate, n_samples = struct.unpack("<12siiffi", data[:32])
    values = struct.unpack(f"<{n_samples * n_points * 3}f", data[32:])
    assert len(data) == 32 + 12 * n_points * n_samples
    points = np.array(values, dtype=np.float64).reshape(n_samples, n_points, 3)
    return {"signature": sig, "version": version, "start": start, "rate": rate, "points": points}


def decode_mdd(path: Path) -> dict:
    """MDD: '>i i' (frames, points), frames big-endian float32 times, then xyz big-endian."""
    data = Path(path).read_bytes()
    n_frames, n_points = struct.unpack(">ii", data[:8])
    times = struct.unpack(f">{n_frames}f", data[8:8 + 4 * n_frames])
    body = data[8 + 4 * n_frames:]
    assert len(body) == 12 * n_frames * n_points
    values = struct.unpack(f">{n_frames * n_points * 3}f", body)
    return {"times": np.array(times), "points": np.array(values).reshape(n_frames, n_points, 3)}


def parse_obj(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Vertices and faces of an OBJ in file order, plus the set of line keywords used."""
    verts, faces, kinds = [], [], set()
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        kinds.add(parts[0])
        if parts[0] == "v":
            verts.append([float(x) for x in parts[1:4]])
        elif parts[0] == "f":
            faces.append([int(x.split("/")[0]) - 1 for x in parts[1:]])
    return np.array(verts), np.array(faces), sorted(kinds)


_COMPONENTS = {5120: ("b", 1), 5121: ("B", 1), 5122: ("h", 2), 5123: ("H", 2), 5125: ("I", 4), 5126: ("f", 4)}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def parse_glb(path: Path) -> tuple[dict, bytes]:
    """Split a GLB into its JSON and BIN chunks, checking the container layout.

    Checks: magic, version 2, total length, chunk types, 4-byte aligned chunk lengths.
    """
    data = Path(path).read_bytes()
    magic, version, length = struct.unpack("<4sII", data[:12])
    assert magic == b"glTF" and version == 2 and length == len(data)
    json_len, json_type = struct.unpack("<II", data[12:20])
    assert json_type == 0x4E4F534A and json_len % 4 == 0
    doc = json.loads(data[20:20 + json_len].decode("utf-8"))
    off = 20 + json_len
    bin_len, bin_type = struct.unpack("<II", data[off:off + 8])
    assert bin_type == 0x004E4942 and bin_len % 4 == 0
    assert off + 8 + bin_len == len(data)
    return doc, data[off + 8:off + 8 + bin_len]


def read_accessor(doc: dict, blob: bytes, index: int) -> np.ndarray:
    """Decode accessor ``index`` (tightly packed views only), checking bounds and alignment."""
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    fmt, size = _COMPONENTS[acc["componentType"]]
    width = _WIDTH[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    assert start % size == 0, "accessor not aligned to its component size"
    assert "byteStride" not in view
    nbytes = acc["count"] * width * size
    assert acc.get("byteOffset", 0) + nbytes <= view["byteLength"]
    assert view.get("byteOffset", 0) + view["byteLength"] <= doc["buffers"][view["buffer"]]["byteLength"]
    values = struct.unpack(f"<{acc['count'] * width}{fmt}", blob[start:start + nbytes])
    arr = np.array(values)
    return arr.reshape(acc["count"], width) if width > 1 else arr


def decode_glb_animation(path: Path) -> dict:
    """Mesh, morph targets and the weights animation of a single-mesh GLB, validated."""
    doc, blob = parse_glb(path)
    for view in doc["bufferViews"]:
        assert view.get("byteOffset", 0) % 4 == 0, "bufferView not 4-byte aligned"
    prim = doc["meshes"][0]["primitives"][0]
    pos_ids = [prim["attributes"]["POSITION"]] + [t["POSITION"] for t in prim["targets"]]
    for i in pos_ids:  # spec: POSITION accessors must carry min and max, equal to the data's
        acc = doc["accessors"][i]
        data = read_accessor(doc, blob, i).astype(np.float32)
        assert acc["type"] == "VEC3" and acc["componentType"] == 5126
        np.testing.assert_array_equal(np.float32(acc["min"]), data.min(axis=0))
        np.testing.assert_array_equal(np.float32(acc["max"]), data.max(axis=0))
    sampler = doc["animations"][0]["samplers"][0]
    channel = doc["animations"][0]["channels"][0]
    assert channel["target"]["path"] == "weights" and sampler["interpolation"] == "LINEAR"
    times = read_accessor(doc, blob, sampler["input"])
    t_acc = doc["accessors"][sampler["input"]]
    assert np.float32(t_acc["min"][0]) == np.float32(times.min())
    assert np.float32(t_acc["max"][0]) == np.float32(times.max())
    assert np.all(np.diff(times) > 0)
    n_targets = len(prim["targets"])
    weights = read_accessor(doc, blob, sampler["output"]).reshape(len(times), n_targets)
    return {
        "doc": doc,
        "base": read_accessor(doc, blob, pos_ids[0]),
        "faces": read_accessor(doc, blob, prim["indices"]).reshape(-1, 3),
        "targets": np.stack([read_accessor(doc, blob, i) for i in pos_ids[1:]]),
        "times": times,
        "weights": weights,
        "default_weights": np.array(doc["meshes"][0].get("weights", [0.0] * n_targets)),
    }
