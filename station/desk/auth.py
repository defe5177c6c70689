"""Desk accounts and server-side sessions.

Passwords are hashed with argon2 (argon2-cffi). The browser holds only a random session token
in an HttpOnly cookie; the database keeps its sha256, the account and the session's CSRF
token, so a stolen database row cannot be replayed as a cookie and a logout ends the session
on the server. Without any account the desk is a single-computer tool (loopback only) and
every change is audited as "local"; once an account exists, every page asks for a login.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from station.desk import db

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SESSION_HOURS = 12
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# verified against when a name is unknown, so a wrong name costs the same time as a wrong password
_DUMMY = _hasher.hash(secrets.token_hex(16))


def has_accounts(s: Session) -> bool:
    """True once at least one account exists."""
    return bool(s.scalar(select(func.count()).select_from(db.User)))


def add_user(s: Session, name: str, password: str) -> db.User:
    """Create an account (ValueError with a plain message on a bad name or short password)."""
    if not NAME_RE.fullmatch(name):
        raise ValueError("an account name is 1-64 letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    if s.scalar(select(db.User).where(db.User.name == name)) is not None:
        raise ValueError(f"account {name} exists already")
    user = db.User(name=name, password_hash=_hasher.hash(password))
    s.add(user)
    s.add(db.Audit(who="command line", action="account", what=f"account {name} added"))
    return user


def check_password(s: Session, name: str, password: str) -> db.User | None:
    """The account when ``password`` is right, else None."""
    user = s.scalar(select(db.User).where(db.User.name == name))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session(s: Session, user: db.User | None) -> str:
    """Start a server-side session; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    s.add(db.WebSession(token_sha256=_digest(token), user_id=user.id if user else None,
                        csrf=secrets.token_urlsafe(32),
                        expires_at=db.utcnow() + dt.timedelta(hours=SESSION_HOURS)))
    return token


def load_session(s: Session, token: str | None) -> db.WebSession | None:
    """The live session for a cookie token, or None (unknown or expired)."""
    if not token or len(token) > 128:
        return None
    ws = s.get(db.WebSession, _digest(token))
    if ws is None or ws.expires_at < db.utcnow():
        return None
    return ws


def end_session(s: Session, token: str | None) -> None:
    """Log out: the token is worth nothing afterwards."""
    if token:
        ws = s.get(db.WebSession, _digest(token))
        if ws is not None:
            s.delete(ws)


def csrf_ok(ws: db.WebSession | None, sent: str | None) -> bool:
    """True when the form carried this session's CSRF token."""
    return ws is not None and bool(sent) and hmac.compare_digest(ws.csrf, sent or "")
