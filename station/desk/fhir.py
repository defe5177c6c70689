"""A patient's weekly check-ins as a FHIR R4 Bundle of Observations (numbers only).

``GET /api/patients/{alias}/checkins.fhir.json`` answers a ``Bundle`` of type ``collection``:
one ``Observation`` per completed check-in, movement and measure (and one per rest measure),
``status`` ``final``, ``effectiveDateTime`` the check-in's start (UTC), the unit as the
``device`` (its id, never a person), the station's check-in as the ``method``, and a
``valueQuantity`` in UCUM (``mm``, ``%``, ``1`` for a ratio). The repeat spread of the three
tries (the patient's own noise band) is a ``component`` of the same Observation. A measure the
unit could not take is left out, never sent as a guess. The patient is named only by the
pseudonymous alias, as everywhere on the desk.

Codes are local, in the station's own code system :data:`SYSTEM` (a URI minted for the project,
listed in the README): ``<movement>.<measure>``, e.g. ``open_smile.ratio``,
``open_smile.co-eye-mm``, ``rest.eye-fissure-diff-mm``; :func:`codes` lists every one with its
display text and unit. No Sunnybrook, eFACE or House-Brackmann score is sent: none is computed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from station.clinic.checkin_figures import LABEL, NAMES, REST_WORDS
from station.practice.checkin_events import MOVEMENTS
from station.practice.plan import REGIONS
from station.practice.words import REGION_NOUN
from station.records import schema

#: The station's check-in code system (a URI minted for this project; documented in the README).
SYSTEM = "urn:uuid:c2e448bc-9327-41ab-9b18-7a4eace0d2f6"
#: Identifiers: the station's unit ids and the desk's pseudonymous patient aliases.
UNIT_SYSTEM = "urn:uuid:87e8ea8c-0401-4d61-8479-8a004c67dde7"
ALIAS_SYSTEM = UNIT_SYSTEM + ":alias"
UCUM = "http://unitsofmeasure.org"
METHOD = ("device-checkin", "Mirror-station weekly check-in: five standard movements, three full tries each, "
          "face landmarks registered to the neutral face in 3-D; median of the accepted tries")
SPREAD = ("repeat-spread", "Spread of the accepted tries (max - min): the patient's own noise band")
_NS = uuid.UUID(SYSTEM.removeprefix("urn:uuid:"))


def _measures(target: str) -> list[tuple[str, str, str, str, str]]:
    """(code suffix, column, spread column, UCUM unit, display) of one movement's measures."""
    out = [("ratio", "ratio", "ratio_spread", "1", "ratio of the affected to the other side"),
           ("affected-mm", "affected_mm", "affected_spread_mm", "mm", "excursion on the affected side"),
           ("other-mm", "other_mm", "other_spread_mm", "mm", "excursion on the other side")]
    if target != "eye":
        out.append(("eye-narrowing-pct", "eye_narrowing_pct", "eye_narrowing_spread_pct", "%",
                    "narrowing of the affected eye, % of its resting opening"))
    for region in REGIONS:
        if region != target:
            out.append((f"co-{region.replace('_', '-')}-mm", f"co_{region}_mm", f"co_{region}_spread_mm", "mm",
                        f"co-movement of the {REGION_NOUN[region]} on the affected side"))
    return out


def codes() -> list[dict[str, str]]:
    """Every code of :data:`SYSTEM`: code, display and UCUM unit (the README's table)."""
    out = []
    for m in MOVEMENTS:
        for suffix, _col, _spread, unit, words in _measures(m.target):
            out.append({"code": f"{m.id}.{suffix}", "display": f"{NAMES[m.id]}: {words}", "unit": unit})
    for name, words in REST_WORDS.items():
        out.append({"code": f"rest.{name.replace('_', '-')}-diff-mm",
                    "display": f"At rest: {words}, affected minus other side", "unit": "mm"})
    out.append({"code": METHOD[0], "display": METHOD[1], "unit": ""})
    out.append({"code": SPREAD[0], "display": SPREAD[1], "unit": "as the measure"})
    return out


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": round(value, 4), "unit": unit, "system": UCUM, "code": unit}


def _observation(checkin: Mapping[str, Any], alias: str, code: str, display: str, unit: str,
                 value: float, spread: float | None) -> dict[str, Any]:
    ident = str(uuid.uuid5(_NS, f"{checkin['unit_id']}/{checkin['id']}/{code}"))  # unique across units
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "exam", "display": "Exam"}]}],
        "code": {"coding": [{"system": SYSTEM, "code": code, "display": display}], "text": display},
        "subject": {"identifier": {"system": ALIAS_SYSTEM, "value": alias}},
        "effectiveDateTime": checkin["started_utc"],
        "device": {"identifier": {"system": UNIT_SYSTEM, "value": checkin["unit_id"]},
                   "display": f"Mirror-station unit {checkin['unit_id']}"},
        "method": {"coding": [{"system": SYSTEM, "code": METHOD[0], "display": METHOD[1]}], "text": METHOD[1]},
        "valueQuantity": _quantity(value, unit),
        "note": [{"text": LABEL}],
    }
    if spread is not None:
        obs["component"] = [{"code": {"coding": [{"system": SYSTEM, "code": SPREAD[0], "display": SPREAD[1]}]},
                             "valueQuantity": _quantity(spread, unit)}]
    return obs


def observations(checkins: Sequence[Mapping[str, Any]], movements: Sequence[Mapping[str, Any]],
                 alias: str) -> Iterator[dict[str, Any]]:
    """The Observations of completed check-ins (rows as :func:`station.desk.patients.checkin_rows`)."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for m in movements:
        by.setdefault(str(m["checkin_id"]), []).append(m)
    kinds = {m.id: m.target for m in MOVEMENTS}
    for c in checkins:
        if c.get("status") != "complete":
            continue
        for name, words in REST_WORDS.items():
            v = schema.as_float(c.get(f"rest_{name}_diff_mm"))
            if v is not None:
                yield _observation(c, alias, f"rest.{name.replace('_', '-')}-diff-mm",
                                   f"At rest: {words}, affected minus other side", "mm", v, None)
        for m in by.get(str(c["id"]), []):
            mv = m["movement"]
            if mv not in kinds:
                continue
            for suffix, col, spread_col, unit, words in _measures(kinds[mv]):
                v = schema.as_float(m.get(col))
                if v is not None:
                    yield _observation(c, alias, f"{mv}.{suffix}", f"{NAMES[mv]}: {words}", unit, v,
                                       schema.as_float(m.get(spread_col)))


def bundle(checkins: Sequence[Mapping[str, Any]], movements: Sequence[Mapping[str, Any]], alias: str,
           now: datetime | None = None) -> dict[str, Any]:
    """The FHIR R4 ``Bundle`` (type ``collection``) of a patient's check-in Observations."""
    now = now or datetime.now(UTC)
    entries = [{"fullUrl": f"urn:uuid:{obs['id']}", "resource": obs}
               for obs in observations(checkins, movements, alias)]
    return {"resourceType": "Bundle", "type": "collection",
            "timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "entry": entries}
