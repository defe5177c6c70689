"""A rep's per-frame readings, packed small: float32 columns of time and each side's regions.

The recorder stores one packed blob per rep (about 10 readings a second), so a year of
practice stays a few megabytes; the export unpacks them into a CSV."""

from __future__ import annotations

import array
import math
import sys
from collections.abc import Sequence

from station.feedback import SIDES
from station.practice.plan import REGIONS

# Column order of a packed rep series: t, then each side's region readings (mm), float32.
SERIES_COLUMNS: tuple[str, ...] = ("t",) + tuple(f"{s}.{r}" for s in SIDES for r in REGIONS)


def pack_series(series: Sequence[tuple[float, dict[str, dict[str, float]]]]) -> bytes:
    """Pack a rep's ~10 Hz readings as float32 rows (:data:`SERIES_COLUMNS`); NaN = missing."""
    out = array.array("f")
    for t, readings in series:
        out.append(float(t))
        for side in SIDES:
            per = (readings or {}).get(side) or {}
            for region in REGIONS:
                v = per.get(region)
                out.append(float(v) if v is not None else math.nan)
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def unpack_series(data: bytes) -> list[tuple[float, dict[str, dict[str, float]]]]:
    """Inverse of :func:`pack_series` (missing readings are left out)."""
    arr = array.array("f")
    arr.frombytes(data)
    if sys.byteorder != "little":
        arr.byteswap()
    width = len(SERIES_COLUMNS)
    rows = []
    for i in range(0, len(arr) - width + 1, width):
        row = arr[i : i + width]
        readings: dict[str, dict[str, float]] = {}
        k = 1
        for side in SIDES:
            per = {}
            for region in REGIONS:
                if not math.isnan(row[k]):
                    per[region] = row[k]
                k += 1
            readings[side] = per
        rows.append((row[0], readings))
    return rows
