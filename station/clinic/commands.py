"""Command-line entry points of the clinic package.

Each turns parsed arguments into calls and an exit code (0 ok, 2 bad input via UsageError).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from station.clinic import unit
from station.clinic.export import export_bundle
from station.clinic.prescription import Validation, apply_bytes, validate_file
from station.clinic.spool import hand_off, kiosk_alive
from station.clinic.stick import run_stick
from station.clinic.stickrequest import make_stick
from station.files import read_limited
from station.records.sessionlock import SessionInProgress, no_session
from station.records.wipe import wipe


def _data_dir(args: argparse.Namespace) -> Path:
    from station.config import context_of

    return context_of(args).data_dir


def _report(result: Validation, name: str) -> None:
    for pr in result.problems:
        print(f"{name}: {pr}")
    for w in result.warnings:
        print(f"{name}: note: {w}")


def cmd_check(args: argparse.Namespace) -> int:
    """``station prescription check FILE``: 0 valid, 2 invalid (one line per problem)."""
    path = Path(args.file)
    result = validate_file(path)
    _report(result, path.name)
    if not result.ok:
        return 2
    assert result.prescription is not None
    print(f"{path.name}: valid. {result.prescription.summary()}")
    return 0


def cmd_prescribe(args: argparse.Namespace) -> int:
    """``station prescribe FILE``: validate and apply; exit 2 and no change when invalid."""
    path = Path(args.file)
    result = validate_file(path)
    if not result.ok:
        _report(result, path.name)
        print("Nothing changed: the previous prescription stays active.")
        return 2
    data = read_limited(path)
    result = apply_bytes(_data_dir(args), data)
    _report(result, path.name)
    if not result.ok:
        print("Nothing changed: the previous prescription stays active.")
        return 2
    assert result.prescription is not None
    print(f"Prescription applied. {result.prescription.summary()}")
    return 0


def cmd_make_stick(args: argparse.Namespace) -> int:
    """``station clinic make-stick DIR``: write a signed request onto a stick folder."""
    from station.errors import UsageError

    data_dir = None
    if args.secret_file:
        try:
            secret = unit.read_secret(Path(args.secret_file))
        except unit.ClinicKeyError as exc:
            raise UsageError(str(exc)) from None
    else:
        data_dir = _data_dir(args)
        found = unit.find_secret(data_dir)
        if found is None:
            raise UsageError("no clinic key here: give --secret-file")
        secret = found
    unit_id = args.unit or (unit.unit_id(data_dir) if data_dir else None)
    if not unit_id:
        raise UsageError("give --unit (the unit id shown on the unit's info screen)")
    stick = Path(args.dir)
    if not stick.is_dir():
        raise UsageError(f"{stick} is not a folder (mount the stick first)")
    try:
        req = make_stick(stick, secret, unit_id,
                         Path(args.prescription) if args.prescription else None,
                         args.wipe_after_export,
                         voice_dir=Path(args.voice) if getattr(args, "voice", None) else None)
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    print(f"Stick ready for unit {req.unit}: {', '.join(req.actions)}.")
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    """``station clinic provision --secret-file F [--unit ID]``: give this unit (a laptop or a
    test unit) the clinic key and an id, as ``deploy/provision.sh`` does on a Pi."""
    from station.errors import UsageError

    try:
        secret = unit.read_secret(Path(args.secret_file))
    except unit.ClinicKeyError as exc:
        raise UsageError(str(exc)) from None
    data_dir = _data_dir(args)
    current = unit.get_unit_id(data_dir)
    if args.unit and current and current != args.unit:
        raise UsageError(f"this unit is {current} already; it keeps its id")
    try:
        uid = unit.provision(data_dir, secret, args.unit or current)
    except ValueError as exc:
        raise UsageError(f"--unit: {exc}") from None
    print(f"This unit is {uid}, with the clinic key {unit.key_id(secret)}.")
    return 0


def cmd_new_key(args: argparse.Namespace) -> int:
    """``station clinic new-key FILE``: a new clinic secret, once per clinic, kept safe.

    Give the same file to ``deploy/provision.sh --clinic-key FILE`` for every unit of the
    clinic, and to ``station clinic make-stick --secret-file FILE`` on the clinic computer.
    """
    from station.errors import UsageError

    path = Path(args.file)
    if os.path.lexists(path):
        raise UsageError(f"{path} exists already; a clinic key is never overwritten")
    unit.write_secret(path, unit.new_secret())
    print(f"New clinic key written to {path} (keep it private; key id {unit.key_id(unit.read_secret(path))}).")
    return 0


def cmd_usb_sync(args: argparse.Namespace) -> int:
    """``station usb-sync DIR``: run the stick flow (via the kiosk unless ``--direct``)."""
    data_dir = _data_dir(args)
    stick = Path(args.dir)
    if args.direct or not kiosk_alive(data_dir):
        return run_stick(stick, data_dir, report=print)
    return hand_off(data_dir, stick, print)


def cmd_export(args: Any) -> int:
    """``station export --out DIR``: write the clinic bundle and print where it went."""
    from station.errors import UsageError

    data_dir = _data_dir(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    try:
        with no_session(data_dir):
            bundle = export_bundle(data_dir, out)
    except SessionInProgress as exc:
        print(f"station: {exc}")
        return 1
    except OSError as exc:
        print(f"station: could not write the export to {out}: {exc.strerror or exc}")
        return 1
    print(f"Export written to {bundle}")
    return 0


def cmd_wipe(args: Any) -> int:
    """``station wipe [--yes]``: confirm, then remove every patient record."""
    from station.errors import UsageError

    data_dir = _data_dir(args)
    if not args.yes:
        if not sys.stdin or not sys.stdin.isatty():
            raise UsageError("wipe needs confirmation: run it in a terminal, or add --yes")
        answer = input(f"Remove every patient record in {data_dir}? Type yes to go on: ")
        if answer.strip().lower() != "yes":
            print("Nothing was removed.")
            return 1
    try:
        wipe(data_dir)
    except SessionInProgress as exc:
        print(f"station: {exc}")
        return 1
    print("Every patient record was removed. Unit settings were kept.")
    return 0
