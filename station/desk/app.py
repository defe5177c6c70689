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
import json
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response as WerkzeugResponse

from station.clinic import checkin_figures, report, unit
from station.clinic import prescription as rx
from station.desk import auth, db, fhir, importer, patients, registry, rxform, stickroots, throttle
from station.desk import loans as deskloans
from station.records import schema

COOKIE = "desk_session"
MAX_UPLOAD = 600 << 20
PAGE_ROWS = 50  # rows of a long list on one page


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


def create_app(factory: sessionmaker, key_file: Path | None = None,
               allowed_hosts: set[str] | None = None, *, secure_cookies: bool = False,
               behind_proxy: bool = False, stick_roots: tuple[Path, ...] = stickroots.DEFAULT_ROOTS) -> Flask:
    """The desk application over the database behind ``factory``.

    ``stick_roots``: the only folders sticks may be written under (see :mod:`stickroots`).
    ``secure_cookies``: the browser reaches the desk over HTTPS only (TLS here or at a
    reverse proxy), so the session cookie is marked Secure. ``behind_proxy``: one reverse
    proxy in front sets X-Forwarded-For/-Proto, used for the login throttle's client address.
    """
    app = Flask(__name__)
    app.url_map.converters["int"] = DbIdConverter
    app.json = FiniteJSON(app)  # NaN / Infinity never reach a script as "JSON"
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD
    app.jinja_env.filters["plain"] = report.plain_words  # pattern titles, never internal ids
    if behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    hosts = {"127.0.0.1", "localhost", "[::1]"} | {h.lower() for h in allowed_hosts or ()}
    clinic_key_id = key_id_of(key_file)
    anon_key = secrets.token_bytes(32)  # anonymous visits' CSRF tokens; never stored
    logins = throttle.LoginThrottle(store=factory)  # counted in the database: every process shares them

    @app.before_request
    def _gate() -> Any:
        if _host_only(request.host) not in hosts:
            abort(400, "This desk does not answer to that host name.")
        g.db = factory()
        g.ws = auth.visit(g.db, request.cookies.get(COOKIE), anon_key)
        g.new_token = g.ws.token if g.ws.new_cookie else None
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
            resp.set_cookie(COOKIE, g.new_token, httponly=True, samesite="Strict", secure=secure_cookies,
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

    def done(message: str, target: str) -> WerkzeugResponse:
        g.db.commit()
        return redirect(f"{target}{'&' if '?' in target else '?'}msg={quote(message)}")

    # ------------------------------------------------------------ login

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error, status = None, 200
        if request.method == "POST":
            got = auth.attempt_login(g.db, logins, request.remote_addr or "?",
                                     request.form.get("name", ""), request.form.get("password", ""))
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
        loans_ = list(g.db.scalars(select(db.Loan).where(db.Loan.unit_id == unit_id)
                                   .order_by(db.Loan.lent_at.desc())))
        bundles = list(g.db.scalars(select(db.Bundle).where(db.Bundle.unit_id == unit_id)
                                    .order_by(db.Bundle.imported_at.desc()).limit(50)))
        known = [a for a, _n in registry.aliases(g.db)]
        return render_template("unit.html", u=u, loans=loans_, current=registry.current_loan(g.db, unit_id),
                               allowed=set(deskloans.allowed(u.state)), bundles=bundles, aliases=known,
                               msg=request.args.get("msg"), error=request.args.get("error"),
                               due=(dt.date.today() + dt.timedelta(weeks=6)).isoformat())

    def unit_error(unit_id: str, exc: Exception) -> Any:
        g.db.rollback()
        return redirect(url_for("unit_page", unit_id=unit_id, error=str(exc)))

    def clinic_secret() -> bytes | None:
        """The clinic key that signs sticks and bundles (None: none given or unreadable)."""
        try:
            return unit.read_secret(key_file) if key_file is not None else None
        except unit.ClinicKeyError:
            return None

    def on_stick() -> Path:
        """The form's stick folder, only inside a stick root (else StickPathError, said plainly)."""
        return stickroots.stick_folder(request.form.get("folder", ""), stick_roots)

    def unit_step(unit_id: str, act: Callable[[], str]) -> Any:
        """Run one loan-cycle action; a refusal changes nothing and says why on the unit page."""
        try:
            text = act()
        except registry.DeskError as exc:
            return unit_error(unit_id, exc)
        except stickroots.StickPathError as exc:
            return unit_error(unit_id, registry.DeskError(f"{exc} Nothing was changed."))
        return done(text, url_for("unit_page", unit_id=unit_id))

    @app.post("/units/<unit_id>/lend")
    def lend(unit_id: str) -> Any:
        try:
            due = dt.date.fromisoformat(request.form.get("due_on", ""))
        except ValueError:
            return unit_error(unit_id, registry.DeskError("Give the due date as YYYY-MM-DD."))

        def act() -> str:
            loan = registry.lend(g.db, g.who, unit_id, request.form.get("alias", "").strip(), due)
            return f"Unit {unit_id} lent to {loan.alias}. Now write its stick."
        return unit_step(unit_id, act)

    @app.post("/loans/<int:loan_id>/return")
    def return_loan(loan_id: int) -> Any:
        loan = g.db.get(db.Loan, loan_id) or abort(404)
        return unit_step(loan.unit_id, lambda: registry.record_return(
            g.db, g.who, loan_id, on_stick(), key_file))

    @app.post("/loans/<int:loan_id>/stick")
    def stick(loan_id: int) -> Any:
        loan = g.db.get(db.Loan, loan_id) or abort(404)
        return unit_step(loan.unit_id, lambda: registry.write_stick(
            g.db, g.who, loan_id, on_stick(), key_file, request.form.get("kind", "lend")))

    @app.post("/units/<unit_id>/records")
    def import_records(unit_id: str) -> Any:
        g.db.get(db.Unit, unit_id) or abort(404)
        return unit_step(unit_id, lambda: registry.import_return(
            g.db, factory, g.who, unit_id, on_stick(), clinic_secret()))

    @app.post("/units/<unit_id>/discard")
    def discard(unit_id: str) -> Any:
        g.db.get(db.Unit, unit_id) or abort(404)
        return unit_step(unit_id, lambda: registry.discard_records(
            g.db, g.who, unit_id, request.form.get("name", ""), request.form.get("reason", "")))

    @app.post("/units/<unit_id>/wiped")
    def wiped(unit_id: str) -> Any:
        g.db.get(db.Unit, unit_id) or abort(404)
        return unit_step(unit_id, lambda: registry.confirm_wipe(
            g.db, g.who, unit_id, request.form.get("folder", "")))

    # ------------------------------------------------------------ prescriptions

    @app.route("/prescribe", methods=["GET", "POST"])
    def prescribe() -> Any:
        alias = request.values.get("alias", "").strip()
        errors: dict[str, str] = {}
        warnings: list[str] = []
        if request.method == "POST":
            form = request.form.to_dict()
            text, ids = rxform.to_toml(form)
            result = rx.validate_bytes(text.encode("utf-8"))
            warnings = result.warnings
            if result.ok and rxform.warnings_accepted(warnings, form.get("confirm", "")):
                p = registry.save_prescription(g.db, g.who, text.encode("utf-8"), accepted=warnings)
                return done(f"Prescription saved for {p.alias}.", url_for("patient_page", alias=p.alias))
            errors = rxform.field_errors(result.problems, ids)
        else:
            latest = registry.latest_prescription(g.db, alias) if alias else None
            form = rxform.from_toml(latest.toml) if latest else rxform.new_form(alias)
        return render_template("prescribe.html", form=form, errors=errors, warnings=warnings,
                               confirm=rxform.warnings_token(warnings), choices=rxform.choices(),
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
            res = importer.import_path(factory, path, g.who, clinic_secret(), label=label)
        except importer.BundleRefused as exc:
            return "refused", f"{label} refused: {exc} Nothing was changed."
        return res.status, res.message

    # ------------------------------------------------------------ patients

    @app.get("/patients")
    def patients_page() -> Any:
        everyone = registry.aliases(g.db)
        page = max(1, request.args.get("page", 1, type=int) or 1)
        return render_template("patients.html", aliases=everyone[(page - 1) * PAGE_ROWS:page * PAGE_ROWS],
                               page=page, pages=max(1, -(-len(everyone) // PAGE_ROWS)))

    @app.get("/patients/<alias>")
    def patient_page(alias: str) -> Any:
        if not rx.ALIAS_RE.fullmatch(alias):
            abort(404)
        data, sessions, _reps = patients.build(g.db, alias, full=False)
        charts = {name: report.chart_svg(name, data) for name in report.CHART_ORDER} if sessions else {}
        loans_ = list(g.db.scalars(select(db.Loan).where(db.Loan.alias == alias).order_by(db.Loan.lent_at)))
        history = list(reversed(patients.prescriptions(g.db, alias)))
        page = max(1, request.args.get("page", 1, type=int) or 1)
        ck = data.checkins
        return render_template("patient.html", alias=alias, data=data, sessions=sessions, charts=charts,
                               checkins=ck, checkin_charts={mv: checkin_figures.chart_svg(t) for mv, t in
                                                            ck.trends.items()},
                               checkin_table=checkin_figures.first_latest_change(ck),
                               checkin_rest=checkin_figures.rest_rows(ck), checkin_label=checkin_figures.LABEL,
                               checkin_signs=checkin_figures.SIGNS,
                               no_score=checkin_figures.NO_SCORE, movement_names=checkin_figures.NAMES,
                               titles=report.CHARTS, figures=data.figures,
                               headline=data.figures.headline(data.prescribed_per_day),
                               table=data.figures.first_last(), quality_rows=report.quality_rows(data),
                               history=history[(page - 1) * PAGE_ROWS:page * PAGE_ROWS], page=page,
                               pages=max(1, -(-len(history) // PAGE_ROWS)), loans=loans_,
                               msg=request.args.get("msg"))

    @app.get("/patients/<alias>/report.pdf")
    def patient_pdf(alias: str) -> Any:
        if not rx.ALIAS_RE.fullmatch(alias):
            abort(404)
        data, sessions, _reps = patients.build(g.db, alias, full=False)
        if not sessions:
            abort(404)
        data.unit_id = ", ".join(sorted({x["unit_id"] for x in sessions}))
        with tempfile.TemporaryDirectory(prefix="desk-pdf-") as tmp:
            path = Path(tmp) / "report.pdf"
            report.render_pdf(data, path)
            body = path.read_bytes()
        registry.audit(g.db, g.who, "export", f"PDF report for {alias}")
        g.db.commit()
        return Response(body, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="report-{alias}.pdf"'})

    @app.get("/audit")
    def audit_page() -> Any:
        page = max(1, request.args.get("page", 1, type=int) or 1)
        total = g.db.scalar(select(func.count()).select_from(db.Audit)) or 0
        rows = list(g.db.scalars(select(db.Audit).order_by(db.Audit.id.desc())
                                 .offset((page - 1) * PAGE_ROWS).limit(PAGE_ROWS)))
        return render_template("audit.html", rows=rows, page=page, pages=max(1, -(-total // PAGE_ROWS)))

    # ------------------------------------------------------------ JSON API

    @app.get("/api/units")
    def api_units() -> Any:
        out = []
        for u in g.db.scalars(select(db.Unit).order_by(db.Unit.id)):
            loan = registry.open_loan(g.db, u.id)
            out.append({"id": u.id, "key_id": u.key_id, "state": u.state, "state_words": db.STATE_WORDS[u.state],
                        "allowed": deskloans.allowed(u.state),
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

    @app.get("/api/patients/<alias>/checkins.fhir.json")
    def api_patient_checkins_fhir(alias: str) -> Any:
        if alias not in {a for a, _n in registry.aliases(g.db)}:
            abort(404)
        body = fhir.bundle(*patients.checkin_rows(g.db, alias), alias=alias)
        return Response(json.dumps(body, allow_nan=False), mimetype="application/fhir+json")

    return app
