"""Importing a returned bundle: every byte checked before one row is written, then one transaction.

A unit comes back from a patient's home, so its bundle is hostile input. The order:

1. :func:`station.desk.bundlefile.open_bundle` opens the folder or zip without following a
   symlink, checks ``manifest.sig`` (the unit's HMAC with the clinic key) before it parses the
   manifest, checks the manifest against its schema and the per-file limits, and that the files
   are exactly the manifest's, with its sizes.
2. ``unit.json``, the prescription and the PDF are read whole (each small, under its limit),
   hashed, and checked: the unit id matches the manifest, the alias follows the alias rule, the
   prescription passes the unit's own validator and names the same alias, the PDF is a PDF.
3. ``sessions.csv`` and ``reps.csv`` are streamed through the one record parser
   (:class:`station.records.schema.RowReader`): every cell typed and bounded (text lengths and
   characters, no NUL, integers far below 2**31, finite numbers, times in 2000-2099), every rep
   belongs to a session of the file, at most :data:`SESSIONS_MAX` / :data:`REPS_MAX` rows, and the
   sha256 computed on the way must match the manifest. ``checkins.csv`` and
   ``checkin_movements.csv`` (the weekly check-in; absent from older bundles) go through the
   same parser: every movement belongs to a check-in of the file, at most :data:`CHECKINS_MAX`
   / :data:`CHECKIN_MOVEMENTS_MAX` rows. Other files are streamed and hashed.
4. Only then one database transaction: the bundle must not be known yet (else "imported
   already"), its unit must be registered, and the alias must be that of the unit's open loan
   (or its last one): a bundle naming another patient is refused, never filed under them. The
   rows are streamed a second time into batched inserts (their hash checked again before the
   commit), so memory stays bounded whatever the file size. A second import running at the same
   moment loses the race on the bundle's unique key and reports "imported already".

Row limits, from the prescription's bounds (:mod:`station.clinic.prescription`): at most 8
sessions a day, each at most 6 patterns x 10 reps, every day of a year is 8 x 60 x 366 =
175,680 done reps; with room for interrupted attempts, :data:`REPS_MAX` = 200,000 (a seeded year
of realistic practice is about 17,000). Sessions: 8 x 366 = 2,928 prescribed; with interrupted,
abandoned and extra sessions three times that, :data:`SESSIONS_MAX` = 10,000. A hostile
600,000-row ``reps.csv`` is refused by its size in the manifest before a byte of it is read.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from station.clinic import prescription as rx
from station.desk import db
from station.desk.bundlefile import Bundle, BundleRefused, find_bundles, load_json_object, open_bundle
from station.records import schema
from station.records.schema import CHOICE, TEXT, UTC_TIME, Field, RecordError

__all__ = ["BundleRefused", "ImportResult", "find_bundles", "import_path"]

SESSIONS_MAX = 10_000
REPS_MAX = 200_000
CHECKINS_MAX = 2_000  # a year of check-ins started every day, several times (most end early)
CHECKIN_MOVEMENTS_MAX = CHECKINS_MAX * 5
BATCH = 2_000
ATTEMPTS = 3
STREAMED_ONLY = ("events.csv", "calibrations.csv")
UNIT_INFO: tuple[Field, ...] = (
    Field("unit_id", TEXT, required=True, max_len=40, pattern=schema.ID_RE),
    Field("patient_alias", TEXT, max_len=32, pattern=rx.ALIAS_RE),
    Field("exported_utc", UTC_TIME, max_len=32),
    Field("affected_side", CHOICE, max_len=8, choices=("left", "right")),
)


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    status: str  # "imported" | "already"
    bundle_id: int
    unit_id: str
    alias: str | None
    sessions_added: int
    message: str


@dataclass(frozen=True)
class _Checked:
    """What step 2 found in the small files."""

    info: dict[str, Any]
    unit_json: str
    prescription: str | None
    pdf: bytes | None


def _refuse(exc: RecordError) -> BundleRefused:
    return BundleRefused(f"{exc}.")


def _small_files(b: Bundle) -> _Checked:
    assert b.manifest is not None
    raw = b.read_checked("unit.json")
    obj = load_json_object(raw, "unit.json")
    try:
        info = schema.parse_mapping(UNIT_INFO, obj, "unit.json")
    except RecordError as exc:
        raise _refuse(exc) from None
    if info["unit_id"] != b.manifest.unit_id:
        raise BundleRefused("unit.json and manifest.json name different units.")
    text = None
    if "prescription.toml" in b.manifest.files:
        data = b.read_checked("prescription.toml")
        result = rx.validate_bytes(data)
        if not result.ok or result.prescription is None:
            first = result.problems[0] if result.problems else "unreadable"
            raise BundleRefused(f"prescription.toml is not a valid prescription ({first}).")
        if info["patient_alias"] not in (None, result.prescription.alias):
            raise BundleRefused("prescription.toml and unit.json name different patients.")
        text = data.decode("utf-8")
    pdf = None
    if "report.pdf" in b.manifest.files:
        pdf = b.read_checked("report.pdf")
        if not pdf.startswith(b"%PDF-"):
            raise BundleRefused("report.pdf is not a PDF file.")
    for name in STREAMED_ONLY:
        if name in b.manifest.files:
            with b.stream(name):
                pass  # read to the end: size and sha256 checked
    return _Checked(info, raw.decode("utf-8"), text, pdf)


@contextmanager
def _rows(b: Bundle, name: str, record: tuple[Field, ...], limit: int) -> Iterator[Iterator[dict[str, Any]]]:
    """Typed rows of one CSV, streamed; its size and sha256 are checked when the block ends."""
    with b.stream(name) as h:
        try:
            reader = schema.RowReader(record, name, io.BufferedReader(h, 1 << 16), limit)
        except RecordError as exc:
            raise _refuse(exc) from None

        def rows() -> Iterator[dict[str, Any]]:
            try:
                yield from reader
            except RecordError as exc:
                raise _refuse(exc) from None

        yield rows()


def _validate_rows(b: Bundle) -> tuple[int, int]:
    """Step 3: every session and rep row checked (nothing kept but the session ids)."""
    uids: set[str] = set()
    with _rows(b, "sessions.csv", schema.SESSION, SESSIONS_MAX) as rows:
        for n, r in enumerate(rows, 1):
            if r["id"] in uids:
                raise BundleRefused(f"sessions.csv row {n}, id: found {r['id']!r} a second time, "
                                    "allowed each session once.")
            uids.add(r["id"])
    reps = 0
    with _rows(b, "reps.csv", schema.REP, REPS_MAX) as rows:
        for n, r in enumerate(rows, 1):
            if r["session_id"] not in uids:
                raise BundleRefused(f"reps.csv row {n}, session_id: found {r['session_id'][:40]!r}, "
                                    "allowed the id of a session in sessions.csv.")
            reps += 1
    _validate_checkins(b)
    return len(uids), reps


def _validate_checkins(b: Bundle) -> None:
    """The check-in rows, checked like the sessions (both files or neither)."""
    assert b.manifest is not None
    have = [n for n in ("checkins.csv", "checkin_movements.csv") if n in b.manifest.files]
    if len(have) == 1:
        raise BundleRefused(f"{have[0]} comes without its partner file: a check-in needs both.")
    if not have:
        return
    uids: set[str] = set()
    with _rows(b, "checkins.csv", schema.CHECKIN, CHECKINS_MAX) as rows:
        for n, r in enumerate(rows, 1):
            if r["id"] in uids:
                raise BundleRefused(f"checkins.csv row {n}, id: found {r['id']!r} a second time, "
                                    "allowed each check-in once.")
            uids.add(r["id"])
    seen: set[str] = set()
    with _rows(b, "checkin_movements.csv", schema.CHECKIN_MOVEMENT, CHECKIN_MOVEMENTS_MAX) as rows:
        for n, r in enumerate(rows, 1):
            if r["checkin_id"] not in uids:
                raise BundleRefused(f"checkin_movements.csv row {n}, checkin_id: found "
                                    f"{r['checkin_id'][:40]!r}, allowed the id of a check-in in checkins.csv.")
            if r["id"] in seen:
                raise BundleRefused(f"checkin_movements.csv row {n}, id: found {r['id']!r} a second time, "
                                    "allowed each movement once.")
            seen.add(r["id"])


CHECKIN_DESK = tuple(f for f in schema.CHECKIN if schema.DESK in f.places and schema.CSV in f.places)
MOVEMENT_DESK = tuple(f for f in schema.CHECKIN_MOVEMENT if schema.DESK in f.places and schema.CSV in f.places)


def _write_checkins(s: Session, b: Bundle, unit_id: str, alias: str, bundle_id: int) -> int:
    """Insert the bundle's check-ins not known yet (per unit, like sessions); returns how many."""
    assert b.manifest is not None
    if "checkins.csv" not in b.manifest.files:
        return 0
    conn = s.connection()
    C, M = db.Checkin.__table__, db.CheckinMovement.__table__
    have = set(s.scalars(select(db.Checkin.uid).where(db.Checkin.unit_id == unit_id)))
    ids: dict[str, int] = {}
    batch: list[dict[str, Any]] = []
    with _rows(b, "checkins.csv", schema.CHECKIN, CHECKINS_MAX) as rows:
        for r in rows:
            if r["id"] not in have:
                batch.append({"unit_id": unit_id, "alias": alias, "bundle_id": bundle_id,
                              **{f.desk_name or f.name: r[f.name] for f in CHECKIN_DESK}})
    if batch:
        result = conn.execute(insert(C).returning(C.c.id, C.c.uid, sort_by_parameter_order=True), batch)
        ids.update({uid: pk for pk, uid in result})
    batch = []
    with _rows(b, "checkin_movements.csv", schema.CHECKIN_MOVEMENT, CHECKIN_MOVEMENTS_MAX) as rows:
        for r in rows:
            pk = ids.get(r["checkin_id"])
            if pk is not None:
                batch.append({"checkin_id": pk, **{f.desk_name or f.name: r[f.name] for f in MOVEMENT_DESK}})
    if batch:
        conn.execute(insert(M), batch)
    return len(ids)


