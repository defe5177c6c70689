"""Desk fixtures: a throwaway PostgreSQL server, database URLs for both engines, a unit's bundle.

The desk runs on the clinic computer (never on a unit), so its tests need the ``desk`` extra;
where it is not installed (the Pi 4 test line) every desk test is skipped with that reason.
PostgreSQL and Chromium are Debian packages ``scripts/system-deps.sh`` installs; a test that
needs one skips, saying which binary is missing, only when it is absent.
"""

from __future__ import annotations

import glob
import importlib.util
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

DESK_MODULES = ("flask", "flask_wtf", "tomli_w", "sqlalchemy", "alembic", "argon2", "waitress", "cheroot")
DESK_INSTALLED = all(importlib.util.find_spec(m) for m in DESK_MODULES)
# Without the desk extra (the Pi 4 test line) only the prescription tests here run; the
# skip with its reason shows in test_desk_prescriptions.py::test_desk_extra_installed.
# Every module but that one is left out then (by glob, so a new desk test cannot forget it).
collect_ignore = [] if DESK_INSTALLED else sorted(
    p.name for p in Path(__file__).parent.glob("*.py")
    if p.name not in ("conftest.py", "test_desk_prescriptions.py"))

_counter = itertools.count()


def _pg_bin() -> Path | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(d, "initdb").exists() and Path(d, "pg_ctl").exists():
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL cluster in a temp dir, run as an unprivileged user; yields its base URL."""
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are absent: apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="desk-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(root, "nobody")
        shutil.chown(sock, "nobody")
        os.chmod(root, 0o755)
        as_user = ["runuser", "-u", "nobody", "--"]
    port = _free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "desk",
                    "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120)
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                    str(root / "log"), "-w", "-t", "60", "start"], check=True, capture_output=True, timeout=90)
    try:
        yield f"postgresql+psycopg://desk@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _new_pg_db(base: str) -> str:
    import psycopg

    name = f"desk_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(base.replace("postgresql+psycopg", "postgresql") + "/postgres",
                         autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, then a database on the test's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    return _new_pg_db(request.getfixturevalue("pg_server"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite desk database."""
    return f"sqlite:///{tmp_path / 'desk.sqlite3'}"
