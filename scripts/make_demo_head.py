#!/usr/bin/env python3
"""Make the bundled demo head: ``data/demo/head.obj`` (+ ``head.landmarks.json`` beside it).

A held-out procedural head (its seed is outside every corpus's head seeds, so the shipped model
never saw it), isotropically remeshed to about 20k vertices: a scan-like mesh, not the registered
template topology. Metres, face along +Z, up +Y. Deterministic: running it again writes the same
bytes.

Usage:
    python scripts/make_demo_head.py [--vertices 20000] [--out data/demo/head.obj]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from meshtalk.data.synth.heads import make_head
from meshtalk.data.synth.scans import remesh
from meshtalk.errors import MeshtalkError

logger = logging.getLogger("make_demo_head")

def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()

#: Corpus heads use seeds ``seed * 1000 + i`` with i < 1000 and seeds far below this one.
DEMO_HEAD_SEED = 987_654_321


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--vertices", type=int, default=20000, help="vertex count (default 20000)")
    parser.add_argument("--seed", type=int, default=DEMO_HEAD_SEED, help="head seed")
    parser.add_argument("--out", type=Path, default=root / "data" / "demo" / "head.obj")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        head = make_head(args.seed, name="demo")
        scan = remesh(head, args.vertices)
    except MeshtalkError as exc:
        logger.error("%s", exc)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# meshtalk demo head (procedural, seed {args.seed}); metres, +Z forward, +Y up",
             f"# {len(scan.verts)} vertices, {len(scan.faces)} faces, isotropic remeshing"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in scan.verts]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in scan.faces]
    _atomic_write(args.out, "\n".join(lines) + "\n")
    landmarks = {"seed": args.seed, "units": "metres",
                 "landmarks": {k: [round(c, 6) for c in v]
                               for k, v in head.landmarks.as_dict().items()}}
    _atomic_write(args.out.with_name(args.out.stem + ".landmarks.json"),
                  json.dumps(landmarks, indent=1) + "\n")
    logger.info("wrote %s: %d vertices, %d faces, %.1f MB", args.out, len(scan.verts),
                len(scan.faces), args.out.stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
