"""Command-line entry points of tracking: ``station model fetch`` and ``station model verify``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from station.tracking.model import MODEL_SHA256, ModelError, fetch, verify


def cmd_fetch(args: argparse.Namespace) -> int:
    """``station model fetch``."""
    dest = _dest(args)
    try:
        source = fetch(dest, Path(args.from_file) if args.from_file else None)
    except ModelError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Face model ready at {dest} ({source}); sha256 {MODEL_SHA256}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """``station model verify``: exit 0 only for the pinned model."""
    dest = _dest(args)
    try:
        verify(dest)
    except ModelError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Face model OK: {dest}, sha256 {MODEL_SHA256}")
    return 0


def _dest(args: argparse.Namespace) -> Path:
    from station.config import load_settings
    from station.paths import model_path, resolve_data_dir

    settings, _ = load_settings(getattr(args, "config", None))
    return model_path(resolve_data_dir(getattr(args, "data_dir", None), settings.data_dir))
