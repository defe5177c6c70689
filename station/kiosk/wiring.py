"""Plugging the parts into the kiosk loop: prescription, record store, live tracking, clinic,
the weekly check-in.

:class:`~station.kiosk.app.Station` only knows the service Protocols of
:mod:`station.kiosk.services`; this module builds the real ones, in one place, for
``station run`` and ``station demo``: the active prescription's plan and affected side, the
SQLite record store, live tracking (camera, tracker thread, metrics), the clinic chores (stick
jobs, reminders), the clinician info screen and the systemd watchdog. The demo's frame sources
(webcam, else the simulated patient) come from :mod:`station.tracking.fakes.sources`; a unit's
kiosk opens its own camera.
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
from station.feedback import ClinicianInfo, Notice, TrackingStatus
from station.kiosk.app import Clock, Station
from station.kiosk.services import NullRecorder, NullTracking, RecorderService, Services, TrackingService
from station.practice.plan import Plan

log = logging.getLogger(__name__)

# LiveFeedback.status -> plain words for the clinician info screen's camera line
CAMERA_WORDS: dict[TrackingStatus, str] = {
    TrackingStatus.OFF: "tracking off",
    TrackingStatus.STARTING: "starting",
    TrackingStatus.NO_CAMERA: "not available",
    TrackingStatus.NO_MODEL: "face model missing",
    TrackingStatus.NO_FACE: "working, no face in view",
    TrackingStatus.CALIBRATING: "working",
    TrackingStatus.TURNED: "working",
    TrackingStatus.TRACKING: "working",
}


def make_tracking(args: argparse.Namespace, settings: Settings, data_dir: Path, plan: Plan,
                  clock: Clock) -> tuple[TrackingService, Any]:
    """Live tracking for ``run``/``demo`` (null with ``--no-tracking`` or tracking disabled).

    Returns the service and, for the demo, the probe its simulated patient follows (else None).
    ``station run`` opens the unit's camera; the demo uses ``--video`` / ``--camera`` when
    given, else a webcam, else the simulated patient.
    """
    if getattr(args, "no_tracking", False) or not settings.tracking.enabled:
        return NullTracking(), None
    from station.paths import model_path
    from station.tracking.live import make_live_tracking

    model = model_path(data_dir)
    if getattr(args, "command", "") == "demo":
        from station.tracking.fakes.fetch import MediaFetcher
        from station.tracking.fakes.sources import DemoTracking, PhaseProbe, source_factory, wanted_sample

        video, index = getattr(args, "video", None), getattr(args, "camera", None)
        probe = PhaseProbe()
        sample = wanted_sample(video, index)
        # A missing sample is fetched by a helper started now, before the tracker's network
        # guard goes up (a child of the guarded process could never fetch it).
        fetcher = MediaFetcher().start() if sample and MediaFetcher().local(sample) is None else None
        source = source_factory(settings, video, index, demo_fallback=True, model_path=model,
                                probe=probe, fetcher=fetcher)
        live = make_live_tracking(settings, plan, model, source)
        if fetcher is None or sample is None:
            return live, probe
        import glob

        # Fetch at once when the sample is surely needed (no webcam device to try first).
        eager = video in ("sample", "simulated") or not glob.glob("/dev/video*")
        return DemoTracking(live, fetcher, sample, eager=eager), probe
    from station.tracking.camera import open_source

    return make_live_tracking(settings, plan, model, lambda: open_source(settings.camera)), None


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
        return NullRecorder(data_dir)


def make_watchdog() -> Any:
    """The systemd notifier: a hung UI loop stops the heartbeats and is restarted.

    Its calls are no-ops when the station is not run by systemd (no NOTIFY_SOCKET).
    """
    from station.appliance.watchdog import Notifier

    return Notifier.from_env()


def _prescribed(settings: Settings, data_dir: Path) -> tuple[Settings, Any, list[Notice]]:
    """The active prescription, with the settings' affected side replaced by its own."""
    from station.clinic.prescription import load_active

    rx = load_active(data_dir)
    notices = [rx.notice] if rx.notice is not None and rx.notice.level == "attention" else []
    if rx.affected_side:
        settings = replace(settings, patient=replace(settings.patient, affected_side=rx.affected_side))
    return settings, rx, notices


def _info_provider(station_ref: list[Any], data_dir: Path,
                   side_source: str = "default") -> Callable[[], ClinicianInfo]:
    """The clinician info screen: unit id, software, model, camera (what kind, and its state),
    the affected side and where it came from, storage, plan, export."""

    def info() -> ClinicianInfo:
        from station.clinic.unit import clinician_info

        st = station_ref[0]
        camera = CAMERA_WORDS[st.feedback.status] if st is not None else "unknown"
        kind = st.tracking.camera_kind if st is not None else "none"
        items = ", ".join(f"{it.pattern.name} x{it.reps}" for it in st.plan.items) if st else ""
        ci = clinician_info(data_dir, f"{kind}, {camera}", items)
        side = st.settings.patient.affected_side if st is not None else "unknown"
        side_words = (f"{side} (from the prescription)" if side_source == "prescription"
                      else f"{side} (unit setting: no prescription names a side)")
        return replace(ci, extra=(("Affected side", side_words), *ci.extra))

    return info


def make_checkins(data_dir: Path, every_days: int | None) -> Any:
    """The weekly check-in service (offered on home when the prescription schedules one)."""
    from station.kiosk.checkin_run import Checkins

    return Checkins(data_dir, every_days)


def make_voice(settings: Settings, data_dir: Path) -> Any:
    """Spoken guidance (espeak-ng cache + clinic recordings), off when the settings say so."""
    from station.kiosk.voice import Voice

    a = settings.audio
    return Voice(data_dir, enabled=a.enabled and a.voice, volume=a.voice_volume)


def build_station(args: argparse.Namespace, settings: Settings, data_dir: Path,
                  clock: Clock = time.monotonic, **kwargs: Any) -> Station:
    """A Station with the prescribed plan, the record store, live tracking and clinic chores."""
    from station.kiosk.housekeeping import Housekeeping

    settings, rx, notices = _prescribed(settings, data_dir)
    plan = rx.plan()
    recorder = make_recorder(settings, data_dir, plan)
    tracking, probe = make_tracking(args, settings, data_dir, plan, clock)
    ref: list[Any] = [None]
    services = Services(tracking=tracking, recorder=recorder,
                        chores=Housekeeping(data_dir, rx, recorder),
                        watchdog=make_watchdog(),
                        info=_info_provider(ref, data_dir, "prescription" if rx.affected_side else "default"),
                        voice=make_voice(settings, data_dir),
                        checkin=make_checkins(data_dir, rx.checkin_every_days))
    station = Station(settings, plan, services, clock=clock, **kwargs)
    ref[0] = station
    if probe is not None:
        probe.view = lambda: station.engine.view(clock())
        probe.checkin = lambda: (station.checkin_run.engine.view(clock())
                                 if station.checkin_run is not None else None)
    for n in notices:
        station.post_notice(n)
    if rx.source == "default" and not notices:  # said once on home, until the first session
        from station.clinic import unit
        from station.clinic.stick import WIPED
        from station.practice import words

        if unit.last_export(data_dir) is not None and unit.holds_nothing(data_dir):
            station.post_notice(Notice(WIPED, "info", "wiped"))  # returned and wiped: say so
        else:
            station.post_notice(Notice(words.HOME_DEFAULT_PLAN, "info", "default-plan"))
    return station
