#!/usr/bin/env bash
# Install the station in a local virtual environment and start the laptop demo:
# windowed, keyboard space bar as the button, webcam if present, else a real face video.
# Extra arguments go to `station demo` (e.g. --video FILE, --camera 1, --size 1280x720).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/station ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
.venv/bin/python -m pip install -q -e '.[laptop]'
.venv/bin/station model fetch
if ! command -v espeak-ng >/dev/null 2>&1; then
  echo "note: espeak-ng is not installed, so the demo guides with tones only (install the espeak-ng package for the voice)"
fi
exec .venv/bin/station demo "$@"
