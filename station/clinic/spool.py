"""Handing a clinic stick from ``station usb-sync`` to the running kiosk, and back.

When a stick is plugged in, udev starts ``station usb-sync``; if the kiosk is alive (its
heartbeat file is fresh) the job is left in the spool folder and the kiosk runs it between
sessions, streaming each step back as a status line; otherwise usb-sync runs the stick flow
itself. A job is claimed by renaming it, so exactly one process carries it out.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from station.clinic.stick import Exporter, Report, Wiper, run_stick, spool_dir
from station.practice import words

log = logging.getLogger(__name__)


HEARTBEAT = "kiosk.alive"
HEARTBEAT_FRESH_S = 10.0
END = "END"


def kiosk_heartbeat(data_dir: Path, now: float | None = None, practising: bool = False) -> None:
    """Called by the kiosk loop (about once a second): 'I am here to take stick jobs'
    (``practising``: a session runs, the job waits until it ends)."""
    d = spool_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{HEARTBEAT}.tmp"
    state = "practising" if practising else "ready"
    tmp.write_text(f"{time.time() if now is None else now:.3f} {os.getpid()} {state}\n",
                   encoding="ascii")
    os.replace(tmp, d / HEARTBEAT)


def kiosk_alive(data_dir: Path, now: float | None = None) -> bool:
    """True when the kiosk wrote its heartbeat in the last few seconds."""
    try:
        stamp = float((spool_dir(data_dir) / HEARTBEAT).read_text("ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return abs((time.time() if now is None else now) - stamp) <= HEARTBEAT_FRESH_S


def kiosk_practising(data_dir: Path) -> bool:
    """True when the kiosk's last heartbeat says a session is running."""
    try:
        return (spool_dir(data_dir) / HEARTBEAT).read_text("ascii").split()[2:3] == ["practising"]
    except (OSError, ValueError):
        return False


def submit_job(data_dir: Path, stick: Path) -> str:
    """Drop a job file for the kiosk; returns the job id."""
    d = spool_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    job_id = f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}"
    tmp = d / f".job-{job_id}.tmp"
    tmp.write_text(json.dumps({"stick": str(stick.resolve())}), encoding="utf-8")
    os.replace(tmp, d / f"job-{job_id}.json")
    return job_id


def _claim(data_dir: Path, job_id: str) -> Path | None:
    """Atomically take a job (only one taker wins the rename)."""
    src = spool_dir(data_dir) / f"job-{job_id}.json"
    dst = spool_dir(data_dir) / f"job-{job_id}.claimed"
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        return None
    return dst


def _run_job(data_dir: Path, job_id: str, claimed: Path, exporter: Exporter | None,
             wiper: Wiper | None, now: Callable[[], float],
             on_line: Report | None) -> tuple[int, list[str]]:
    status = spool_dir(data_dir) / f"job-{job_id}.status"
    lines: list[str] = []
    with open(status, "a", encoding="utf-8") as out:

        def report(text: str) -> None:
            lines.append(text)
            out.write(text + "\n")
            out.flush()
            if on_line is not None:
                on_line(text)

        try:
            stick = Path(json.loads(claimed.read_text("utf-8"))["stick"])
            code = run_stick(stick, data_dir, exporter, wiper, report, now)
        except Exception:  # noqa: BLE001 - a broken job never stops the kiosk
            log.exception("stick job %s failed", job_id)
            report(words.STICK_NOT_HANDLED)
            code = 1
        out.write(f"{END} {code}\n")
    claimed.unlink(missing_ok=True)
    return code, lines


def process_pending_jobs(data_dir: Path, exporter: Exporter | None = None,
                         wiper: Wiper | None = None, now: Callable[[], float] = time.time,
                         on_line: Report | None = None) -> list[str]:
    """Kiosk side: run every waiting stick job; returns all status lines for the screen.

    ``on_line`` gets each line as it happens (to draw progress). Never raises. After a job
    the kiosk should reload the prescription (:func:`station.clinic.prescription.load_active`).
    """
    lines: list[str] = []
    try:
        jobs = sorted(spool_dir(data_dir).glob("job-*.json"))
    except OSError:
        return lines
    for job in jobs:
        job_id = job.name[len("job-"):-len(".json")]
        claimed = _claim(data_dir, job_id)
        if claimed is not None:
            lines += _run_job(data_dir, job_id, claimed, exporter, wiper, now, on_line)[1]
    _tidy_status(data_dir, now())
    return lines


def _tidy_status(data_dir: Path, now: float, keep_s: float = 3600.0) -> None:
    for p in spool_dir(data_dir).glob("job-*.status"):
        try:
            if now - p.stat().st_mtime > keep_s:
                p.unlink()
        except OSError:
            pass


def hand_off(data_dir: Path, stick: Path, out: Report, now: Callable[[], float] = time.time,
             sleep: Callable[[float], None] = time.sleep, pickup_s: float = 15.0,
             total_s: float = 600.0, exporter: Exporter | None = None,
             wiper: Wiper | None = None) -> int:
    """usb-sync side: give the stick to the kiosk and relay its lines; run it here when the
    kiosk does not take the job within ``pickup_s``. Returns the flow's exit code."""
    job_id = submit_job(data_dir, stick)
    status = spool_dir(data_dir) / f"job-{job_id}.status"
    start, shown, told = now(), 0, False
    while True:
        text = status.read_text("utf-8") if status.exists() else ""
        lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
        for line in lines[shown:]:
            if line.startswith(END + " "):
                status.unlink(missing_ok=True)
                return int(line.split()[1])
            out(line)
            shown += 1
        waited = now() - start
        alive = kiosk_alive(data_dir, now())
        if not told and not status.exists() and alive and kiosk_practising(data_dir):
            told = True
            # not patient words: usb-sync's terminal
            out("The station is in a practice session. The stick will be read when it ends; "
                "leave it in.")
        # take the job over only from a kiosk that is gone, never from one that is practising
        if not status.exists() and waited >= pickup_s and not alive:
            claimed = _claim(data_dir, job_id)
            if claimed is not None:
                out("The station screen did not answer; doing it here.")  # not patient words: usb-sync's terminal
                code, _ = _run_job(data_dir, job_id, claimed, exporter, wiper, now, out)
                (spool_dir(data_dir) / f"job-{job_id}.status").unlink(missing_ok=True)
                return code
        if waited >= total_s:
            # not patient words: usb-sync's terminal
            out("The station is still busy with the stick. Leave it in and wait.")
            return 1
        sleep(0.2)


# ---------------------------------------------------------------- command line
