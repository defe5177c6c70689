#!/usr/bin/env bash
# Install the station in a local virtual environment (once, and again only when pyproject.toml
# changes) and start the laptop demo: windowed, keyboard space bar as the button, webcam if
# present, else a simulated patient (a real face photo fetched once by pinned hash, moved
# gently on cue). Extra arguments go to `station demo` (e.g. --video FILE, --camera 1,
# --size 1280x720, --video sample). Esc or closing the window ends it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
STAMP=.venv/.station-installed
want=$("$PY" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
if [ ! -x .venv/bin/station ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "Installing the station into .venv (once; again only when pyproject.toml changes)..."
  .venv/bin/python -m pip install -q -e '.[laptop]'
  echo "$want" > "$STAMP"
fi
.venv/bin/station model fetch
if ! command -v espeak-ng >/dev/null 2>&1; then
  echo "note: espeak-ng is not installed, so the demo guides with tones only (install the espeak-ng package for the voice)"
fi
exec .venv/bin/station demo "$@"
