"""Command-line entry points of the appliance: ``station doctor`` and ``station halted``."""

from __future__ import annotations

import argparse

from station.appliance.doctor import all_essential_ok, run_checks
from station.appliance.halted import show


def cmd_doctor(args: argparse.Namespace) -> int:
    """``station doctor``: print the report; exit 0 when every essential check passes."""
    from station.config import context_of

    ctx = context_of(args)
    settings, problems, data_dir = ctx.settings, ctx.problems, ctx.data_dir
    checks = run_checks(settings, data_dir)
    print("Mirror-station self-check")
    for pr in problems:
        print(f"{'NOTE':<8} {'settings':<8} {pr}; the default is used")
    for c in checks:
        print(c.line())
    good = all_essential_ok(checks)
    print(
        "All essential checks passed."
        if good
        else "Some essential checks failed: see PROBLEM lines."
    )
    return 0 if good else 1


def cmd_halted(args: argparse.Namespace) -> int:
    """``station halted``: show the still screen."""
    return show(once=bool(getattr(args, "once", False)))
