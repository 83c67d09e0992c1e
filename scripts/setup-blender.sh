#!/usr/bin/env bash
# Real tools for the export round-trip tests, kept out of meshtalk's own venv:
#  - a venv with the `bpy` wheel (real Blender as a Python module). bpy pins numpy<2, so it
#    cannot share meshtalk's venv; tests talk to it through a subprocess
#    (tests/export/test_blender_roundtrip.py). bpy 5.0.1 ships wheels for CPython 3.11 only.
#  - Khronos' glTF validator (npm `gltf-validator`) under $VENV/node, when npm is available
#    (tests/export/test_gltf_validator.py; skipped without it).
#   BLENDER_VENV  where to create it (default .venv-blender)
#   PYTHON        a Python 3.11 interpreter (default: python3.11 if present, else python3)
set -euo pipefail
VENV=${BLENDER_VENV:-.venv-blender}
BPY_VERSION=5.0.1
GLTF_VALIDATOR_VERSION=2.0.0-dev.3.10
if [ -z "${PYTHON:-}" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

if ! { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import bpy" >/dev/null 2>&1; }; then
  version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ "$version" != "3.11" ]; then
    echo "setup-blender: bpy==$BPY_VERSION needs Python 3.11, but $PYTHON is $version;" \
         "set PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "bpy==$BPY_VERSION"
  if ! "$VENV/bin/python" -c "import bpy" >/dev/null 2>&1; then
    echo "setup-blender: bpy installed in $VENV but 'import bpy' fails; see:" >&2
    "$VENV/bin/python" -c "import bpy" >&2 || true
    exit 1
  fi
  echo "setup-blender: Blender $BPY_VERSION (bpy) ready in $VENV"
fi

if [ ! -f "$VENV/node/node_modules/gltf-validator/package.json" ]; then
  if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
    if npm install --silent --no-audit --no-fund --prefix "$VENV/node" \
         "gltf-validator@$GLTF_VALIDATOR_VERSION" >/dev/null 2>&1; then
      echo "setup-blender: glTF validator $GLTF_VALIDATOR_VERSION ready in $VENV/node"
    else
      echo "setup-blender: warning: could not install the npm package gltf-validator;" \
           "its test will be skipped" >&2
    fi
  else
    echo "setup-blender: note: no node/npm, the glTF validator test will be skipped" >&2
  fi
fi
