"""The clinic stick's request: its file format, signing it, making a stick, verifying one.

Stick format (a folder ``station-clinic/`` at the top of the stick)::

    station-clinic/request.json      the request (bytes signed as they are)
    station-clinic/request.sig       "hmac-sha256 <64 hex>" = HMAC-SHA256(secret, request.json)
    station-clinic/prescription.toml optional: the new prescription
    station-clinic/voice/<cue>.wav   optional: the clinic's recordings of spoken cues
    station-clinic/export/<unit>-<YYYYmmdd-HHMMSS>/  bundles written by units (+ manifest.json)
    station-clinic/export/.partial-<nonce>/          a bundle being written (never trusted)
    station-clinic/result-<unit>.txt the status lines of the last run on that unit

``request.json`` (declared in :data:`REQUEST_FIELDS`, held to it by the one checker of
:mod:`station.errors`, as the settings and the prescription are)::

    {"format": 1, "unit": "ms-3f9a1c07", "key_id": "<16 hex>", "nonce": "<32 hex>",
     "created": "2026-05-04T10:20:00Z",
     "actions": ["import_prescription", "export", "wipe_after_export"],
     "prescription_sha256": "<64 hex>" | null,
     "voice": {"small_smile_move_en.wav": "<64 hex>"}}   optional (station.clinic.recordings)

Decisions: a request names exactly one unit (no "any unit of this clinic"): a stick that can
wipe must not work on every unit a clinic owns, and the unit id is on the clinician screen.
A nonce is remembered once its request has been carried out, so the same stick is refused the
second time; a stick pulled out mid-way has not been carried out and finishes when put back.
``created`` is informative only: a unit without network or clock battery cannot judge age.
Nothing else on a stick is read before its request is verified (:func:`verify_request`); what a
unit then does with it is :mod:`station.clinic.stick`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from station.clinic import prescription as rx
from station.clinic import recordings, unit
from station.errors import CHOICE, LIST, TEXT, Field, check_table
from station.files import read_limited
from station.practice import words
from station.records.schema import HEX64_RE

STICK_FOLDER = "station-clinic"
REQUEST = "request.json"
SIGNATURE = "request.sig"
PRESCRIPTION = "prescription.toml"
EXPORT_FOLDER = "export"
MAX_REQUEST_BYTES = 16 * 1024
MAX_SIG_BYTES = 512
MAX_REQUEST_NESTING = 4
ACTIONS = ("import_prescription", "export", "wipe_after_export")

#: ``request.json``, declared once. Keys not declared are ignored (a newer desk may add some);
#: ``voice`` is checked by :func:`station.clinic.recordings.listing_ok` (cue names and sums).
REQUEST_FIELDS: tuple[Field, ...] = (
    Field("format", CHOICE, required=True, choices=(1,)),
    Field("unit", TEXT, required=True, max_len=40, pattern=unit.UNIT_ID_RE),
    Field("key_id", TEXT, max_len=16, pattern=re.compile(r"[0-9a-f]{16}")),
    Field("nonce", TEXT, required=True, max_len=64, pattern=re.compile(r"[0-9a-f]{16,64}")),
    Field("created", TEXT, required=True, max_len=64, printable=True),
    Field("actions", LIST, required=True, max_len=len(ACTIONS), unique="each action once",
          item=Field("action", CHOICE, choices=ACTIONS)),
    Field("prescription_sha256", TEXT, max_len=64, pattern=HEX64_RE),  # JSON null: none
)
DAMAGED = words.STICK_DAMAGED


class StickRefused(Exception):
    """The stick is not trusted or not for this unit; the message is one plain sentence."""


@dataclass(frozen=True)
class Request:
    """A verified stick request."""

    unit: str
    nonce: str
    created: str
    actions: tuple[str, ...]
    prescription_sha256: str | None
    voice: tuple[tuple[str, str], ...] = ()  # (file name, sha256) of recorded cues

    def wants(self, action: str) -> bool:
        """True when the stick asks for ``action``."""
        return action in self.actions


def _now_iso(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(secret: bytes, payload: bytes) -> str:
    """The contents of ``request.sig`` for ``payload``."""
    return "hmac-sha256 " + hmac.new(secret, payload, hashlib.sha256).hexdigest()


def make_stick(stick: Path, secret: bytes, unit_id: str, prescription: Path | None = None,
               wipe_after_export: bool = False, now: float | None = None,
               voice_dir: Path | None = None) -> Request:
    """Write a signed request (and the prescription) into ``stick/station-clinic/``.

    Raises ValueError with a plain message when the prescription is invalid or the unit id is
    malformed; an existing request on the stick is replaced (its nonce is then never used).
    """
    if not unit.UNIT_ID_RE.fullmatch(unit_id):
        raise ValueError(f"unit id {unit_id!r} does not look like a unit id (see the info screen)")
    rx_bytes, digest = None, None
    actions = ["export"]
    if prescription is not None:
        rx_bytes = read_limited(prescription)
        result = rx.validate_bytes(rx_bytes)
        if not result.ok:
            problems = "; ".join(map(str, result.problems))
            raise ValueError(f"the prescription is not valid: {problems}")
        digest = hashlib.sha256(rx_bytes).hexdigest()
        actions.insert(0, "import_prescription")
    if wipe_after_export:
        actions.append("wipe_after_export")
    voice = recordings.from_folder(voice_dir) if voice_dir is not None else {}  # checked here
    nonce, created = secrets.token_hex(16), _now_iso(time.time() if now is None else now)
    req = {"format": 1, "unit": unit_id, "key_id": unit.key_id(secret), "nonce": nonce, "created": created,
           "actions": actions, "prescription_sha256": digest}
    if voice_list := recordings.listed(voice):
        req["voice"] = voice_list
    payload = json.dumps(req, indent=1).encode("utf-8")
    folder = stick / STICK_FOLDER
    if folder.is_symlink():
        raise ValueError(f"{folder} is a symbolic link")
    folder.mkdir(parents=True, exist_ok=True)
    for name in (REQUEST, SIGNATURE, PRESCRIPTION):
        (folder / name).unlink(missing_ok=True)
    if rx_bytes is not None:
        (folder / PRESCRIPTION).write_bytes(rx_bytes)
    recordings.write_folder(folder, voice)
    (folder / REQUEST).write_bytes(payload)
    (folder / SIGNATURE).write_text(sign(secret, payload) + "\n", encoding="ascii")
    return Request(unit_id, nonce, created, tuple(actions), digest, tuple(sorted(voice_list.items())))


# ---------------------------------------------------------------- verifying a stick


def parse_request(payload: bytes) -> Request:
    """The request in ``payload`` held to :data:`REQUEST_FIELDS`, or StickRefused (one sentence)."""
    try:
        text = payload.decode("utf-8")
        if nesting(text) > MAX_REQUEST_NESTING:
            raise ValueError("nested too deeply")
        d = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StickRefused(DAMAGED) from None
    if not isinstance(d, dict):
        raise StickRefused(DAMAGED)
    body = {k: v for k, v in d.items() if not (k == "prescription_sha256" and v is None)}
    good, broken = check_table(REQUEST_FIELDS, body)
    if broken:
        raise StickRefused(DAMAGED)
    actions = tuple(good["actions"])
    if "wipe_after_export" in actions and "export" not in actions:
        raise StickRefused(words.STICK_WIPE_WITHOUT_EXPORT)
    voice = d.get("voice", {})
    if ("import_prescription" in actions and "prescription_sha256" not in good) \
            or not recordings.listing_ok(voice):
        raise StickRefused(DAMAGED)
    return Request(good["unit"], good["nonce"], good["created"], actions,
                   good.get("prescription_sha256"), tuple(sorted(voice.items())))


def nesting(text: str) -> int:
    """How deep ``[`` and ``{`` nest in JSON text (brackets inside strings not counted)."""
    depth = deepest = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def verify_request(folder_fd: int, data_dir: Path) -> Request:
    """Read and check the request in an opened ``station-clinic`` folder.

    Reads only ``request.json`` and ``request.sig``; raises :class:`StickRefused`.
    """
    secret = unit.find_secret(data_dir)
    my_id = unit.get_unit_id(data_dir)
    if secret is None or my_id is None:
        raise StickRefused(words.STICK_NO_KEY)
    try:
        payload = read_limited(REQUEST, MAX_REQUEST_BYTES, dir_fd=folder_fd)
        sig = read_limited(SIGNATURE, MAX_SIG_BYTES, dir_fd=folder_fd).decode("ascii", "replace").strip()
    except OSError:
        raise StickRefused(words.STICK_REQUEST_UNREADABLE) from None
    if not hmac.compare_digest(sig.encode(), sign(secret, payload).encode()):
        raise StickRefused(words.STICK_NOT_SIGNED)
    req = parse_request(payload)
    if req.unit != my_id:
        raise StickRefused(words.STICK_OTHER_UNIT.format(made_for=req.unit[:40], this_unit=my_id))
    if unit.nonce_used(data_dir, req.nonce):
        raise StickRefused(words.STICK_USED)
    return req
