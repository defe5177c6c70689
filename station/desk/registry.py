"""The loan cycle as plain functions over the desk database: units, loans, prescriptions, sticks.

Each function takes an open SQLAlchemy session and the acting account's name, checks its input
(raising :class:`DeskError` with a sentence for the page), changes the rows and writes one
audit line. The web pages and the command line call these; neither touches the tables itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from station.clinic import prescription as rx
from station.clinic import stick, unit
from station.desk import db


class DeskError(ValueError):
    """Bad input on a desk form; the message is shown next to the form."""


def audit(s: Session, who: str, action: str, what: str) -> None:
    """Add one audit line (committed with the change it describes)."""
    s.add(db.Audit(who=who, action=action, what=what))


def register_unit(s: Session, who: str, unit_id: str, key_id: str, clinic_key_id: str | None) -> db.Unit:
    """Register a unit by its id (from its info screen) and its clinic key id."""
    unit_id, key_id = unit_id.strip(), key_id.strip().lower()
    if not unit.UNIT_ID_RE.fullmatch(unit_id):
        raise DeskError("A unit id is 3-40 letters, digits or - (as on the unit's info screen).")
    if len(key_id) != 16 or any(c not in "0123456789abcdef" for c in key_id):
        raise DeskError("A clinic key id is 16 characters 0-9 and a-f (as on the unit's info screen).")
    if clinic_key_id is not None and key_id != clinic_key_id:
        raise DeskError("This unit has another clinic's key: this desk's sticks would not work on it.")
    if s.get(db.Unit, unit_id) is not None:
        raise DeskError(f"Unit {unit_id} is registered already.")
    u = db.Unit(id=unit_id, key_id=key_id, state=db.AT_CLINIC, registered_by=who)
    s.add(u)
    audit(s, who, "register", f"unit {unit_id}")
    return u


def open_loan(s: Session, unit_id: str) -> db.Loan | None:
    """The unit's loan that has not been returned yet."""
    return s.scalar(select(db.Loan).where(db.Loan.unit_id == unit_id, db.Loan.returned_at.is_(None)))


def lend(s: Session, who: str, unit_id: str, alias: str, due_on: dt.date) -> db.Loan:
    """Lend a unit to a patient alias until ``due_on``."""
    u = s.get(db.Unit, unit_id)
    if u is None:
        raise DeskError(f"Unit {unit_id} is not registered.")
    if not rx.ALIAS_RE.fullmatch(alias or ""):
        raise DeskError("An alias is a pseudonymous code of 1-32 letters, digits, - or _ (never a name).")
    if u.state == db.LENT or open_loan(s, unit_id) is not None:
        raise DeskError(f"Unit {unit_id} is lent already: record its return first.")
    if u.state == db.RETURNED:
        raise DeskError(f"Unit {unit_id} still holds the previous patient's records: wipe it first.")
    if due_on < dt.date.today():
        raise DeskError("The due date is in the past.")
    loan = db.Loan(unit_id=unit_id, alias=alias, due_on=due_on, lent_by=who)
    s.add(loan)
    u.state = db.LENT
    s.flush()
    audit(s, who, "lend", f"unit {unit_id} to {alias}, due {due_on.isoformat()} (loan {loan.id})")
    return loan


def record_return(s: Session, who: str, loan_id: int) -> db.Loan:
    """Record that a lent unit came back (its records are still on it until wiped)."""
    loan = s.get(db.Loan, loan_id)
    if loan is None or loan.returned_at is not None:
        raise DeskError("That loan is not open.")
    loan.returned_at, loan.returned_by = db.utcnow(), who
    u = s.get(db.Unit, loan.unit_id)
    assert u is not None
    u.state = db.RETURNED
    audit(s, who, "return", f"unit {loan.unit_id} from {loan.alias} (loan {loan.id})")
    return loan


def mark_wiped(s: Session, who: str, unit_id: str) -> None:
    """The unit said "This unit holds no patient records now.": ready for the next loan."""
    u = s.get(db.Unit, unit_id)
    if u is None or u.state not in (db.RETURNED, db.AT_CLINIC):
        raise DeskError("Only a returned unit can be marked wiped.")
    u.state = db.READY
    audit(s, who, "wiped", f"unit {unit_id}")


