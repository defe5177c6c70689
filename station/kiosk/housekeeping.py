"""Once-a-second chores of a running kiosk that are not part of a session.

* tell ``station usb-sync`` that the kiosk is here (heartbeat file), run clinic stick jobs
  on a worker thread (an export can take longer than the systemd watchdog period) and show
  each step as a calm notice, ending with "Safe to remove the stick."; after a wipe, "This
  unit holds no patient records now." stays on home until the next prescription or session;
* after a stick job, reload the prescription and play the new plan from the next session;
* show the record store's one-time notices (storage full, room again, damaged file), and
  every few seconds give rows a full disk holds in memory another try, so they land once
  there is room even while nobody practises;
* the home screen's therapist message and gentle reminders (no nagging, quiet hours).

Stick jobs run only while the kiosk is at home or on the summary, so a wipe can never
happen in the middle of a practice.

The chores never reach into the loop: :meth:`Housekeeping.tick` is told whether a practice
(a session or a check-in) is under way and the time, and answers with a
:class:`~station.kiosk.services.ChoresResult` (notices to show or clear, in order, and a new
plan after a stick brought a prescription) that the loop applies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from station.clinic.stick import WIPED
from station.feedback import HomeInfo, Notice
from station.kiosk.services import ChoresResult, ClearNotice, NewPlan, NoticeChange, NullRecorder, RecorderService
from station.practice import words

log = logging.getLogger(__name__)

STICK_NOTICE_S = 60.0  # the last stick line stays this long on screen
FLUSH_RETRY_S = 5.0  # rows waiting for room are retried this often between engine outputs


class Housekeeping:
    """Called by the kiosk loop with ``tick(practising, now)``; never raises into the loop."""

    def __init__(self, data_dir: Path, prescription: Any, recorder: RecorderService | None = None,
                 wall: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone()) -> None:
        from station.practice.reminders import ReminderState

        self.data_dir = data_dir
        self.prescription = prescription
        self.recorder: RecorderService = recorder if recorder is not None else NullRecorder(data_dir)
        self.wall = wall
        self.reminders = ReminderState()
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._stick_done_at: float | None = None
        self.last_session_end: dt.datetime | None = None
        self.reminder_chime = False
        self._flush_at = float("-inf")

    # -- the loop calls these --------------------------------------------------------------

    def session_ended(self) -> None:
        """Remember when practice last ended (reminders do not nag right after one)."""
        self.last_session_end = self.wall()

    def tick(self, practising: bool, now: float) -> ChoresResult:
        """Do every chore once (the loop calls this about once a second); ``practising``: a
        session or a check-in is under way, so no stick job may start."""
        from station.clinic import spool as clinic

        try:
            clinic.kiosk_heartbeat(self.data_dir, practising=practising)
        except OSError as exc:  # a full or read-only disk must not stop the kiosk
            log.debug("kiosk heartbeat not written: %s", exc)
        notices: list[NoticeChange] = []
        plan = self._drain_stick_lines(now, notices)
        if self._worker is None and not practising and self._jobs_waiting():
            notices.append(self._start_job())
        self._retry_waiting_rows(now)
        notices += self.recorder.notices()
        return ChoresResult(tuple(notices), plan)

    def _retry_waiting_rows(self, now: float) -> None:
        """Rows a full disk held in memory land once there is room, even at home (the
        recorder itself only retries at the next engine output, perhaps tomorrow)."""
        if not self.recorder.pending_rows or now - self._flush_at < FLUSH_RETRY_S:
            return
        self._flush_at = now
        try:
            self.recorder.flush()
        except Exception:  # noqa: BLE001 - the recorder logs its own trouble; never stop here
            log.exception("retrying waiting record rows failed")

    def home_info(self, info: HomeInfo) -> HomeInfo:
        """Add the therapist's message and a due reminder to the record store's home info."""
        reminder = ""
        self.reminder_chime = False
        try:
            r = self.reminders.check(self.wall(), self.prescription, self.last_session_end)
        except Exception:  # noqa: BLE001 - a reminder must never break the home screen
            log.exception("reminder check failed")
            r = None
        if r is not None:
            reminder = r.text
            self.reminder_chime = bool(r.chime)
        return dataclasses.replace(info, therapist_message=self.prescription.message or "",
                                   reminder=reminder)

    @property
    def busy(self) -> bool:
        """True while a clinic stick job is running (the session must not start then)."""
        return self._worker is not None

    # -- stick jobs ------------------------------------------------------------------------

    def _jobs_waiting(self) -> bool:
        from station.clinic.stick import spool_dir

        try:
            return any(spool_dir(self.data_dir).glob("job-*.json"))
        except OSError:
            return False

    def _start_job(self) -> Notice:
        """Read the stick on a worker thread; the notice that says so."""
        from station.clinic.spool import process_pending_jobs

        def wiper(_data_dir: Path) -> None:
            self.recorder.wipe()  # the store closes, the files go, a fresh store opens

        def work() -> None:
            try:
                process_pending_jobs(self.data_dir, wiper=wiper, on_line=self._lines.put)
            except Exception:  # noqa: BLE001 - process_pending_jobs should not raise; be sure
                log.exception("clinic stick job failed")
                self._lines.put(words.STICK_UNREADABLE)
            finally:
                self._lines.put(None)

        self._worker = threading.Thread(target=work, name="clinic-stick", daemon=True)
        self._worker.start()
        return Notice(words.STICK_READING, "info", "stick")

    def _drain_stick_lines(self, now: float, notices: list[NoticeChange]) -> NewPlan | None:
        """The worker's lines as notices; the new plan once the job is over."""
        plan = None
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:  # the job finished
                self._worker = None
                self._stick_done_at = now
                plan = self._reload_prescription(notices)
                continue
            log.info("clinic stick: %s", line)
            notices.append(Notice(line, "info", "stick"))
            if line == WIPED:  # stays on home after the stick lines, until the next patient
                notices.append(Notice(WIPED, "info", "wiped"))
        if self._stick_done_at is not None and now - self._stick_done_at >= STICK_NOTICE_S:
            self._stick_done_at = None
            notices.append(ClearNotice("stick"))
        return plan

    def _reload_prescription(self, notices: list[NoticeChange]) -> NewPlan:
        from station.clinic.prescription import load_active

        rx = load_active(self.data_dir)
        self.prescription = rx
        if rx.source != "default":  # the next patient's prescription: the unit is in use again
            notices.append(ClearNotice("wiped"))
        return NewPlan(rx.plan(), rx.affected_side, rx.checkin_every_days)
