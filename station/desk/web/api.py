"""The desk's JSON API (the ``api`` blueprint), read-only: ``/api/units``, ``/api/patients``,
``/api/patients/<alias>`` and a patient's weekly check-ins as a FHIR R4 Bundle
(:mod:`station.desk.fhir`). With accounts it needs a signed-in session like every page
(401, never a redirect)."""

from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, Response, abort, g, jsonify
from sqlalchemy import select

from station.desk import db, fhir, patients, registry
from station.desk import loans as cycle

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/units")
def units() -> Response:
    """Every unit with its state, the steps it allows and its open loan."""
    out = []
    for u in g.db.scalars(select(db.Unit).order_by(db.Unit.id)):
        loan = registry.open_loan(g.db, u.id)
        out.append({"id": u.id, "key_id": u.key_id, "state": u.state, "state_words": db.STATE_WORDS[u.state],
                    "allowed": cycle.allowed(u.state),
                    "alias": loan.alias if loan else None,
                    "lent_at": loan.lent_at.isoformat() if loan else None,
                    "due_on": loan.due_on.isoformat() if loan else None,
                    "overdue": bool(loan and loan.due_on < dt.date.today())})
    return jsonify(out)


@bp.get("/patients")
def patient_list() -> Response:
    """Every alias with its count of sessions."""
    return jsonify([{"alias": a, "sessions": n} for a, n in registry.aliases(g.db)])


def _known(alias: str) -> str:
    if alias not in {a for a, _n in registry.aliases(g.db)}:
        abort(404)
    return alias


@bp.get("/patients/<alias>")
def patient(alias: str) -> Response:
    """One patient's records as the patient page reads them."""
    return jsonify(patients.api(g.db, _known(alias)))


@bp.get("/patients/<alias>/checkins.fhir.json")
def checkins_fhir(alias: str) -> Response:
    """The patient's weekly check-ins as FHIR R4 Observations in one Bundle."""
    body = fhir.bundle(*patients.checkin_rows(g.db, _known(alias)), alias=alias)
    return Response(json.dumps(body, allow_nan=False), mimetype="application/fhir+json")
