"""Plugging the parts into the kiosk loop: prescription, record store, live tracking, clinic.

:class:`~station.kiosk.app.Station` only knows small service protocols with null defaults;
this module builds the real ones for ``station run`` and ``station demo``: the active
prescription's plan and affected side, the SQLite record store, live tracking (camera,
tracker thread, metrics) feeding per-rep numbers and the calibration to the store, the
clinic chores (stick jobs, reminders) and the clinician info screen, and the systemd
watchdog heartbeat.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from station.config import Settings
from station.feedback import Notice
from station.kiosk.app import Clock, NullRecorder, NullTracking, RecorderService, Station, TrackingService
from station.kiosk.view import ClinicianInfo
from station.practice.plan import Plan

log = logging.getLogger(__name__)

# LiveFeedback.status -> plain words for the clinician info screen's camera line
CAMERA_WORDS = {
    "off": "tracking off",
    "no_camera": "not available",
    "no_model": "face model missing",
    "no_face": "working, no face in view",
    "calibrating": "working",
    "turned": "working",
    "tracking": "working",
}


def make_tracking(args: argparse.Namespace, settings: Settings, data_dir: Path, plan: Plan,
                  on_rep: Callable[..., None] | None = None,
                  on_calibration: Callable[..., None] | None = None) -> TrackingService:
    """Live tracking for ``run``/``demo`` (null with ``--no-tracking`` or tracking disabled).

    The demo uses ``--video`` / ``--camera`` when given, else the unit's camera, else a webcam,
    else the sample face video fetched by pinned hash.
    """
    if getattr(args, "no_tracking", False) or not settings.tracking.enabled:
        return NullTracking()
    from station.paths import model_path
    from station.tracking.live import make_live_tracking

    demo = getattr(args, "command", "") == "demo"
    return make_live_tracking(
        settings, plan, model_path(data_dir), video=getattr(args, "video", None),
        index=getattr(args, "camera", None), demo_fallback=demo, on_rep=on_rep,
        on_calibration=on_calibration,
    )


def make_recorder(settings: Settings, data_dir: Path,
                  plan: Plan | None = None) -> RecorderService:
    """The record store for ``run``/``demo``: SQLite in the data dir (never fatal)."""
    from station.paths import model_path
    from station.records.recorder import SessionRecorder
    from station.tracking.model import MODEL_SHA256

    try:
        return SessionRecorder(data_dir, plan, affected_side=settings.patient.affected_side,
                               model_sha256=MODEL_SHA256 if model_path(data_dir).is_file() else "")
    except Exception:  # noqa: BLE001 - no records is bad, no practice is worse
        log.exception("record store could not open; practising without records")
        return NullRecorder()


def make_heartbeat() -> tuple[Callable[[], None] | None, Callable[[], None] | None]:
    """(heartbeat, ready) for systemd: a hung UI loop stops the heartbeats and is restarted.

    Both are no-ops when the station is not run by systemd (no NOTIFY_SOCKET).
    """
    from station.appliance.watchdog import Notifier

    notifier = Notifier.from_env()
    return notifier.heartbeat, notifier.ready


def _prescribed(settings: Settings, data_dir: Path) -> tuple[Settings, Any, list[Notice]]:
    """The active prescription, with the settings' affected side replaced by its own."""
    from station.clinic.prescription import load_active

    rx = load_active(data_dir)
    notices = [rx.notice] if rx.notice is not None and rx.notice.level == "attention" else []
    if rx.affected_side:
        settings = replace(settings, patient=replace(settings.patient, affected_side=rx.affected_side))
    return settings, rx, notices


def _calibration_sink(recorder: Any, clock: Clock) -> Callable[..., None] | None:
    """Hand a new neutral baseline to the record store as numbers (scale and thresholds)."""
    add = getattr(recorder, "add_calibration", None)
    if add is None:
        return None

    def sink(baseline: Any) -> None:
        from station.feedback import SIDES
        from station.practice.plan import REGIONS

        thr = baseline.thresholds
        floors = {f"{side}.{region}": float(thr[i, j])
                  for i, side in enumerate(SIDES) for j, region in enumerate(REGIONS)}
        add(clock(), float(baseline.mm_per_px), floors, int(baseline.frames))

    return sink


def _info_provider(station_ref: list[Any], data_dir: Path) -> Callable[[], ClinicianInfo]:
    """The clinician info screen: unit id, software, model, camera, storage, plan, export."""

    def info() -> ClinicianInfo:
        from station.clinic.unit import clinician_info

        st = station_ref[0]
        status = st.feedback.status if st is not None else "unknown"
        ci = clinician_info(data_dir, CAMERA_WORDS.get(status, status))
        items = ", ".join(f"{it.pattern.name} x{it.reps}" for it in st.plan.items) if st else ""
        model = ci.model_sha256 if ci.model_ok else (ci.model_sha256[:12] + " (not the pinned model)"
                                                       if ci.model_sha256 else "")
        return ClinicianInfo(
            unit_id=ci.unit_id, version=ci.version, model_sha256=model, camera=ci.camera,
            free_storage=f"{ci.free_storage_mb:.0f} MB free", prescription=f"{ci.prescription} {items}".strip(),
            last_export=ci.last_export,
        )

    return info


def build_station(args: argparse.Namespace, settings: Settings, data_dir: Path,
                   **kwargs: Any) -> Station:
    """A Station with the prescribed plan, the record store, live tracking and clinic chores."""
    from station.kiosk.housekeeping import Housekeeping

    settings, rx, notices = _prescribed(settings, data_dir)
    plan = rx.plan()
    clock = kwargs.get("clock", time.monotonic)
    recorder = make_recorder(settings, data_dir, plan)
    tracking = make_tracking(args, settings, data_dir, plan,
                             on_rep=getattr(recorder, "add_rep_stats", None),
                             on_calibration=_calibration_sink(recorder, clock))
    ref: list[Any] = [None]
    station = Station(settings, plan, tracking=tracking, recorder=recorder,
                      housekeeping=Housekeeping(data_dir, rx, recorder),
                      info=_info_provider(ref, data_dir), **kwargs)
    ref[0] = station
    probe = getattr(tracking, "probe", None)
    if probe is not None:
        probe.view = lambda: station.engine.view(clock())
    for n in notices:
        station.post_notice(n)
    return station
