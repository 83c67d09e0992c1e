"""Speed and peak memory per vertex count: precompute, audio encoding, decoding.

A synthetic head (:func:`meshtalk.data.synth.heads.make_head`) is remeshed to each size
(:func:`meshtalk.data.synth.scans.remesh`, an isotropic remeshing, so sizes are approximate) and
each size runs in a **fresh subprocess** (``python -m meshtalk.bench.speed WORKER.json``), so the
peak resident memory (``ru_maxrss``) is that run's own. In the subprocess, for one model:

* ``precompute_s`` — :func:`meshtalk.geometry.compute_operators` (``k = model.config.k_eig``, no
  cache): Laplacian, eigenbasis, frames, gradients;
* ``audio_encode_s`` — :meth:`TalkingHead.encode_audio` of ``seconds`` of speech-like audio
  (independent of the mesh; measured in every run to show its spread);
* ``decode_ms_per_frame`` — :meth:`TalkingHead.encode_geometry` once, then
  :meth:`TalkingHead.decode` of the first ``decode_frames`` frames of that audio code (one
  chunk), divided by the frame count;
* ``peak_rss_mib`` — peak resident memory of the subprocess (imports and model included).

Timings are wall-clock, best of ``repeats`` (audio encoding: at least 5) after one untimed warm-up call (the precompute runs
once, first-call costs included), ``torch`` limited to ``threads`` threads.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError

log = logging.getLogger(__name__)

__all__ = ["QUICK_SIZES", "FULL_SIZES", "SpeedRow", "measure_speed", "speed_worker"]

#: Vertex counts of the quick run.
QUICK_SIZES = (2000, 8000, 20000)
#: Vertex counts of the full run.
FULL_SIZES = (2000, 8000, 20000, 50000, 100000)
_WORKER_TIMEOUT_S = 1800
_AUDIO_REPEATS = 5


@dataclass(frozen=True)
class SpeedRow:
    """One size's measurements (see the module docstring for each field)."""

    target_vertices: int
    vertices: int
    faces: int
    precompute_s: float
    audio_encode_s: float
    decode_ms_per_frame: float
    frames: int
    peak_rss_mib: float
    threads: int


