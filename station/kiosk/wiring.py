"""Plugging the parts into the kiosk loop: prescription, record store, live tracking, clinic,
the weekly check-in.

:class:`~station.kiosk.app.Station` only knows the service Protocols of
:mod:`station.kiosk.services`; this module builds the real ones, in one place, for
``station run`` and ``station demo``, from the frame source the command chose
(:class:`SourceChoice`): the active prescription's plan and affected side, the
SQLite record store, live tracking (camera, tracker thread, metrics), the clinic chores (stick
jobs, reminders), the clinician info screen and the systemd watchdog. The demo's frame sources
(webcam, else the simulated patient) come from :mod:`station.tracking.fakes.sources`; a unit's
kiosk opens its own camera.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from station.config import Settings
from station.feedback import ClinicianInfo, Notice, TrackingStatus
from station.kiosk.app import Clock, Station
from station.kiosk.services import (
    InfoFacts,
    NullRecorder,
    NullTracking,
    RecorderService,
    Services,
    TrackingService,
)
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


@dataclass(frozen=True)
class SourceChoice:
    """Where the kiosk's live tracking reads its frames, as the command chose it.

    The unit's own camera (``station run``: ``demo=False``), or the demo's: ``video`` (a file,
    ``"sample"`` or ``"simulated"``), ``camera`` (a webcam index), else a webcam, else the
    simulated patient. ``tracking=False`` guides by time only (``--no-tracking``).
    """

    demo: bool = False
    video: str | None = None
    camera: int | None = None
    tracking: bool = True


UNIT_CAMERA = SourceChoice()  # what ``station run`` uses


def make_tracking(source: SourceChoice, settings: Settings, data_dir: Path, plan: Plan,
                  clock: Clock) -> TrackingService:
    """Live tracking for ``run``/``demo`` (null when ``source`` or the settings turn it off).

    The unit opens its own camera; the demo uses the source's video or camera when given,
    else a webcam, else the simulated patient, which follows the engine's view as the demo's
    tracking is given it every frame.
    """
    if not source.tracking or not settings.tracking.enabled:
        return NullTracking()
    from station.paths import model_path
    from station.tracking.live import make_live_tracking

    model = model_path(data_dir)
    if source.demo:
        from station.tracking.fakes.fetch import MediaFetcher
        from station.tracking.fakes.sources import DemoTracking, PhaseProbe, source_factory, wanted_sample

        video, index = source.video, source.camera
        probe = PhaseProbe()
        sample = wanted_sample(video, index)
        # A missing sample is fetched by a helper started now, before the tracker's network
        # guard goes up (a child of the guarded process could never fetch it).
        fetcher = MediaFetcher().start() if sample and MediaFetcher().local(sample) is None else None
        source = source_factory(settings, video, index, demo_fallback=True, model_path=model,
                                probe=probe, fetcher=fetcher)
        live = make_live_tracking(settings, plan, model, source)
        if fetcher is None or sample is None:
            return DemoTracking(live, probe)
        import glob

        # Fetch at once when the sample is surely needed (no webcam device to try first).
        eager = video in ("sample", "simulated") or not glob.glob("/dev/video*")
        return DemoTracking(live, probe, fetcher, sample, eager=eager)
    from station.tracking.camera import open_source

    return make_live_tracking(settings, plan, model, lambda: open_source(settings.camera))


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


def info_screen(data_dir: Path, facts: InfoFacts, side_source: str = "default") -> ClinicianInfo:
    """The clinician info screen: unit id, software, model, camera (what kind, and its state),
    the affected side and where it came from, storage, plan, export."""
    from station.clinic.unit import clinician_info

    items = ", ".join(f"{it.pattern.name} x{it.reps}" for it in facts.plan.items)
    ci = clinician_info(data_dir, f"{facts.camera_kind}, {CAMERA_WORDS[facts.status]}", items)
    side = facts.affected_side
    side_words = (f"{side} (from the prescription)" if side_source == "prescription"
                  else f"{side} (unit setting: no prescription names a side)")
    return replace(ci, extra=(("Affected side", side_words), *ci.extra))


def make_checkins(data_dir: Path, every_days: int | None) -> Any:
    """The weekly check-in service (offered on home when the prescription schedules one)."""
    from station.kiosk.checkin_run import Checkins

    return Checkins(data_dir, every_days)


def make_voice(settings: Settings, data_dir: Path) -> Any:
    """Spoken guidance (espeak-ng cache + clinic recordings), off when the settings say so."""
    from station.kiosk.voice import Voice

    a = settings.audio
    return Voice(data_dir, enabled=a.enabled and a.voice, volume=a.voice_volume)


def build_station(source: SourceChoice, settings: Settings, data_dir: Path,
                  clock: Clock = time.monotonic, **kwargs: Any) -> Station:
    """A Station with the prescribed plan, the record store, live tracking (frames from
    ``source``) and clinic chores."""
    from station.kiosk.housekeeping import Housekeeping

    settings, rx, notices = _prescribed(settings, data_dir)
    plan = rx.plan()
    recorder = make_recorder(settings, data_dir, plan)
    tracking = make_tracking(source, settings, data_dir, plan, clock)
    side_source = "prescription" if rx.affected_side else "default"
    services = Services(tracking=tracking, recorder=recorder,
                        chores=Housekeeping(data_dir, rx, recorder),
                        watchdog=make_watchdog(),
                        info=lambda facts: info_screen(data_dir, facts, side_source),
                        voice=make_voice(settings, data_dir),
                        checkin=make_checkins(data_dir, rx.checkin_every_days))
    station = Station(settings, plan, services, clock=clock, **kwargs)
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
