"""Test helpers: a check-in's numbers as the measures write them, and stored check-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from station.practice.checkin import MOVEMENTS
from station.practice.plan import REGIONS


def result(ratio: float = 0.6, narrowing: float = 20.0, spread: float = 0.05, side: str = "left") -> dict[str, Any]:
    """A check-in result shaped like :meth:`CheckinMeasures.result` (numbers chosen, not measured)."""
    movements = []
    for m in MOVEMENTS:
        other = 4.0
        co = {r: (-0.3 if r == "eye" else 0.1) for r in REGIONS if r != m.target}
        movements.append({
            "movement": m.id, "target": m.target, "complete": True, "accepted": 3,
            "affected_mm": ratio * other, "other_mm": other, "ratio": ratio,
            "eye_narrowing_pct": None if m.target == "eye" else narrowing,
            "comovement_mm": co,
            "spread": {"affected_mm": spread, "other_mm": spread, "ratio": spread / 4,
                       "eye_narrowing_pct": None if m.target == "eye" else 2.0,
                       "comovement_mm": {r: spread for r in co}},
            "tries": [],
        })
    rest = {"eye_fissure_mm": {"affected": 9.1, "other": 9.8, "difference": -0.7},
            "brow_height_mm": {"affected": 22.0, "other": 23.0, "difference": -1.0},
            "mouth_corner_height_mm": {"affected": 40.0, "other": 39.5, "difference": 0.5},
            "frames": 140, "spread_mm": {r: 0.05 for r in REGIONS}}
    return {"side": side, "rest": rest, "movements": movements}


def store_checkins(data_dir: Path, ratios: list[float], start: datetime | None = None,
                   every_days: int = 7) -> list[str]:
    """Check-ins saved in the unit's store, ``every_days`` apart, one per ratio; their ids."""
    from station.records import checkins
    from station.records.store import Store, utc_iso

    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(days=every_days * len(ratios))
    store = Store.open(data_dir, synchronous="OFF")
    ids = []
    try:
        for i, ratio in enumerate(ratios):
            t = start + timedelta(days=every_days * i)
            cid = f"ci-{t:%Y%m%dT%H%M%S}"
            pending = checkins.rows_from_result(
                result(ratio=ratio, narrowing=30.0 - 5 * i), checkin_id=cid, started_utc=utc_iso(t),
                ended_utc=utc_iso(t + timedelta(minutes=4)), status="complete",
                repeats={"snarl": 1}, software_version="test", model_sha256="0" * 64)
            checkins.save(store.conn, pending)
            ids.append(cid)
    finally:
        store.close()
    return ids
