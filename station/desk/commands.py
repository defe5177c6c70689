"""``station desk serve|import|user add``: arguments in, calls out, exit codes as elsewhere."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from station.clinic import unit
from station.errors import UsageError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _data_dir(args: argparse.Namespace) -> Path:
    from station.config import context_of

    return context_of(args).data_dir


def _factory(args: argparse.Namespace):  # noqa: ANN202 - a sessionmaker
    from sqlalchemy.exc import SQLAlchemyError

    from station.desk.db import default_url, open_db

    url = args.db or default_url(_data_dir(args))
    try:
        return open_db(url)
    except (SQLAlchemyError, ImportError, OSError) as exc:
        raise UsageError(f"cannot open the desk database {url.split('@')[-1]}: {exc}") from None


def _key_file(args: argparse.Namespace) -> Path | None:
    if args.key_file:  # given: it must be a readable key now, not at the first stick
        try:
            unit.read_secret(Path(args.key_file))
        except unit.ClinicKeyError as exc:
            raise UsageError(f"--key-file: {exc}") from None
        return Path(args.key_file)
    for path in (unit.key_path(_data_dir(args)), unit.ETC_KEY):
        if path.exists():
            return path
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    """``station desk serve``: the desk on http://127.0.0.1:8470/ (other hosts need accounts)."""
    from station.desk import auth, serving, stickroots
    from station.desk.app import create_app

    key_file = _key_file(args)
    factory = _factory(args)
    if args.host not in LOOPBACK:
        with factory() as s:
            if not auth.has_accounts(s):
                raise UsageError(f"refusing to listen on {args.host}: no desk account exists yet. "
                                 "Add one with 'station desk user add NAME', or keep the default 127.0.0.1.")
    plan = serving.plan(args.host, args.port, args.tls_cert, args.tls_key, args.behind_proxy)
    roots = tuple(Path(r) for r in args.stick_root) if args.stick_root else stickroots.DEFAULT_ROOTS
    if not all(r.is_absolute() for r in roots):
        raise UsageError("--stick-root needs a whole folder path, like /media")
    hosts = set(args.allow_host or [])
    if any(":" in h for h in hosts):
        raise UsageError("--allow-host takes a host name or an IPv4 address: the desk's host check (Flask's "
                         "TRUSTED_HOSTS) cannot list an IPv6 address, so browsers reach one by a name")
    if ":" not in args.host and args.host != "0.0.0.0":
        hosts.add(args.host)
    elif args.host not in ("::", "::1") and not hosts:
        raise UsageError(f"browsers reach {args.host} by a name: give --allow-host NAME (the desk's host check "
                         "lists names, not IPv6 addresses)")
    app = create_app(factory, key_file, hosts, secure_cookies=plan.secure, behind_proxy=plan.behind_proxy,
                     stick_roots=roots)

    def say(text: str) -> None:
        print(text, flush=True)
        if key_file is None:
            print("No clinic key file found: sticks cannot be written (give --key-file).", flush=True)
        print(f"Sticks are written only under {' or '.join(map(str, roots))}.", flush=True)

    serving.serve(app, plan, say)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """``station desk import PATH``: 0 imported or already there, 2 refused (with the reason)."""
    from station.desk import importer

    factory = _factory(args)
    path = Path(args.path)
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"{path} does not exist")
    key_file = _key_file(args)
    if key_file is None:
        raise UsageError("no clinic key file found: give --key-file, so the desk can check who signed "
                         "the bundle")
    try:
        secret = unit.read_secret(key_file)
    except unit.ClinicKeyError as exc:
        raise UsageError(str(exc)) from None
    code = 0
    for bundle in importer.find_bundles(path):
        try:
            result = importer.import_path(factory, bundle, "command line", secret)
        except importer.BundleRefused as exc:
            print(f"{bundle.name}: refused: {exc} Nothing was changed.", file=sys.stderr)
            code = 2
            continue
        print(result.message)
    return code


def cmd_user_add(args: argparse.Namespace) -> int:
    """``station desk user add NAME``: an account (password from a prompt or --password-file)."""
    from station.desk import auth

    if args.password_file:
        from station.files import read_limited

        try:  # the one bounded reader: a FIFO or a device is refused at once
            raw = read_limited(args.password_file, 4096)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--password-file {args.password_file}: {exc}") from None
        try:
            password = raw.decode("utf-8").splitlines()[0]
        except (IndexError, UnicodeDecodeError):
            raise UsageError(f"no password in {args.password_file}") from None
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Once more: ") != password:
            raise UsageError("the two passwords differ")
    factory = _factory(args)
    with factory() as s, s.begin():
        try:
            auth.add_user(s, args.name, password)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    print(f"Account {args.name} added.")
    return 0
