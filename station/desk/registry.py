"""The loan cycle as plain functions over the desk database: units, loans, prescriptions, sticks.

Each function takes an open SQLAlchemy session and the acting account's name, checks its input
(raising :class:`DeskError` with a sentence for the page), changes the rows and writes one
audit line. The web pages and the command line call these; neither touches the tables itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from station.clinic import prescription as rx
from station.clinic import stickrequest, unit
from station.desk import db, importer, loans
from station.files import read_limited


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


def current_loan(s: Session, unit_id: str) -> db.Loan | None:
    """The unit's newest loan (open, or back and not yet wiped, or the last one)."""
    return s.scalar(select(db.Loan).where(db.Loan.unit_id == unit_id)
                    .order_by(db.Loan.lent_at.desc(), db.Loan.id.desc()).limit(1))


def _unit(s: Session, unit_id: str) -> db.Unit:
    u = s.get(db.Unit, unit_id)
    if u is None:
        raise DeskError(f"Unit {unit_id} is not registered.")
    return u


def step(u: db.Unit, action: str) -> str:
    """The unit's next state after ``action`` (the loan cycle's table), else DeskError."""
    try:
        return loans.check(u.state, action, u.id)
    except loans.Refused as exc:
        raise DeskError(str(exc)) from None


def lend(s: Session, who: str, unit_id: str, alias: str, due_on: dt.date) -> db.Loan:
    """Lend a unit to a patient alias until ``due_on`` (only a new or wiped unit)."""
    u = _unit(s, unit_id)
    nxt = step(u, loans.LEND)
    if not rx.ALIAS_RE.fullmatch(alias or ""):
        raise DeskError("An alias is a pseudonymous code of 1-32 letters, digits, - or _ (never a name).")
    if open_loan(s, unit_id) is not None:  # cannot happen through the table; never trust it alone
        raise DeskError(f"Unit {unit_id} is lent already: record its return first.")
    if due_on < dt.date.today():
        raise DeskError("The due date is in the past.")
    loan = db.Loan(unit_id=unit_id, alias=alias, due_on=due_on, lent_by=who)
    s.add(loan)
    u.state = nxt
    s.flush()
    audit(s, who, "lend", f"unit {unit_id} to {alias}, due {due_on.isoformat()} (loan {loan.id})")
    return loan


def record_return(s: Session, who: str, loan_id: int, folder: Path | str, key_file: Path | None) -> str:
    """The unit is back: record it and write the return stick (export, then wipe) in one step.

    Without a stick there is no return: a recorded return that no stick follows is how one
    patient's records reach the next. Returns the sentence for the page.
    """
    loan = s.get(db.Loan, loan_id)
    if loan is None:
        raise DeskError("No such loan.")
    u = _unit(s, loan.unit_id)
    nxt = step(u, loans.RETURN)
    if loan.returned_at is not None or open_loan(s, u.id) is not loan:
        raise DeskError(f"Loan {loan.id} is not the open loan of unit {u.id}. Nothing was changed.")
    text = _return_stick(s, who, loan, u, folder, key_file)
    loan.returned_at, loan.returned_by = db.utcnow(), who
    u.state = nxt
    audit(s, who, "return", f"unit {loan.unit_id} from {loan.alias} (loan {loan.id})")
    return text


def _stick_folder(folder: Path | str) -> Path:
    text = str(folder).strip()
    if not text:
        raise DeskError("Give the folder of the mounted stick (for example /media/STICK). Nothing was changed.")
    path = Path(text).expanduser()
    if not path.is_dir():
        raise DeskError(f"{path} is not a folder (is the stick mounted?). Nothing was changed.")
    return path


def _secret(key_file: Path | None, u: db.Unit) -> bytes:
    if key_file is None:
        raise DeskError("No clinic key file: start the desk with --key-file. Nothing was changed.")
    try:
        secret = unit.read_secret(key_file)
    except unit.ClinicKeyError:
        raise DeskError("The clinic key file could not be read: see 'station desk serve --key-file'.") from None
    if unit.key_id(secret) != u.key_id:
        raise DeskError(f"Unit {u.id} has another clinic key than this desk's.")
    return secret


def _clear_result(folder: Path, unit_id: str) -> None:
    """Remove a result file an earlier run left: only the unit's run of this stick may write one."""
    old = folder / stickrequest.STICK_FOLDER / f"result-{unit_id}.txt"
    if old.is_file() and not old.is_symlink():
        old.unlink()


