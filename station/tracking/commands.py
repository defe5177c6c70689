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
    from station.config import context_of
    from station.paths import model_path

    return model_path(context_of(args).data_dir)
