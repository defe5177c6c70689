"""The loan cycle's steps on a unit's page (the ``lending`` blueprint).

Lend a unit, write its lend or return stick, record the return, read the records back from
the return stick, discard records that cannot be read, confirm the wipe. Each step is one
call into :mod:`station.desk.registry`, which obeys the loan cycle (:mod:`station.desk.loans`);
a refusal changes nothing and says why on the unit's page. Sticks are read and written only
under the desk's stick roots (:mod:`station.desk.stickroots`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Blueprint, abort, g, redirect, url_for
from werkzeug.wrappers import Response

from station.desk import db, registry, stickroots
from station.desk.web.common import desk, done
from station.desk.web.forms import DiscardForm, FolderForm, LendForm, StickForm

bp = Blueprint("lending", __name__)


def _refused(unit_id: str, exc: Exception) -> Response:
    g.db.rollback()
    return redirect(url_for("units.unit_page", unit_id=unit_id, error=str(exc)))


def _on_stick(form: FolderForm) -> Path:
    """The form's stick folder, only inside a stick root (else StickPathError, said plainly)."""
    return stickroots.stick_folder(form.folder.data, desk().stick_roots)


def _step(unit_id: str, act: Callable[[], str]) -> Response:
    """Run one loan-cycle action; a refusal changes nothing and says why on the unit page."""
    try:
        text = act()
    except registry.DeskError as exc:
        return _refused(unit_id, exc)
    except stickroots.StickPathError as exc:
        return _refused(unit_id, registry.DeskError(f"{exc} Nothing was changed."))
    return done(text, url_for("units.unit_page", unit_id=unit_id))


def _unit(unit_id: str) -> str:
    """``unit_id`` when that unit is registered (else 404)."""
    g.db.get(db.Unit, unit_id) or abort(404)
    return unit_id


def _loan(loan_id: int) -> db.Loan:
    return g.db.get(db.Loan, loan_id) or abort(404)


@bp.post("/units/<unit_id>/lend")
def lend(unit_id: str) -> Response:
    """Lend the unit to an alias until a due date."""
    form = LendForm()
    due = form.due_on.data
    if due is None:
        return _refused(unit_id, registry.DeskError("Give the due date as YYYY-MM-DD."))

    def act() -> str:
        loan = registry.lend(g.db, g.who, unit_id, form.alias.data, due)
        return f"Unit {unit_id} lent to {loan.alias}. Now write its stick."
    return _step(unit_id, act)


@bp.post("/loans/<int:loan_id>/return")
def return_loan(loan_id: int) -> Response:
    """Record the return: writes the return stick (no return without one)."""
    loan, form = _loan(loan_id), FolderForm()
    return _step(loan.unit_id, lambda: registry.record_return(
        g.db, g.who, loan_id, _on_stick(form), desk().key_file))


@bp.post("/loans/<int:loan_id>/stick")
def stick(loan_id: int) -> Response:
    """Write the loan's lend stick, or its return stick again."""
    loan, form = _loan(loan_id), StickForm()
    return _step(loan.unit_id, lambda: registry.write_stick(
        g.db, g.who, loan_id, _on_stick(form), desk().key_file, form.kind.data))


@bp.post("/units/<unit_id>/records")
def import_records(unit_id: str) -> Response:
    """Read the returned records from the return stick (verified, all or nothing)."""
    form = FolderForm()
    return _step(_unit(unit_id), lambda: registry.import_return(
        g.db, desk().factory, g.who, unit_id, _on_stick(form), desk().clinic_secret()))


@bp.post("/units/<unit_id>/discard")
def discard(unit_id: str) -> Response:
    """Give up on records that cannot be imported (a named person and a reason)."""
    form = DiscardForm()
    return _step(_unit(unit_id), lambda: registry.discard_records(
        g.db, g.who, unit_id, form.name.data, form.reason.data))


@bp.post("/units/<unit_id>/wiped")
def wiped(unit_id: str) -> Response:
    """Confirm the wipe from the unit's own result file on the stick."""
    form = FolderForm()
    return _step(_unit(unit_id), lambda: registry.confirm_wipe(g.db, g.who, unit_id, form.folder.data))
