"""Signing in and out (the ``signin`` blueprint): ``/login`` and ``/logout``.

A sign-in goes through the throttle (:mod:`station.desk.auth`, :mod:`station.desk.throttle`);
a good one ends the visit's old session and starts a new one (a new cookie and a new CSRF
token), so a token seen before the sign-in is worth nothing after it.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from station.desk import auth, registry
from station.desk.web.common import COOKIE, desk
from station.desk.web.forms import LoginForm

bp = Blueprint("signin", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    """The sign-in page; a good name and password go on to ``next`` (a same-site path only)."""
    error, status = None, 200
    form = LoginForm()
    if request.method == "POST":
        got = auth.attempt_login(g.db, desk().logins, request.remote_addr or "?", form.name.data,
                                 form.password.data)
        if got.user is None:
            error, status = got.error, got.status
            g.db.commit()
        else:
            auth.end_session(g.db, request.cookies.get(COOKIE))
            g.new_token = auth.new_session(g.db, got.user)
            registry.audit(g.db, got.user.name, "login", "signed in")
            g.db.commit()
            return redirect(auth.safe_next(request.args.get("next")))
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout() -> Response:
    """End the session on the server: its cookie is worth nothing afterwards."""
    auth.end_session(g.db, request.cookies.get(COOKIE))
    g.db.commit()
    resp = redirect(url_for("signin.login"))
    resp.delete_cookie(COOKIE)
    return resp
