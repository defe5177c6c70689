"""The desk's storage: one SQLAlchemy 2 schema, migrated by Alembic, on SQLite or PostgreSQL.

The same code runs on both: a SQLite file in the user data folder by default, a PostgreSQL
server (``postgresql+psycopg://...``) when several clinic computers share one registry. No
dialect layer of our own: only portable column types, and times stored as UTC.

Nothing here holds a patient's name: patients are pseudonymous aliases, as on the unit.
The clinic key is never stored; only its public key id (a hash) is kept per unit.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from station.desk import loans
from station.practice.plan import REGIONS
from station.records import schema

MIGRATIONS = Path(__file__).with_name("migrations")

#: unit states and their words: the loan cycle's state machine (:mod:`station.desk.loans`)
AT_CLINIC, LENT, OUT, RETURNED, RECORDS_IN, READY = (
    loans.AT_CLINIC, loans.LENT, loans.OUT, loans.RETURNED, loans.RECORDS_IN, loans.READY)
STATE_WORDS = loans.STATE_WORDS
REGION_COLUMNS = REGIONS


def utcnow() -> dt.datetime:
    """Now, as a naive UTC datetime (what every DateTime column holds)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of the desk's tables."""


class Unit(Base):
    """A station unit the clinic owns; its state follows the loan cycle."""

    __tablename__ = "units"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=AT_CLINIC)
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(64))


class Loan(Base):
    """A unit lent to a patient alias, from ``lent_at`` until it is returned."""

    __tablename__ = "loans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    alias: Mapped[str] = mapped_column(String(32), index=True)
    lent_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    due_on: Mapped[dt.date] = mapped_column(Date)
    lent_by: Mapped[str] = mapped_column(String(64))
    returned_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    returned_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the loan cycle's evidence (migration 0002): sticks written, records in, wipe confirmed
    lend_stick_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    return_nonce: Mapped[str | None] = mapped_column(String(64), nullable=True)
    return_stick_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    records: Mapped[str | None] = mapped_column(String(16), nullable=True)  # imported | discarded
    records_bundle_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    records_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    discard_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    wiped_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    wiped_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Prescription(Base):
    """One saved prescription (the validated TOML, exactly as written to a stick)."""

    __tablename__ = "prescriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(String(32), index=True)
    toml: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    changes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))


class Bundle(Base):
    """A returned export bundle, verified and imported once (keyed by its manifest's hash)."""

    __tablename__ = "bundles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    manifest_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[str] = mapped_column(String(40), index=True)
    alias: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), nullable=True)
    exported_utc: Mapped[str] = mapped_column(String(32))
    affected_side: Mapped[str | None] = mapped_column(String(8), nullable=True)
    manifest: Mapped[str] = mapped_column(Text)
    unit_json: Mapped[str] = mapped_column(Text)
    prescription_toml: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sessions_added: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(64))


def schema_columns(record: tuple[schema.Field, ...]) -> dict[str, Any]:
    """The desk's columns for a record of :mod:`station.records.schema` (its DESK fields):
    text as String of the field's length (Text when ``long``), whole numbers as Integer, numbers
    as Float, yes/no as Boolean; required fields NOT NULL. The import's checks use the same
    lengths and ranges, so a value that passed them always fits (on PostgreSQL too)."""
    out: dict[str, Any] = {}
    for f in record:
        if schema.DESK not in f.places:
            continue
        if f.kind in (schema.TEXT, schema.CHOICE, schema.UTC_TIME):
            kind: Any = Text if f.long else String(f.max_len)
        else:
            kind = {schema.INT: Integer, schema.REAL: Float, schema.FLAG: Boolean}[f.kind]
        extra: dict[str, Any] = {"default": 0} if f.kind == schema.INT and f.required else {}
        out[f.desk_name or f.name] = mapped_column(kind, nullable=not f.required, **extra)
    return out


