"""Where the desk may write a stick: only inside the configured stick roots.

A stick is a mounted USB stick, which desktop systems mount under ``/media`` or
``/run/media`` (``desk serve --stick-root DIR`` adds or replaces roots). The folder typed on a
page is resolved (symbolic links and ``..`` included) and must be an existing folder strictly
inside a root; a blank, relative or outside path is refused with a sentence saying where
sticks go. So no page can make the desk write a signed request or a prescription into its own
working directory or anywhere else on the clinic computer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

DEFAULT_ROOTS: tuple[Path, ...] = (Path("/media"), Path("/run/media"))


class StickPathError(ValueError):
    """The folder cannot take a stick; the message says why and where sticks go."""


def _where(roots: tuple[Path, ...]) -> str:
    return " or ".join(str(r) for r in roots)


def stick_folder(text: str, roots: Iterable[Path]) -> Path:
    """The real folder a stick form names, checked against ``roots``."""
    roots = tuple(Path(r) for r in roots)
    where = _where(roots)
    text = (text or "").strip()
    example = f"{roots[0]}/STICK" if roots else "/media/STICK"
    if not text:
        raise StickPathError(f"Give the stick's folder: the desk writes sticks only under {where}, "
                             f"for example {example}.")
    if "\0" in text or not os.path.isabs(text):
        raise StickPathError(f"The desk writes sticks only under {where}: give the stick's whole "
                             f"folder, for example {example}.")
    real = Path(os.path.realpath(text))
    inside = any(real != root and real.is_relative_to(root)
                 for root in (Path(os.path.realpath(r)) for r in roots))
    if not inside:
        raise StickPathError(f"The desk writes sticks only under {where} (a mounted USB stick). "
                             f"{text[:200]} is not there.")
    if not real.is_dir():
        raise StickPathError(f"{text[:200]} is not a folder (is the stick mounted?).")
    return real