def _return_stick(s: Session, who: str, loan: db.Loan, u: db.Unit, folder: Path | str,
                  key_file: Path | None) -> str:
    path = _stick_folder(folder)
    secret = _secret(key_file, u)
    try:
        req = stickrequest.make_stick(path, secret, u.id, wipe_after_export=True)
        _clear_result(path, u.id)
    except (ValueError, OSError) as exc:
        raise DeskError(f"The stick could not be written: {exc}. Nothing was changed.") from None
    loan.return_nonce, loan.return_stick_at = req.nonce, db.utcnow()
    audit(s, who, "stick", f"unit {u.id}, loan {loan.id}: export and wipe after export ({', '.join(req.actions)})")
    return (f"Return of unit {u.id} recorded and its return stick written (export, then wipe). "
            "Put the stick in the unit, wait for \"Safe to remove the stick.\", then read the stick here.")


def write_stick(s: Session, who: str, loan_id: int, folder: Path, key_file: Path | None, kind: str) -> str:
    """Write a signed stick for a loan into ``folder``; returns a sentence for the page.

    ``kind`` "lend": the alias's newest prescription (and an export of anything still on the
    unit). ``kind`` "return": export, then wipe after the verified export (again: the first
    return stick is written with the return). The clinic key is read from ``key_file`` here
    and goes nowhere else.
    """
    loan = s.get(db.Loan, loan_id)
    if loan is None:
        raise DeskError("No such loan.")
    u = _unit(s, loan.unit_id)
    if kind not in ("lend", "return"):
        raise DeskError(f"Unknown stick kind {kind!r}.")
    nxt = step(u, loans.LEND_STICK if kind == "lend" else loans.RETURN_STICK)
    if loan is not current_loan(s, u.id):
        raise DeskError(f"Loan {loan.id} is not unit {u.id}'s current loan. Nothing was changed.")
    if kind == "return":
        text = _return_stick(s, who, loan, u, folder, key_file)
        u.state = nxt
        return text
    path = _stick_folder(folder)
    secret = _secret(key_file, u)
    p = latest_prescription(s, loan.alias)
    if p is None:
        raise DeskError(f"Write a prescription for {loan.alias} first.")
    with tempfile.TemporaryDirectory(prefix="desk-rx-") as tmp:
        rx_path = Path(tmp) / "prescription.toml"
        rx_path.write_bytes(p.toml.encode("utf-8"))
        try:
            req = stickrequest.make_stick(path, secret, u.id, prescription=rx_path)
            _clear_result(path, u.id)
        except (ValueError, OSError) as exc:
            raise DeskError(str(exc)) from None
    loan.lend_stick_at = db.utcnow()
    u.state = nxt
    audit(s, who, "stick", f"unit {u.id}, loan {loan.id}: prescription {p.id} for {loan.alias}"
          f" ({', '.join(req.actions)})")
    return f"Stick written for unit {u.id}: {', '.join(req.actions).replace('_', ' ')}."


# ---------------------------------------------------------------- the return stick, read back


def _read_small(path: Path, limit: int) -> bytes | None:
    try:
        return read_limited(path, limit)
    except OSError:
        return None


def _returned_loan(s: Session, u: db.Unit) -> db.Loan:
    loan = current_loan(s, u.id)
    if loan is None or loan.returned_at is None:
        raise DeskError(f"Unit {u.id} has no returned loan. Nothing was changed.")
    return loan


def stick_result(u: db.Unit, loan: db.Loan, folder: Path | str) -> tuple[Path, loans.StickResult]:
    """(stick folder, what the unit said) for the return stick of ``loan``, or DeskError.

    The stick must still carry the request this desk wrote for that return (its nonce), and the
    unit's own result file: the desk removed any older one when it wrote the stick.
    """
    path = _stick_folder(folder)
    top = path / stickrequest.STICK_FOLDER
    raw = _read_small(top / stickrequest.REQUEST, stickrequest.MAX_REQUEST_BYTES)
    try:
        nonce = json.loads(raw.decode("utf-8")).get("nonce") if raw else None
    except (UnicodeDecodeError, ValueError, AttributeError):
        nonce = None
    if not loan.return_nonce or nonce != loan.return_nonce:
        raise DeskError(f"The stick in {path} is not the return stick written for unit {u.id} "
                        f"(loan {loan.id}): write the return stick again. Nothing was changed.")
    text = _read_small(top / f"result-{u.id}.txt", 64 * 1024)
    if text is None:
        raise DeskError(f"The stick has no result file from unit {u.id} (result-{u.id}.txt): put it in "
                        "the unit first and wait for \"Safe to remove the stick\". Nothing was changed.")
    return path, loans.StickResult.parse(text.decode("utf-8", "replace"))


