"""Desk accounts and server-side sessions.

Passwords are hashed with argon2 (argon2-cffi). The browser holds only a random token in an
HttpOnly cookie. A signed-in session is a database row keyed by the token's sha256, with the
account and the session's CSRF token, so a stolen row cannot be replayed as a cookie, a logout
ends the session on the server, and rows expire (expired ones are deleted at the next sign-in).
A visitor who is not signed in costs no row at all: the CSRF token of such a visit is an HMAC
of its cookie token under a key that lives only in the desk process. Sign-in attempts go
through :mod:`station.desk.throttle`, and the audit names only accounts that exist. Without
any account the desk is a single-computer tool (loopback only) and every change is audited as
"local"; once an account exists, every page asks for a login.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from station.desk import db
from station.desk.throttle import LoginThrottle, in_words

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


_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,128}")


@dataclass(frozen=True)
class Visit:
    """Who is asking: the cookie token, the signed-in account (None: not signed in), the CSRF
    token forms must carry, and whether the cookie is new (to be set on the answer)."""

    token: str
    user_id: int | None
    csrf: str
    new_cookie: bool


def visit(s: Session, token: str | None, key: bytes) -> Visit:
    """The visit for a request's cookie token. A live signed-in session is read from its row;
    anything else is an anonymous visit, which writes nothing (``key``: the process's HMAC key
    for anonymous CSRF tokens)."""
    ws = load_session(s, token)
    if ws is not None and ws.user_id is not None:
        return Visit(token or "", ws.user_id, ws.csrf, False)
    new = token is None or not _TOKEN_RE.fullmatch(token)
    if new:
        token = secrets.token_urlsafe(32)
    assert token is not None
    csrf = hmac.new(key, b"anonymous csrf " + token.encode(), hashlib.sha256).hexdigest()
    return Visit(token, None, csrf, new)


def new_session(s: Session, user: db.User | None) -> str:
    """Start a server-side session; returns the token for the cookie. Expired rows go."""
    s.execute(delete(db.WebSession).where(db.WebSession.expires_at < db.utcnow()))
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


# same-site paths only: no scheme, no host, no "//", no backslash, no control character
_NEXT_RE = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~?=&+-]{0,500}")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: ``value`` when it is a plain path on this desk, else "/"."""
    return value if value and _NEXT_RE.fullmatch(value) else "/"


@dataclass(frozen=True)
class Attempt:
    """The outcome of a sign-in: the account (None: refused), the sentence for the page and
    the HTTP status (401 wrong, 429 throttled or busy)."""

    user: db.User | None
    error: str | None = None
    status: int = 200


def attempt_login(s: Session, throttle: LoginThrottle, address: str, name: str, password: str) -> Attempt:
    """Check a sign-in through the throttle; audits refusals by validated account names only
    (an arbitrary typed name never becomes a convincing audit line)."""
    name = name.strip()[:64]
    wait = throttle.wait_s(address, name)
    if wait > 0:
        return Attempt(None, f"Too many wrong passwords. Try again in {in_words(wait)}.", 429)
    with throttle.hashing_slot() as free:
        if not free:
            return Attempt(None, "The desk is busy checking another sign-in. Try again in a moment.", 429)
        user = check_password(s, name, password)
    if user is None:
        throttle.failed(address, name)
        known = NAME_RE.fullmatch(name) and s.scalar(select(db.User.id).where(db.User.name == name))
        if known:
            s.add(db.Audit(who=name, action="login", what="sign-in refused: wrong password"))
        else:
            s.add(db.Audit(who="-", action="login", what="sign-in refused: unknown account name"))
        return Attempt(None, "That name and password do not match an account.", 401)
    throttle.succeeded(address, name)
    return Attempt(user)
