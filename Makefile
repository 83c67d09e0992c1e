# meshtalk: every install step lives here (and in scripts/), nothing is installed by hand.
#   make demo   set up, then animate the bundled demo head from the bundled demo speech
#   make test   set up (incl. the Blender venv and system packages), then run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.meshtalk-installed
EXTRAS ?= render,speech,synth,bench,test

.PHONY: setup setup-system setup-blender test test-fast demo bench clean

setup: $(STAMP)

# CPU build of torch first (on local disk here; an unpinned torch would pull a multi-GB CUDA
# build). For a GPU build see docs/install.md.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	# OSMesa needs PyOpenGL >= 3.1.5; pyrender's pin (3.1.0) is too old but 3.1.10 works with it
	$(PY) -m pip install -q 'PyOpenGL>=3.1.5'
	touch $@

# Debian packages (ffmpeg/ffprobe, OSMesa, speech engines); skipped when already present.
setup-system:
	bash scripts/install-system-deps.sh

# Real Blender as a Python module, in its own venv (bpy pins numpy<2).
setup-blender:
	bash scripts/setup-blender.sh

test: setup setup-system setup-blender
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q --timeout=900

test-fast: setup
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q -m "not slow and not blender"

# The bundled demo: a held-out 20k-vertex head scan and 10.5 s of held-out speech -> out/demo/
demo: setup setup-system
	HF_HUB_OFFLINE=1 $(VENV)/bin/meshtalk animate data/demo/head.obj data/demo/speech.wav -o out/demo --video --overwrite

bench: setup
	$(PY) benchmarks/operators.py
	$(PY) benchmarks/decode.py
	$(PY) benchmarks/render.py
	$(PY) benchmarks/animate.py

clean:
	rm -rf $(VENV) .venv-blender build *.egg-info