#: One practice session from a bundle (unique per unit: re-exports add nothing). Its record
#: columns (``uid``, ``started_utc``, ``status``, ... ``pauses``) come from ``schema.SESSION``; the
#: desk adds the unit, the alias and the bundle it came from.
PracticeSession: Any = type("PracticeSession", (Base,), {
    "__module__": __name__,
    "__doc__": "One practice session from a bundle (its record columns from schema.SESSION).",
    "__tablename__": "sessions",
    "__table_args__": (UniqueConstraint("unit_id", "uid", name="uq_sessions_unit_uid"),
                       Index("ix_sessions_alias_started", "alias", "started_utc")),
    "id": mapped_column(Integer, primary_key=True),
    "unit_id": mapped_column(String(40), nullable=False),
    "alias": mapped_column(String(32), nullable=True),
    "bundle_id": mapped_column(Integer, ForeignKey("bundles.id"), index=True, nullable=False),
    **schema_columns(schema.SESSION),
})

#: One movement of a session, with its numbers and its four qualities (null = unknown). Its
#: record columns (``uid``, ``pattern_id``, ... ``residual_mm``) come from ``schema.REP``.
Rep: Any = type("Rep", (Base,), {
    "__module__": __name__,
    "__doc__": "One movement of a session (its record columns from schema.REP; null = unknown).",
    "__tablename__": "reps",
    "id": mapped_column(Integer, primary_key=True),
    "session_id": mapped_column(Integer, ForeignKey("sessions.id"), index=True, nullable=False),
    **schema_columns(schema.REP),
})


#: One weekly check-in from a bundle (unique per unit): when, how it ended, the rest's
#: side-to-side measures. Its record columns come from ``schema.CHECKIN``.
Checkin: Any = type("Checkin", (Base,), {
    "__module__": __name__,
    "__doc__": "One weekly check-in from a bundle (its record columns from schema.CHECKIN).",
    "__tablename__": "checkins",
    "__table_args__": (UniqueConstraint("unit_id", "uid", name="uq_checkins_unit_uid"),
                       Index("ix_checkins_alias_started", "alias", "started_utc")),
    "id": mapped_column(Integer, primary_key=True),
    "unit_id": mapped_column(String(40), nullable=False),
    "alias": mapped_column(String(32), nullable=True),
    "bundle_id": mapped_column(Integer, ForeignKey("bundles.id"), index=True, nullable=False),
    **schema_columns(schema.CHECKIN),
})

#: One movement of a check-in: medians of its tries and their spread (``schema.CHECKIN_MOVEMENT``).
CheckinMovement: Any = type("CheckinMovement", (Base,), {
    "__module__": __name__,
    "__doc__": "One movement of a check-in (its record columns from schema.CHECKIN_MOVEMENT).",
    "__tablename__": "checkin_movements",
    "id": mapped_column(Integer, primary_key=True),
    "checkin_id": mapped_column(Integer, ForeignKey("checkins.id"), index=True, nullable=False),
    **schema_columns(schema.CHECKIN_MOVEMENT),
})


class User(Base):
    """A desk account (needed before the desk may listen beyond this computer)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class WebSession(Base):
    """A server-side login session; the browser holds only a random token (stored hashed)."""

    __tablename__ = "web_sessions"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class LoginFailure(Base):
    """Wrong passwords from one client address or on one account name (the sign-in throttle,
    :mod:`station.desk.throttle`): kept here so every desk process, and every clinic computer
    on one PostgreSQL registry, counts the same failures. Times are seconds since the epoch."""

    __tablename__ = "login_failures"
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # "address" or "account"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[float] = mapped_column(Float, default=0.0)
    last_failed: Mapped[float] = mapped_column(Float, default=0.0, index=True)


class Audit(Base):
    """Who lent, prescribed, imported or exported what, and when."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    who: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    what: Mapped[str] = mapped_column(Text)


def default_url(data_dir: Path) -> str:
    """The default database: a SQLite file in the station's user data folder."""
    return f"sqlite:///{data_dir / 'desk.sqlite3'}"


def normalise_url(url: str) -> str:
    """``postgresql://`` means the psycopg 3 driver (the one the desk installs)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revisions (creates it on an empty database).

    ``heads``: revisions made side by side on one parent (each its own table) all apply, in
    any order, without a merge revision of their own."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin chatter is not for the clinic
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def open_db(url: str) -> sessionmaker:
    """Open (and migrate) the database at ``url``; returns a session factory."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)