def _loan(s: Session, unit_id: str) -> db.Loan | None:
    """The unit's open loan, else its last one."""
    return s.scalar(select(db.Loan).where(db.Loan.unit_id == unit_id)
                    .order_by(db.Loan.returned_at.is_(None).desc(), db.Loan.lent_at.desc(), db.Loan.id.desc())
                    .limit(1))


SESSION_DESK = tuple(f for f in schema.SESSION if schema.DESK in f.places and schema.CSV in f.places)
REP_DESK = tuple(f for f in schema.REP if schema.DESK in f.places and schema.CSV in f.places)


def _write(factory: sessionmaker, b: Bundle, checked: _Checked, who: str, label: str) -> ImportResult:
    """Step 4: one transaction (rolled back by any refusal inside it)."""
    manifest = b.manifest
    assert manifest is not None
    digest, unit_id = manifest.sha256, manifest.unit_id
    with factory() as s, s.begin():
        known = s.scalar(select(db.Bundle).where(db.Bundle.manifest_sha256 == digest))
        if known is not None:
            return ImportResult("already", known.id, unit_id, known.alias, 0,
                                f"{label} was imported already ({known.imported_at:%Y-%m-%d %H:%M}"
                                f" UTC); nothing added.")
        if s.get(db.Unit, unit_id) is None:
            raise BundleRefused(f"unit {unit_id} is not registered at this desk: register it first.")
        loan = _loan(s, unit_id)
        if loan is None:
            raise BundleRefused(f"unit {unit_id} was never lent at this desk, so its records belong to no "
                                "patient here: record the loan first.")
        alias = checked.info["patient_alias"] or loan.alias
        if alias != loan.alias:
            raise BundleRefused(f"unit.json, patient_alias: found {alias!r}, allowed {loan.alias!r}, the "
                                f"patient of unit {unit_id}'s {'open' if loan.returned_at is None else 'last'}"
                                " loan.")
        bundle = db.Bundle(
            manifest_sha256=digest, unit_id=unit_id, alias=alias, loan_id=loan.id,
            exported_utc=checked.info["exported_utc"] or "", affected_side=checked.info["affected_side"],
            manifest=manifest.raw.decode("utf-8"), unit_json=checked.unit_json,
            prescription_toml=checked.prescription, report_pdf=checked.pdf, imported_by=who)
        s.add(bundle)
        s.flush()
        S, R = db.PracticeSession.__table__, db.Rep.__table__
        have = set(s.scalars(select(db.PracticeSession.uid).where(db.PracticeSession.unit_id == unit_id)))
        ids: dict[str, int] = {}
        added = reps_added = seen = 0
        conn = s.connection()

        def flush_sessions(batch: list[dict[str, Any]]) -> None:
            result = conn.execute(insert(S).returning(S.c.id, S.c.uid, sort_by_parameter_order=True), batch)
            ids.update({uid: pk for pk, uid in result})
            batch.clear()

        batch: list[dict[str, Any]] = []
        with _rows(b, "sessions.csv", schema.SESSION, SESSIONS_MAX) as rows:
            for r in rows:
                seen += 1
                if r["id"] in have:
                    continue
                batch.append({"unit_id": unit_id, "alias": alias, "bundle_id": bundle.id,
                              **{f.desk_name or f.name: r[f.name] for f in SESSION_DESK}})
                added += 1
                if len(batch) >= BATCH:
                    flush_sessions(batch)
            if batch:
                flush_sessions(batch)
        with _rows(b, "reps.csv", schema.REP, REPS_MAX) as rows:
            for r in rows:
                pk = ids.get(r["session_id"])
                if pk is None:
                    continue
                row = {f.desk_name or f.name: r[f.name] for f in REP_DESK}
                row["session_id"] = pk
                row["quiet_region"] = schema.quiet_region(r) if r["quiet_moved"] else None
                batch.append(row)
                reps_added += 1
                if len(batch) >= BATCH:
                    conn.execute(insert(R), batch)
                    batch.clear()
            if batch:
                conn.execute(insert(R), batch)
                batch.clear()
        bundle.sessions_added = added
        checkins_added = _write_checkins(s, b, unit_id, alias, bundle.id)
        if seen == 0 and not checked.info["patient_alias"]:
            bundle.alias = None  # an empty unit's export (no prescription, no sessions) is no one's
        s.add(db.Audit(who=who, action="import", what=(
            f"bundle {label} from unit {unit_id} for {alias} (loan {loan.id}): {added} sessions, "
            f"{reps_added} reps, {checkins_added} check-ins")))
        return ImportResult("imported", bundle.id, unit_id, alias, added,
                            f"{label} imported: {added} new sessions for {alias} from unit {unit_id}.")


