"""The runnable examples in the docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["station.practice.session", "station.practice.plan", "station.config", "station.kiosk.button"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
