#!/usr/bin/env bash
# Run every test of the station from a fresh machine: make the virtual environments, install
# everything, lint and type-check, then run the suite twice: under the current mediapipe line
# (1.x, numpy 2: laptops, Pi 5) and under mediapipe 0.10.18 with numpy 1.x (the only line a
# Pi 4 or Zero 2 W can run, so the whole station must work on it, not only the tracking).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy PYGAME_HIDE_SUPPORT_PROMPT=1
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
export STATION_TEST_CACHE="${STATION_TEST_CACHE:-$PWD/.cache}"

echo "== system tools (apt, when root)"
scripts/system-deps.sh

echo "== environment 1: mediapipe 1.x, numpy 2 (and the clinic desk)"
"$PY" -m venv .venv-test
.venv-test/bin/python -m pip install -q --upgrade pip
.venv-test/bin/python -m pip install -q -e '.[test,desk-test]'
.venv-test/bin/ruff check station tests bench
.venv-test/bin/mypy  # the settings in pyproject.toml: the whole package, strict for the unit's core
.venv-test/bin/python -m pytest -q -p no:cacheprovider

# The desk runs on the clinic computer, never on a Pi: its tests skip here (no desk extra).
echo "== environment 2: mediapipe 0.10.18, numpy 1.26 (Pi 4 line): the whole suite again"
"$PY" -m venv .venv-mp010
.venv-mp010/bin/python -m pip install -q --upgrade pip
# 0.10.18 declares jax/jaxlib, which the Tasks API does not use: install it --no-deps.
.venv-mp010/bin/python -m pip install -q -r deploy/requirements-mp010.txt
.venv-mp010/bin/python -m pip install -q --no-deps mediapipe==0.10.18
.venv-mp010/bin/python -m pip install -q --no-deps -e .
.venv-mp010/bin/python -m pip install -q pytest hypothesis
.venv-mp010/bin/python -m pytest -q -p no:cacheprovider
