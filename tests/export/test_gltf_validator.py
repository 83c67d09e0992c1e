"""The glb files pass Khronos' own glTF validator (npm ``gltf-validator``, installed by
``scripts/setup-blender.sh`` under ``.venv-blender/node``): no errors, no warnings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from meshtalk.export import to_glb
from tests.export.conftest import permuted_animation

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = Path(os.environ.get("MESHTALK_GLTF_VALIDATOR",
                                REPO / ".venv-blender" / "node" / "node_modules" / "gltf-validator"))

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (VALIDATOR / "package.json").exists(),
    reason=f"no node or no glTF validator at {VALIDATOR}: run `make setup-blender`",
)

_SCRIPT = """
const validator = require(process.argv[1]);
const fs = require("fs");
(async () => {
  const out = {};
  for (const file of process.argv.slice(2)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)));
    out[file] = report.issues;
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(String(e)); process.exit(1); });
"""


def test_khronos_validator_accepts_both_encodings(tmp_path):
    neutral, faces, motion = permuted_animation(n_verts=300, n_frames=12)
    files = [tmp_path / "pca.glb", tmp_path / "exact.glb"]
    to_glb(files[0], neutral, faces, motion, 30, mode="pca")
    to_glb(files[1], neutral, faces, motion, 30, mode="exact")
    done = subprocess.run(["node", "-e", _SCRIPT, str(VALIDATOR), *map(str, files)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for file, issues in json.loads(done.stdout).items():
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, (file, issues["messages"])
