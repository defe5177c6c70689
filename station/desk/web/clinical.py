"""Patients and their prescriptions (the ``clinical`` blueprint).

``/prescribe`` is the prescription form: what was typed becomes a prescription file
(:func:`station.desk.rxform.to_toml`) that the unit's own validator judges, so the desk
accepts exactly what a unit would; its warnings are shown before anything is saved.
``/patients`` lists the aliases; ``/patients/<alias>`` is a patient's page with the same
charts and figures as the PDF report (``report.pdf``), fed by :mod:`station.desk.patients`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, Response, abort, g, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as Redirect

from station.clinic import checkin_figures, report
from station.clinic import prescription as rx
from station.desk import db, patients, registry, rxform
from station.desk.web.common import PAGE_ROWS, done, page_number, pages

bp = Blueprint("clinical", __name__)


@bp.route("/prescribe", methods=["GET", "POST"])
def prescribe() -> Redirect | tuple[str, int]:
    """Write or change a prescription; the unit's validator decides, the form only carries it."""
    alias = request.values.get("alias", "").strip()
    errors: dict[str, str] = {}
    warnings: list[str] = []
    if request.method == "POST":
        form = request.form.to_dict()  # one field per pattern setting: the validator names them
        text, ids = rxform.to_toml(form)
        result = rx.validate_bytes(text.encode("utf-8"))
        warnings = result.warnings
        if result.ok and rxform.warnings_accepted(warnings, form.get("confirm", "")):
            p = registry.save_prescription(g.db, g.who, text.encode("utf-8"), accepted=warnings)
            return done(f"Prescription saved for {p.alias}.", url_for("clinical.patient_page", alias=p.alias))
        errors = rxform.field_errors(result.problems, ids)
    else:
        latest = registry.latest_prescription(g.db, alias) if alias else None
        form = rxform.from_toml(latest.toml) if latest else rxform.new_form(alias)
    return render_template("prescribe.html", form=form, errors=errors, warnings=warnings,
                           confirm=rxform.warnings_token(warnings), choices=rxform.choices(),
                           bounds=rx.PACING_BOUNDS, reps_bounds=rx.REPS_BOUNDS,
                           minutes=rxform.preview_minutes(form), timing=rxform.timing(),
                           intros=rxform.intro_seconds()), (400 if errors else 200)


@bp.get("/prescriptions/<int:pid>.toml")
def prescription_toml(pid: int) -> Response:
    """A saved prescription as the file a unit reads (the download is audited)."""
    p = g.db.get(db.Prescription, pid) or abort(404)
    registry.audit(g.db, g.who, "export", f"prescription {p.id} for {p.alias} downloaded")
    g.db.commit()
    return Response(p.toml, mimetype="application/toml", headers={
        "Content-Disposition": f'attachment; filename="prescription-{p.alias}-{p.id}.toml"'})


@bp.get("/patients")
def patients_page() -> str:
    """Every alias with records or a prescription, a page at a time."""
    everyone = registry.aliases(g.db)
    page = page_number()
    return render_template("patients.html", aliases=everyone[(page - 1) * PAGE_ROWS:page * PAGE_ROWS],
                           page=page, pages=pages(len(everyone)))


def _alias(alias: str) -> str:
    """``alias`` when it is shaped like one (else 404: nothing else reaches a query)."""
    if not rx.ALIAS_RE.fullmatch(alias):
        abort(404)
    return alias


@bp.get("/patients/<alias>")
def patient_page(alias: str) -> str:
    """A patient's page: the report's figures and charts, check-ins, prescriptions, loans."""
    data, sessions, _reps = patients.build(g.db, _alias(alias), full=False)
    charts = {name: report.chart_svg(name, data) for name in report.CHART_ORDER} if sessions else {}
    loans = list(g.db.scalars(select(db.Loan).where(db.Loan.alias == alias).order_by(db.Loan.lent_at)))
    history = list(reversed(patients.prescriptions(g.db, alias)))
    page = page_number()
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
                           pages=pages(len(history)), loans=loans, msg=request.args.get("msg"))


@bp.get("/patients/<alias>/report.pdf")
def patient_pdf(alias: str) -> Response:
    """The patient's PDF report (the same figures as the page; the export is audited)."""
    data, sessions, _reps = patients.build(g.db, _alias(alias), full=False)
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