def save_prescription(s: Session, who: str, data: bytes) -> db.Prescription:
    """Store a prescription that the unit's own validator accepts (else DeskError)."""
    result = rx.validate_bytes(data)
    if not result.ok or result.prescription is None:
        raise DeskError("; ".join(map(str, result.problems)))
    new = result.prescription
    prev = latest_prescription(s, new.alias)
    if prev is not None:
        old = rx.validate_bytes(prev.toml.encode("utf-8")).prescription
        changes = rx._changes(old, new) if old is not None else ["first prescription"]
    else:
        changes = ["first prescription"]
    p = db.Prescription(alias=new.alias, toml=data.decode("utf-8"), sha256=hashlib.sha256(data).hexdigest(),
                        summary=new.summary(), changes="; ".join(changes), created_by=who)
    s.add(p)
    s.flush()
    audit(s, who, "prescribe", f"{new.alias}: {p.changes} (prescription {p.id})")
    return p


def latest_prescription(s: Session, alias: str) -> db.Prescription | None:
    """The newest prescription for ``alias``."""
    return s.scalar(select(db.Prescription).where(db.Prescription.alias == alias)
                    .order_by(db.Prescription.created_at.desc(), db.Prescription.id.desc()).limit(1))


def write_stick(s: Session, who: str, loan_id: int, folder: Path, key_file: Path, kind: str) -> str:
    """Write a signed stick for a loan into ``folder``; returns a sentence for the page.

    ``kind`` "lend": the alias's newest prescription (and an export of anything still on the
    unit). ``kind`` "return": export, then wipe after the verified export. The clinic key is
    read from ``key_file`` here and goes nowhere else.
    """
    loan = s.get(db.Loan, loan_id)
    if loan is None:
        raise DeskError("No such loan.")
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DeskError(f"{folder} is not a folder (is the stick mounted?).")
    try:
        secret = unit.read_secret(key_file)
    except unit.ClinicKeyError:
        raise DeskError("The clinic key file could not be read: see 'station desk serve --key-file'.") from None
    u = s.get(db.Unit, loan.unit_id)
    assert u is not None
    if unit.key_id(secret) != u.key_id:
        raise DeskError(f"Unit {u.id} has another clinic key than this desk's.")
    if kind == "lend":
        p = latest_prescription(s, loan.alias)
        if p is None:
            raise DeskError(f"Write a prescription for {loan.alias} first.")
        with tempfile.TemporaryDirectory(prefix="desk-rx-") as tmp:
            path = Path(tmp) / "prescription.toml"
            path.write_bytes(p.toml.encode("utf-8"))
            try:
                req = stick.make_stick(folder, secret, u.id, prescription=path)
            except (ValueError, OSError) as exc:
                raise DeskError(str(exc)) from None
        what = f"prescription {p.id} for {loan.alias}"
    elif kind == "return":
        try:
            req = stick.make_stick(folder, secret, u.id, wipe_after_export=True)
        except (ValueError, OSError) as exc:
            raise DeskError(str(exc)) from None
        what = "export and wipe after export"
    else:
        raise DeskError(f"Unknown stick kind {kind!r}.")
    audit(s, who, "stick", f"unit {u.id}, loan {loan.id}: {what} ({', '.join(req.actions)})")
    return f"Stick written for unit {u.id}: {', '.join(req.actions).replace('_', ' ')}."


def overdue(s: Session, today: dt.date | None = None) -> list[db.Loan]:
    """Open loans past their due date, oldest first."""
    today = today or dt.date.today()
    return list(s.scalars(select(db.Loan).where(db.Loan.returned_at.is_(None), db.Loan.due_on < today)
                          .order_by(db.Loan.due_on)))


def aliases(s: Session) -> list[tuple[str, int]]:
    """Every alias the desk knows (loans, prescriptions, sessions) with its session count."""
    names = set(s.scalars(select(db.Loan.alias))) | set(s.scalars(select(db.Prescription.alias)))
    counts = {a: n for a, n in s.execute(
        select(db.PracticeSession.alias, func.count()).group_by(db.PracticeSession.alias))}
    names |= {a for a in counts if a}
    return [(a, int(counts.get(a, 0))) for a in sorted(names)]
