"""The desk application: a factory that builds Flask with the desk's blueprints and the
checks every request passes (Flask, server-rendered Jinja2, no build step).

Every request, in order: Flask's own host check (``TRUSTED_HOSTS``: the loopback names and
the hosts the desk was told to answer to; any other Host header is 400 before a page runs,
so a page fetched through a rebinding DNS name is refused); the visitor's server-side session
is loaded from its cookie (:func:`station.desk.auth.visit`), and its CSRF token becomes
Flask's session token; every POST must carry that token, signed, checked by Flask-WTF's
``CSRFProtect`` (else 403, whatever the route: a new route is covered without a line of its
own); with accounts, anything but the sign-in page needs a sign-in. The pages are blueprints
under :mod:`station.desk.web`; they call :mod:`station.desk.registry`,
:mod:`station.desk.importer` and :mod:`station.desk.patients` and never write SQL. The clinic
key stays in its file: the desk keeps only its public key id.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, redirect, request, session, url_for
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface, SessionMixin
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import sessionmaker
from werkzeug.exceptions import BadRequest, Forbidden, SecurityError, Unauthorized
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response as WerkzeugResponse

from station.clinic import report
from station.desk import auth, db, stickroots, throttle
from station.desk.web import api, clinical, imports, lending, signin, units
from station.desk.web.common import COOKIE, EXTENSION, Desk, desk, key_id_of
from station.records import schema

MAX_UPLOAD = 600 << 20
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
CSRF_FIELD = "csrf"  # the hidden field every form carries, and its key in the visit's session
BLUEPRINTS = (signin.bp, units.bp, lending.bp, clinical.bp, imports.bp, api.bp)
OPEN_ENDPOINTS = ("signin.login", "static")  # what a visitor who is not signed in may see
FOREIGN_HOST = "This desk does not answer to that host name."
NO_TOKEN = "The form had no valid security token. Reload the page and try again."


class DbIdConverter(IntegerConverter):
    """``<int:...>`` in a route: a database id, 1 to 2^31-1 (the Integer column of both
    engines); anything longer or larger is 404, never an overflow."""

    regex = r"\d{1,10}"

    def __init__(self, url_map: Any) -> None:
        super().__init__(url_map, min=0, max=2**31 - 1)


class FiniteJSON(DefaultJSONProvider):
    """Flask's JSON, with NaN and infinities as null and ``allow_nan`` off: answers are JSON."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(schema.finite(obj), **kwargs)


class VisitSession(dict[str, Any], SessionMixin):
    """Flask's ``session`` for one request: filled from the desk's own server-side session
    (the visit's CSRF token), never a cookie of its own."""


class VisitSessions(SessionInterface):
    """The desk keeps sessions in its database (:mod:`station.desk.auth`) behind its own
    cookie, so Flask's session is per request and is never saved."""

    def open_session(self, app: Flask, request: Any) -> VisitSession:
        return VisitSession()

    def save_session(self, app: Flask, session: SessionMixin, response: Any) -> None:
        return None


def trusted_hosts(allowed: set[str] | None) -> list[str]:
    """``TRUSTED_HOSTS``: the loopback names and ``allowed``, lower case. Werkzeug cannot
    list an IPv6 literal (it cuts an entry at its first ':'), so those are left out and an
    IPv6 address is reached by a name (``localhost`` for ``::1``)."""
    extra = {h.strip().lower() for h in allowed or () if h.strip() and ":" not in h}
    return [*LOOPBACK_HOSTS, *sorted(extra - set(LOOPBACK_HOSTS))]


def _visit() -> None:
    """Before every page: refuse an untrusted Host, open the database session, load the visit
    from its cookie and hand its CSRF token to Flask's session (where Flask-WTF reads it)."""
    if isinstance(request.routing_exception, SecurityError):
        raise request.routing_exception  # an untrusted Host: no page, no session
    g.db = desk().factory()
    g.ws = auth.visit(g.db, request.cookies.get(COOKIE), desk().anon_key)
    g.new_token = g.ws.token if g.ws.new_cookie else None
    g.user = g.db.get(db.User, g.ws.user_id) if g.ws.user_id else None
    g.accounts = auth.has_accounts(g.db)
    g.who = g.user.name if g.user else "local"
    session[CSRF_FIELD] = g.ws.csrf


