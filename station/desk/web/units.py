"""The front page, the units and the audit log (the ``units`` blueprint).

``/`` lists every unit with its open loan, the overdue ones and the latest changes; ``/units``
registers a unit (:func:`station.desk.registry.register_unit` decides what is valid);
``/units/<id>`` is a unit's page with the loan-cycle steps its state allows
(:mod:`station.desk.loans`); ``/audit`` is the whole audit log, newest first.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, g, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from station.desk import db, registry
from station.desk import loans as cycle
from station.desk.web.common import PAGE_ROWS, desk, done, page_number, pages
from station.desk.web.forms import UnitForm

bp = Blueprint("units", __name__)
LOAN_WEEKS = 6  # the due date the lend form suggests


@bp.get("/")
def index() -> str:
    """Units and loans: what is out, what is overdue, what changed last."""
    units = list(g.db.scalars(select(db.Unit).order_by(db.Unit.id)))
    loans = {u.id: registry.open_loan(g.db, u.id) for u in units}
    audit = list(g.db.scalars(select(db.Audit).order_by(db.Audit.id.desc()).limit(8)))
    return render_template("index.html", units=units, loans=loans, overdue=registry.overdue(g.db),
                           audit=audit, msg=request.args.get("msg"))


@bp.post("/units")
def add_unit() -> Response | tuple[str, int]:
    """Register a unit; a refusal shows the front page again with the reason and what was typed."""
    form = UnitForm()
    try:
        u = registry.register_unit(g.db, g.who, form.unit_id.data, form.key_id.data, desk().clinic_key_id)
    except registry.DeskError as exc:
        g.db.rollback()
        return render_template("index.html", units=list(g.db.scalars(select(db.Unit))), loans={},
                               overdue=registry.overdue(g.db), audit=[], form_error=str(exc),
                               form={"unit_id": form.unit_id.data, "key_id": form.key_id.data}), 400
    return done(f"Unit {u.id} registered.", url_for("units.unit_page", unit_id=u.id))


@bp.get("/units/<unit_id>")
def unit_page(unit_id: str) -> str:
    """One unit: its current loan, the steps its state allows, its loans and bundles."""
    u = g.db.get(db.Unit, unit_id) or abort(404)
    loans = list(g.db.scalars(select(db.Loan).where(db.Loan.unit_id == unit_id).order_by(db.Loan.lent_at.desc())))
    bundles = list(g.db.scalars(select(db.Bundle).where(db.Bundle.unit_id == unit_id)
                                .order_by(db.Bundle.imported_at.desc()).limit(50)))
    known = [a for a, _n in registry.aliases(g.db)]
    return render_template("unit.html", u=u, loans=loans, current=registry.current_loan(g.db, unit_id),
                           allowed=set(cycle.allowed(u.state)), bundles=bundles, aliases=known,
                           msg=request.args.get("msg"), error=request.args.get("error"),
                           due=(dt.date.today() + dt.timedelta(weeks=LOAN_WEEKS)).isoformat())


@bp.get("/audit")
def audit_page() -> str:
    """Every audited change, newest first, a page at a time."""
    page = page_number()
    total = g.db.scalar(select(func.count()).select_from(db.Audit)) or 0
    rows = list(g.db.scalars(select(db.Audit).order_by(db.Audit.id.desc())
                             .offset((page - 1) * PAGE_ROWS).limit(PAGE_ROWS)))
    return render_template("audit.html", rows=rows, page=page, pages=pages(total))