def _best(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed_worker(mesh_file: Path, model: str | None, *, seconds: float, threads: int, repeats: int,
                 decode_frames: int = 30) -> dict:
    """Measure one mesh in this process (run by :func:`measure_speed` in a subprocess).

    Args:
        mesh_file: ``.npz`` with ``verts (V, 3)`` and ``faces (F, 3)``.
        model: model folder/file, or None for the shipped default.
        seconds: audio length.
        threads: torch threads.
        repeats: timing repeats (best kept).
        decode_frames: frames decoded per timing.

    Returns:
        A :class:`SpeedRow` as a dict (``target_vertices`` 0; the caller fills it).
    """
    import resource

    import torch

    from meshtalk.geometry import compute_operators
    from meshtalk.pipeline import load_model

    torch.set_num_threads(threads)
    data = np.load(mesh_file)
    verts, faces = np.asarray(data["verts"], np.float64), np.asarray(data["faces"], np.int64)
    net = load_model(model).model.eval()
    t0 = time.perf_counter()
    ops = compute_operators(verts, faces, k=net.config.k_eig, cache=None)
    precompute = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    n_samples = int(round(seconds * 16000))
    t = np.arange(n_samples) / 16000.0
    # speech-like: a 4 Hz syllabic envelope on a 140 Hz buzz plus noise
    wave = (0.5 * (1 + np.sin(2 * np.pi * 4 * t)) * (np.sin(2 * np.pi * 140 * t) + 0.1 * rng.standard_normal(n_samples)))
    wave = torch.as_tensor(wave, dtype=torch.float32)[None]
    n_frames = max(1, int(round(seconds * net.config.fps)))
    neutral = torch.as_tensor(verts, dtype=torch.float32)
    with torch.no_grad():
        net.encode_audio(wave[:, :16000], max(1, int(round(net.config.fps))))  # warm-up, untimed
        code: list[torch.Tensor] = []
        # short calls: more repeats, since on shared cores one stalled thread can add seconds
        audio_s = _best(lambda: code.append(net.encode_audio(wave, n_frames)[0]), max(repeats, _AUDIO_REPEATS))
        geo = net.encode_geometry(neutral, ops)
        frames = code[-1][:decode_frames]
        net.decode(geo, frames[:1], ops, chunk_frames=1)                          # warm-up, untimed

        def decode() -> None:
            net.decode(geo, frames, ops, chunk_frames=len(frames))

        decode_s = _best(decode, repeats)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return asdict(SpeedRow(target_vertices=0, vertices=len(verts), faces=len(faces), precompute_s=precompute,
                           audio_encode_s=audio_s, decode_ms_per_frame=1000.0 * decode_s / len(frames),
                           frames=len(frames), peak_rss_mib=rss, threads=threads))


def measure_speed(
    sizes: Sequence[int] = QUICK_SIZES,
    model: str | os.PathLike | None = None,
    *,
    head_seed: int = 7,
    seconds: float = 4.0,
    decode_frames: int = 30,
    threads: int = 2,
    repeats: int = 2,
    progress: bool = False,
) -> list[SpeedRow]:
    """Time precompute, audio encoding and decoding of ``model`` on a head remeshed to ``sizes``.

    Args:
        sizes: target vertex counts (each > 100).
        model: model folder or ``.safetensors`` file; None for the shipped default.
        head_seed: the synthetic head remeshed.
        seconds: audio length per run.
        decode_frames: frames decoded per timing (at most ``fps · seconds``).
        threads: torch threads per run.
        repeats: timing repeats per run (best kept).
        progress: tqdm progress bar.

    Returns:
        One :class:`SpeedRow` per size, in order.

    Raises:
        MeshtalkError: a bad size or a failed run (its last error line).
    """
    from meshtalk.data.synth.heads import make_head
    from meshtalk.data.synth.scans import remesh

    sizes = [int(s) for s in sizes]
    if decode_frames < 1:
        raise MeshtalkError(f"bench speed: decode_frames must be >= 1, got {decode_frames}")
    if not sizes or min(sizes) <= 100:
        raise MeshtalkError(f"bench speed: sizes must be vertex counts > 100, got {sizes}")
    if model is not None:
        model = str(Path(model).resolve())
    head = make_head(head_seed, name=f"head{head_seed:03d}")
    rows = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(sizes), desc="bench speed", unit="size")
    try:
        with tempfile.TemporaryDirectory(prefix="meshtalk-bench-") as tmp:
            for size in sizes:
                scan = remesh(head, size)
                mesh_file = Path(tmp) / f"mesh_{size}.npz"
                np.savez(mesh_file, verts=scan.verts, faces=scan.faces)
                job = {"mesh": str(mesh_file), "model": model, "seconds": seconds, "threads": threads,
                       "repeats": repeats, "decode_frames": decode_frames}
                job_file = Path(tmp) / f"job_{size}.json"
                job_file.write_text(json.dumps(job))
                env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                           OPENBLAS_NUM_THREADS=str(threads))
                proc = subprocess.run([sys.executable, "-m", "meshtalk.bench.speed", str(job_file)],
                                      capture_output=True, text=True, env=env, timeout=_WORKER_TIMEOUT_S)
                if proc.returncode != 0:
                    last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                    raise MeshtalkError(f"bench speed: the {size}-vertex run failed: {last}")
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                row["target_vertices"] = size
                rows.append(SpeedRow(**row))
                log.info("speed %d v: %s", size, row)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return rows


def _main(argv: list[str]) -> int:  # the subprocess entry point
    if len(argv) != 1:
        sys.stderr.write("usage: python -m meshtalk.bench.speed JOB.json\n")
        return 2
    job = json.loads(Path(argv[0]).read_text())
    row = speed_worker(Path(job["mesh"]), job["model"], seconds=float(job["seconds"]),
                       threads=int(job["threads"]), repeats=int(job["repeats"]),
                       decode_frames=int(job.get("decode_frames", 30)))
    sys.stdout.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover - run in the subprocess
    sys.exit(_main(sys.argv[1:]))
