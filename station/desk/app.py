"""The desk's web pages and JSON API (Flask, server-rendered Jinja2, no build step).

Every request: the Host header must be one this desk answers to (a page fetched through a
rebinding DNS name is refused); the server-side session is loaded from its cookie (or a new
anonymous one is started); with accounts, anything but the login page needs a login; every
POST must carry the session's CSRF token (else 403). Pages call :mod:`station.desk.registry`,
:mod:`station.desk.importer` and :mod:`station.desk.patients`; they never write SQL. The
clinic key stays in its file: the desk keeps only its public key id.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from station.clinic import prescription as rx
from station.clinic import report, unit
from station.desk import auth, db, importer, patients, registry, rxform
from station.records import schema

COOKIE = "desk_session"
MAX_UPLOAD = 600 << 20
# the patient page's charts (the PDF adds target size and breaks)
CHART_ORDER = ("practice", "qualities", "coactivation", "quiet_moved", "eye_ratio", "tracking")


def key_id_of(key_file: Path | None) -> str | None:
    """The public id of the clinic key in ``key_file`` (None when it cannot be read)."""
    if key_file is None:
        return None
    try:
        return unit.key_id(unit.read_secret(key_file))
    except unit.ClinicKeyError:
        return None


def _host_only(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class FiniteJSON(DefaultJSONProvider):
    """Flask's JSON, with NaN and infinities as null and ``allow_nan`` off: answers are JSON."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(schema.finite(obj), **kwargs)


