"""The runnable examples in the docstrings stay true: every station module that has one."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for p in (ROOT / "station").rglob("*.py")
    if ">>> " in p.read_text(encoding="utf-8")
)


def test_the_examples_are_found():
    assert {"station.practice.session", "station.clinic.prescription", "station.records.progress",
            "station.practice.reminders", "station.kiosk.button"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    # an example marked +SKIP (it needs the real model) counts as found, not as run
    assert result.failed == 0
    assert result.attempted > 0 or name == "station.tracking.tracker"
