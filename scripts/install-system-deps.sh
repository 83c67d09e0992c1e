#!/usr/bin/env bash
# Debian packages meshtalk uses at run time or in tests. Idempotent: installs only what is missing.
set -euo pipefail
PKGS=(ffmpeg libosmesa6 libegl1 libgl1-mesa-dri espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: apt-get not found; please install: ${missing[*]}" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-system-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