def import_path(factory: sessionmaker, path: Path, who: str, secret: bytes | None,
                label: str | None = None) -> ImportResult:
    """Check and import the bundle at ``path`` (a folder or a zip), signed with ``secret``.

    Raises :class:`BundleRefused` (one plain sentence) and then nothing was changed.
    """
    label = label or path.name
    if secret is None:
        raise BundleRefused("this desk has no clinic key (give --key-file), so it cannot tell whether "
                            "the bundle was signed by one of the clinic's units.")
    with open_bundle(path, secret) as b:
        assert b.manifest is not None
        with factory() as s:  # the same bundle again: say so without reading it (checked again below)
            known = s.scalar(select(db.Bundle).where(db.Bundle.manifest_sha256 == b.manifest.sha256))
            if known is not None:
                return ImportResult("already", known.id, known.unit_id, known.alias, 0,
                                    f"{label} was imported already ({known.imported_at:%Y-%m-%d %H:%M} UTC);"
                                    " nothing added.")
        checked = _small_files(b)
        _validate_rows(b)
        for attempt in range(ATTEMPTS):
            try:
                return _write(factory, b, checked, who, label)
            except IntegrityError:
                continue  # another import of this bundle (or of these sessions) won the race
            except OperationalError as exc:
                if "locked" not in str(exc).lower() and "deadlock" not in str(exc).lower():
                    raise
                if attempt == ATTEMPTS - 1:
                    raise BundleRefused("the desk database is busy with another import; try again in a "
                                        "moment.") from None
    raise BundleRefused("another import of the same records ran at the same moment; import it again to see "
                        "what was added.")