def create_app(factory: sessionmaker, key_file: Path | None = None,
               allowed_hosts: set[str] | None = None) -> Flask:
    """The desk application over the database behind ``factory``."""
    app = Flask(__name__)
    app.json = FiniteJSON(app)  # NaN / Infinity never reach a script as "JSON"
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD
    hosts = {"127.0.0.1", "localhost", "[::1]"} | {h.lower() for h in allowed_hosts or ()}
    clinic_key_id = key_id_of(key_file)

    @app.before_request
    def _gate() -> Any:
        if _host_only(request.host) not in hosts:
            abort(400, "This desk does not answer to that host name.")
        g.db = factory()
        token = request.cookies.get(COOKIE)
        g.ws = auth.load_session(g.db, token)
        g.new_token = None
        if g.ws is None:
            g.new_token = auth.new_session(g.db, None)
            g.db.commit()
            g.ws = auth.load_session(g.db, g.new_token)
        g.user = g.db.get(db.User, g.ws.user_id) if g.ws.user_id else None
        g.accounts = auth.has_accounts(g.db)
        g.who = g.user.name if g.user else "local"
        if request.method == "POST" and not auth.csrf_ok(g.ws, request.form.get("csrf")):
            abort(403, "The form had no valid security token. Reload the page and try again.")
        if g.accounts and g.user is None and request.endpoint not in ("login", "static"):
            if request.path.startswith("/api/"):
                abort(401)
            return redirect(url_for("login", next=request.path))
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        if getattr(g, "new_token", None):
            resp.set_cookie(COOKIE, g.new_token, httponly=True, samesite="Strict",
                            max_age=auth.SESSION_HOURS * 3600)
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; form-action 'self'; frame-ancestors 'none'")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        s = g.pop("db", None)
        if s is not None:
            s.close()

    @app.context_processor
    def _context() -> dict[str, Any]:
        return {"csrf": g.ws.csrf if getattr(g, "ws", None) else "", "user": getattr(g, "user", None),
                "accounts": getattr(g, "accounts", False), "states": db.STATE_WORDS,
                "clinic_key_id": clinic_key_id, "today": dt.date.today()}

    def done(message: str, target: str) -> Response:
        g.db.commit()
        return redirect(f"{target}{'&' if '?' in target else '?'}msg={quote(message)}")

    # ------------------------------------------------------------ login

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = None
        if request.method == "POST":
            user = auth.check_password(g.db, request.form.get("name", ""), request.form.get("password", ""))
            if user is None:
                error = "That name and password do not match an account."
                registry.audit(g.db, request.form.get("name", "")[:64] or "?", "login", "refused")
                g.db.commit()
            else:
                auth.end_session(g.db, request.cookies.get(COOKIE))
                g.new_token = auth.new_session(g.db, user)
                registry.audit(g.db, user.name, "login", "signed in")
                g.db.commit()
                nxt = request.args.get("next", "/")
                return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
        return render_template("login.html", error=error), (401 if error else 200)

    @app.post("/logout")
    def logout() -> Any:
        auth.end_session(g.db, request.cookies.get(COOKIE))
        g.db.commit()
        resp = redirect(url_for("login"))
        resp.delete_cookie(COOKIE)
        return resp

    # ------------------------------------------------------------ front page, units, loans

    @app.get("/")
    def index() -> Any:
        units = list(g.db.scalars(select(db.Unit).order_by(db.Unit.id)))
        loans = {u.id: registry.open_loan(g.db, u.id) for u in units}
        audit = list(g.db.scalars(select(db.Audit).order_by(db.Audit.id.desc()).limit(8)))
        return render_template("index.html", units=units, loans=loans, overdue=registry.overdue(g.db),
                               audit=audit, msg=request.args.get("msg"))

    @app.post("/units")
    def add_unit() -> Any:
        try:
            u = registry.register_unit(g.db, g.who, request.form.get("unit_id", ""),
                                       request.form.get("key_id", ""), clinic_key_id)
        except registry.DeskError as exc:
            g.db.rollback()
            return render_template("index.html", units=list(g.db.scalars(select(db.Unit))), loans={},
                                   overdue=registry.overdue(g.db), audit=[], form_error=str(exc),
                                   form=request.form), 400
        return done(f"Unit {u.id} registered.", url_for("unit_page", unit_id=u.id))

    @app.get("/units/<unit_id>")
    def unit_page(unit_id: str) -> Any:
        u = g.db.get(db.Unit, unit_id) or abort(404)
        loans = list(g.db.scalars(select(db.Loan).where(db.Loan.unit_id == unit_id)
                                  .order_by(db.Loan.lent_at.desc())))
        bundles = list(g.db.scalars(select(db.Bundle).where(db.Bundle.unit_id == unit_id)
                                    .order_by(db.Bundle.imported_at.desc())))
        known = [a for a, _n in registry.aliases(g.db)]
        return render_template("unit.html", u=u, loans=loans, open_loan=registry.open_loan(g.db, unit_id),
                               bundles=bundles, aliases=known, msg=request.args.get("msg"),
                               error=request.args.get("error"),
                               due=(dt.date.today() + dt.timedelta(weeks=6)).isoformat())

    def unit_error(unit_id: str, exc: Exception) -> Any:
        g.db.rollback()
        return redirect(url_for("unit_page", unit_id=unit_id, error=str(exc)))

    @app.post("/units/<unit_id>/lend")
    def lend(unit_id: str) -> Any:
        try:
            due = dt.date.fromisoformat(request.form.get("due_on", ""))
        except ValueError:
            return unit_error(unit_id, registry.DeskError("Give the due date as YYYY-MM-DD."))
        try:
            loan = registry.lend(g.db, g.who, unit_id, request.form.get("alias", "").strip(), due)
        except registry.DeskError as exc:
            return unit_error(unit_id, exc)
        return done(f"Unit {unit_id} lent to {loan.alias}. Now write its stick.",
                    url_for("unit_page", unit_id=unit_id))

    @app.post("/loans/<int:loan_id>/return")
    def return_loan(loan_id: int) -> Any:
        loan = g.db.get(db.Loan, loan_id) or abort(404)
        try:
            registry.record_return(g.db, g.who, loan_id)
        except registry.DeskError as exc:
            return unit_error(loan.unit_id, exc)
        return done("Return recorded. Write the return stick (export, then wipe) and put it in the unit.",
                    url_for("unit_page", unit_id=loan.unit_id))

    @app.post("/loans/<int:loan_id>/stick")
    def stick(loan_id: int) -> Any:
        loan = g.db.get(db.Loan, loan_id) or abort(404)
        if key_file is None:
            return unit_error(loan.unit_id, registry.DeskError("No clinic key file: start the desk with --key-file."))
        try:
            text = registry.write_stick(g.db, g.who, loan_id, Path(request.form.get("folder", "").strip()),
                                        key_file, request.form.get("kind", "lend"))
        except registry.DeskError as exc:
            return unit_error(loan.unit_id, exc)
        return done(text, url_for("unit_page", unit_id=loan.unit_id))

    @app.post("/units/<unit_id>/wiped")
    def wiped(unit_id: str) -> Any:
        try:
            registry.mark_wiped(g.db, g.who, unit_id)
        except registry.DeskError as exc:
            return unit_error(unit_id, exc)
        return done(f"Unit {unit_id} is wiped and ready for the next loan.", url_for("unit_page", unit_id=unit_id))

    # ------------------------------------------------------------ prescriptions

    @app.route("/prescribe", methods=["GET", "POST"])
    def prescribe() -> Any:
        alias = request.values.get("alias", "").strip()
        errors: dict[str, str] = {}
        if request.method == "POST":
            form = request.form.to_dict()
            text, ids = rxform.to_toml(form)
            result = rx.validate_bytes(text.encode("utf-8"))
            if result.ok:
                p = registry.save_prescription(g.db, g.who, text.encode("utf-8"))
                return done(f"Prescription saved for {p.alias}.", url_for("patient_page", alias=p.alias))
            errors = rxform.field_errors(result.problems, ids)
        else:
            latest = registry.latest_prescription(g.db, alias) if alias else None
            form = rxform.from_toml(latest.toml) if latest else {
                "alias": alias, "target_minutes": "2", "sessions_per_day": "3",
                "reminder_times": "09:00, 13:00, 18:30", "use_eye_closure": "on", "use_small_smile": "on"}
        return render_template("prescribe.html", form=form, errors=errors, choices=rxform.choices(),
                               bounds=rx.PACING_BOUNDS, reps_bounds=rx.REPS_BOUNDS,
                               minutes=rxform.preview_minutes(form), timing=rxform.timing(),
                               intros=rxform.intro_seconds()), (400 if errors else 200)

    @app.get("/prescriptions/<int:pid>.toml")
    def prescription_toml(pid: int) -> Any:
        p = g.db.get(db.Prescription, pid) or abort(404)
        registry.audit(g.db, g.who, "export", f"prescription {p.id} for {p.alias} downloaded")
        g.db.commit()
        return Response(p.toml, mimetype="application/toml", headers={
            "Content-Disposition": f'attachment; filename="prescription-{p.alias}-{p.id}.toml"'})

    # ------------------------------------------------------------ import

    @app.route("/import", methods=["GET", "POST"])
    def import_page() -> Any:
        results: list[tuple[str, str]] = []
        if request.method == "POST":
            upload = request.files.get("bundle")
            if upload is not None and upload.filename:
                with tempfile.TemporaryDirectory(prefix="desk-upload-") as tmp:
                    path = Path(tmp) / "bundle.zip"
                    upload.save(path)
                    results.append(_import_one(path, Path(upload.filename).name))
            elif request.form.get("path", "").strip():
                for path in importer.find_bundles(Path(request.form["path"].strip()).expanduser()):
                    results.append(_import_one(path, path.name))
            else:
                results.append(("refused", "Choose a zip file or give the folder of a stick or bundle."))
        return render_template("import.html", results=results, path=request.form.get("path", "")), (
            400 if any(r[0] == "refused" for r in results) else 200)

    def _import_one(path: Path, label: str) -> tuple[str, str]:
        try:
            secret = unit.read_secret(key_file) if key_file is not None else None
        except unit.ClinicKeyError:
            secret = None
        try:
            res = importer.import_path(factory, path, g.who, secret, label=label)
        except importer.BundleRefused as exc:
            return "refused", f"{label} refused: {exc} Nothing was changed."
        return res.status, res.message

    # ------------------------------------------------------------ patients

    @app.get("/patients")
    def patients_page() -> Any:
        return render_template("patients.html", aliases=registry.aliases(g.db))

    @app.get("/patients/<alias>")
    def patient_page(alias: str) -> Any:
        if not rx.ALIAS_RE.fullmatch(alias):
            abort(404)
        data, sessions, reps = patients.build(g.db, alias, full=False)
        weeks = patients.weekly(data, sessions, reps)
        charts = {name: report.chart_svg(name, data) for name in CHART_ORDER} if sessions else {}
        loans = list(g.db.scalars(select(db.Loan).where(db.Loan.alias == alias).order_by(db.Loan.lent_at)))
        return render_template("patient.html", alias=alias, data=data, sessions=sessions, charts=charts,
                               titles=report.CHARTS, table=patients.first_last(weeks),
                               history=list(reversed(patients.prescriptions(g.db, alias))), loans=loans,
                               qualities=data.qualities, names=report.pattern_name, msg=request.args.get("msg"))

    @app.get("/audit")
    def audit_page() -> Any:
        rows = list(g.db.scalars(select(db.Audit).order_by(db.Audit.id.desc()).limit(500)))
        return render_template("audit.html", rows=rows)

    # ------------------------------------------------------------ JSON API

    @app.get("/api/units")
    def api_units() -> Any:
        out = []
        for u in g.db.scalars(select(db.Unit).order_by(db.Unit.id)):
            loan = registry.open_loan(g.db, u.id)
            out.append({"id": u.id, "key_id": u.key_id, "state": u.state, "state_words": db.STATE_WORDS[u.state],
                        "alias": loan.alias if loan else None,
                        "lent_at": loan.lent_at.isoformat() if loan else None,
                        "due_on": loan.due_on.isoformat() if loan else None,
                        "overdue": bool(loan and loan.due_on < dt.date.today())})
        return jsonify(out)

    @app.get("/api/patients")
    def api_patients() -> Any:
        return jsonify([{"alias": a, "sessions": n} for a, n in registry.aliases(g.db)])

    @app.get("/api/patients/<alias>")
    def api_patient(alias: str) -> Any:
        if alias not in {a for a, _n in registry.aliases(g.db)}:
            abort(404)
        return jsonify(patients.api(g.db, alias))

    return app
