"""What every page of the desk shares: the desk's own settings, the request's database
session and visitor, and the redirect that ends a change.

The factory (:func:`station.desk.app.create_app`) builds one :class:`Desk` and keeps it in
``app.extensions``; a blueprint reads it with :func:`desk`, so no page is a closure over the
factory's arguments and each blueprint imports on its own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast
from urllib.parse import quote

from flask import current_app, g, redirect, request
from sqlalchemy.orm import sessionmaker
from werkzeug.wrappers import Response

from station.clinic import unit
from station.desk import throttle

EXTENSION = "station.desk"
COOKIE = "desk_session"
PAGE_ROWS = 50  # rows of a long list on one page


@dataclass(frozen=True)
class Desk:
    """The desk's settings for every request: its database, the clinic key's file and public
    id (the key itself is read only when a stick is written or a bundle checked), the
    folders sticks may be written under, the sign-in throttle, whether cookies are Secure,
    and the key of anonymous visits' CSRF tokens (this process only, never stored)."""

    factory: sessionmaker
    key_file: Path | None
    clinic_key_id: str | None
    stick_roots: tuple[Path, ...]
    logins: throttle.LoginThrottle
    secure_cookies: bool = False  # browsers reach the desk over HTTPS only: the cookie says Secure
    anon_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)  # anonymous CSRF

    def clinic_secret(self) -> bytes | None:
        """The clinic key that signs sticks and bundles (None: none given or unreadable)."""
        try:
            return unit.read_secret(self.key_file) if self.key_file is not None else None
        except unit.ClinicKeyError:
            return None


def key_id_of(key_file: Path | None) -> str | None:
    """The public id of the clinic key in ``key_file`` (None when it cannot be read)."""
    if key_file is None:
        return None
    try:
        return unit.key_id(unit.read_secret(key_file))
    except unit.ClinicKeyError:
        return None


def desk() -> Desk:
    """The running desk's settings."""
    return cast(Desk, current_app.extensions[EXTENSION])


def done(message: str, target: str) -> Response:
    """Commit the request's change and go to ``target``, which says ``message``."""
    g.db.commit()
    return redirect(f"{target}{'&' if '?' in target else '?'}msg={quote(message)}")


def page_number() -> int:
    """The ``page`` asked for (1 when absent or not a number)."""
    return max(1, request.args.get("page", 1, type=int) or 1)


def pages(rows: int) -> int:
    """How many pages ``rows`` rows fill (at least one)."""
    return max(1, -(-rows // PAGE_ROWS))
