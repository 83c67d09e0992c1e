#!/usr/bin/env bash
# A separate venv with the `bpy` wheel (real Blender as a Python module). bpy pins numpy<2, so it
# cannot share meshtalk's venv; meshtalk talks to it through a subprocess.
set -euo pipefail
VENV=${BLENDER_VENV:-.venv-blender}
PYTHON=${PYTHON:-python3}
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import bpy" >/dev/null 2>&1; then
  exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "bpy==5.0.1"