def import_return(s: Session, factory: sessionmaker, who: str, unit_id: str, folder: Path | str,
                  secret: bytes | None = None) -> str:
    """Import the records the unit copied to its return stick; then confirm the wipe if it says so.

    ``secret`` is the clinic key: only a bundle the unit signed with it is read.
    """
    u = _unit(s, unit_id)
    nxt = step(u, loans.IMPORT)
    loan = _returned_loan(s, u)
    path, result = stick_result(u, loan, folder)
    if result.export_folder is None:
        raise DeskError(f"Unit {u.id} did not copy its records to this stick (see its result file): put "
                        "the stick in again, or write the return stick again. Nothing was changed.")
    bundle = path / stickrequest.STICK_FOLDER / stickrequest.EXPORT_FOLDER / result.export_folder
    try:
        res = importer.import_path(factory, bundle, who, secret)
    except importer.BundleRefused as exc:
        raise DeskError(f"The records on the stick were refused: {exc} Nothing was changed.") from None
    if res.unit_id != u.id:
        raise DeskError(f"The records on the stick are from unit {res.unit_id}, not {u.id}.")
    loan.records, loan.records_bundle_id, loan.records_by = "imported", res.bundle_id, who
    u.state = nxt
    audit(s, who, "records", f"unit {u.id}, loan {loan.id}: records imported from the return stick"
          f" (bundle {res.bundle_id}, {res.sessions_added} new sessions)")
    text = f"Records of unit {u.id} imported ({res.sessions_added} new sessions for {loan.alias})."
    if result.wiped:
        return f"{text} {confirm_wipe(s, who, u.id, path)}"
    return (f"{text} The unit has not said that it holds no patient records: put the stick in "
            "again (or write the return stick again), then confirm the wipe here.")


def discard_records(s: Session, who: str, unit_id: str, name: str, reason: str) -> str:
    """The records of the returned loan will not be imported: a named person says why."""
    u = _unit(s, unit_id)
    nxt = step(u, loans.DISCARD)
    loan = _returned_loan(s, u)
    name, reason = name.strip(), " ".join(reason.split())
    if len(name) < 2 or len(name) > 64:
        raise DeskError("Give your name (who discards the records). Nothing was changed.")
    if len(reason) < 10:
        raise DeskError("Say why the records are discarded (at least a short sentence). Nothing was changed.")
    loan.records, loan.records_by, loan.discard_reason = "discarded", f"{name} ({who})", reason[:500]
    u.state = nxt
    audit(s, who, "discard", f"unit {u.id}, loan {loan.id} ({loan.alias}): records discarded by "
          f"{name}: {reason[:500]}")
    return (f"The records of unit {u.id} (loan {loan.id}) are discarded. Confirm the wipe from the "
            "return stick's result file.")


def confirm_wipe(s: Session, who: str, unit_id: str, folder: Path | str) -> str:
    """The unit's result file on the return stick says it holds no patient records: ready."""
    u = _unit(s, unit_id)
    nxt = step(u, loans.CONFIRM_WIPE)
    loan = _returned_loan(s, u)
    _path, result = stick_result(u, loan, folder)
    if not result.wiped:
        raise DeskError(f"Unit {u.id}'s result file does not say that it holds no patient records: put "
                        "the stick in again, or write the return stick again. Nothing was changed.")
    loan.wiped_at, loan.wiped_by = db.utcnow(), who
    u.state = nxt
    audit(s, who, "wiped", f"unit {u.id}, loan {loan.id}: wipe confirmed by result-{u.id}.txt "
          f"on the return stick")
    return f"Unit {u.id} is wiped and ready for the next loan."


def save_prescription(s: Session, who: str, data: bytes, accepted: list[str] | None = None) -> db.Prescription:
    """Store a prescription that the unit's own validator accepts (else DeskError);
    ``accepted``: its warnings, which the technician saw and saved anyway (audited)."""
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
    seen = f"; warnings accepted: {'; '.join(accepted)}" if accepted else ""
    audit(s, who, "prescribe", f"{new.alias}: {p.changes} (prescription {p.id}){seen}")
    return p


def latest_prescription(s: Session, alias: str) -> db.Prescription | None:
    """The newest prescription for ``alias``."""
    return s.scalar(select(db.Prescription).where(db.Prescription.alias == alias)
                    .order_by(db.Prescription.created_at.desc(), db.Prescription.id.desc()).limit(1))


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