def _signed_in() -> WerkzeugResponse | None:
    """With accounts, every page but the sign-in needs a signed-in session (the API: 401)."""
    if g.accounts and g.user is None and request.endpoint not in OPEN_ENDPOINTS:
        if request.path.startswith("/api/"):
            raise Unauthorized()
        return redirect(url_for("signin.login", next=request.path))
    return None


def _answer(resp: Response) -> Response:
    """After every page: a new visit's cookie, and the headers that keep the page to itself."""
    if getattr(g, "new_token", None):
        resp.set_cookie(COOKIE, g.new_token, httponly=True, samesite="Strict", secure=desk().secure_cookies,
                        max_age=auth.SESSION_HOURS * 3600)
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin: a form POST tells the desk where it came from (Flask-WTF's HTTPS check
    # needs it); no other site ever learns a desk address
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; form-action 'self'; frame-ancestors 'none'")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _close(_exc: BaseException | None) -> None:
    s = g.pop("db", None)
    if s is not None:
        s.close()


def _template_context() -> dict[str, Any]:
    return {"user": getattr(g, "user", None), "accounts": getattr(g, "accounts", False),
            "states": db.STATE_WORDS, "clinic_key_id": desk().clinic_key_id, "today": dt.date.today()}


def create_app(factory: sessionmaker, key_file: Path | None = None,
               allowed_hosts: set[str] | None = None, *, secure_cookies: bool = False,
               behind_proxy: bool = False, stick_roots: tuple[Path, ...] = stickroots.DEFAULT_ROOTS) -> Flask:
    """The desk application over the database behind ``factory``.

    ``allowed_hosts``: host names browsers use to reach the desk, besides the loopback ones.
    ``stick_roots``: the only folders sticks may be written under (see :mod:`stickroots`).
    ``secure_cookies``: the browser reaches the desk over HTTPS only (TLS here or at a
    reverse proxy), so the session cookie is marked Secure. ``behind_proxy``: one reverse
    proxy in front sets X-Forwarded-For/-Proto, used for the login throttle's client address.
    """
    app = Flask(__name__)
    app.url_map.converters["int"] = DbIdConverter
    app.json = FiniteJSON(app)  # NaN / Infinity never reach a script as "JSON"
    app.session_interface = VisitSessions()
    app.jinja_env.filters["plain"] = report.plain_words  # pattern titles, never internal ids
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_UPLOAD, TRUSTED_HOSTS=trusted_hosts(allowed_hosts),
        # signs the forms' CSRF tokens, this process only: a form left open across a restart of
        # the desk is refused with "Reload the page" (the tokens themselves live with the sessions)
        SECRET_KEY=secrets.token_bytes(32),
        WTF_CSRF_FIELD_NAME=CSRF_FIELD, WTF_CSRF_TIME_LIMIT=auth.SESSION_HOURS * 3600)
    if behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    app.extensions[EXTENSION] = Desk(factory, key_file, key_id_of(key_file), stick_roots,
                                     throttle.LoginThrottle(store=factory),  # counts shared by every process
                                     secure_cookies=secure_cookies)
    app.before_request(_visit)
    CSRFProtect(app)  # its check runs after _visit, before _signed_in: hooks run in the order added
    app.before_request(_signed_in)
    app.after_request(_answer)
    app.teardown_request(_close)
    app.context_processor(_template_context)
    app.register_error_handler(SecurityError, lambda _e: BadRequest(FOREIGN_HOST).get_response())
    app.register_error_handler(CSRFError, lambda _e: Forbidden(NO_TOKEN).get_response())
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    return app
