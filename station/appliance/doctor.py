"""``station doctor``: a plain-language self-check for a technician and the clinician info screen.

One line per check: camera, face model, the face model's sandbox (no network, no file writing),
display, button, storage, clock. Each says OK, PROBLEM
or SKIPPED (does not apply on this machine) and, for a problem, what to do next. The exit code
is 0 when every *essential* check passes (the kiosk can do its job), 1 otherwise.

:func:`run_checks` returns the same as data, so the kiosk's info screen can show it. It never
raises, and it never takes a resource away from a running kiosk: an already initialised pygame
display is only reported, not re-opened or closed.
"""

from __future__ import annotations

import datetime as _dt
import glob
import importlib
import importlib.util
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.config import Settings

log = logging.getLogger(__name__)

MIN_FREE_BYTES = 200 * 1024 * 1024
MIN_YEAR = 2025


@dataclass(frozen=True)
class Check:
    """One check's outcome. ``status`` is "OK", "PROBLEM" or "SKIPPED"."""

    name: str
    status: str
    detail: str
    action: str = ""
    essential: bool = True

    @property
    def ok(self) -> bool:
        """True unless this is a problem."""
        return self.status != "PROBLEM"

    def line(self) -> str:
        """The report line: status, check, what was found, what to do."""
        if self.status == "PROBLEM" and not self.essential:  # e.g. no camera on a laptop
            return (f"{'NOTE':<8} {self.name:<8} {self.detail} (not needed here: the kiosk "
                    "on a Raspberry Pi needs it, station demo works without it)")
        text = f"{self.status:<8} {self.name:<8} {self.detail}"
        if self.action and self.status == "PROBLEM":
            text += f" -> {self.action}"
        return text


def is_raspberry_pi() -> bool:
    """True on a Raspberry Pi (device-tree model names it)."""
    for f in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        try:
            return "Raspberry Pi" in Path(f).read_text(errors="replace")
        except OSError:
            continue
    return False


def _guard(name: str, essential: bool, fn: Callable[[], Check]) -> Check:
    """Run one check; an unexpected error becomes a PROBLEM line, never an exception."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - a self-check must report, not crash
        log.exception("doctor: %s check failed", name)
        return Check(
            name,
            "PROBLEM",
            f"the check itself failed ({exc.__class__.__name__}: {exc})",
            "note this message for the clinic",
            essential,
        )


# ----------------------------------------------------------------------------- checks
def check_camera(settings: Settings, on_pi: bool) -> Check:
    """Is there a camera the kiosk can use? (Does not keep it open.)"""
    cam = settings.camera
    essential = on_pi
    if cam.source == "file":
        if cam.file and Path(cam.file).is_file():
            return Check("camera", "OK", f"video file {cam.file}", essential=essential)
        return Check(
            "camera",
            "PROBLEM",
            f"camera.source is 'file' but {cam.file or 'no file'} is missing",
            "set camera.file in the settings, or camera.source = 'auto'",
            essential,
        )
    if importlib.util.find_spec("station.tracking.camera") is not None:
        camera_mod = importlib.import_module("station.tracking.camera")
        opener = getattr(camera_mod, "open_source", None)
        if opener is not None:
            try:
                source = opener(cam)
            except Exception as exc:  # noqa: BLE001 - report what the camera layer said
                return Check(
                    "camera",
                    "PROBLEM",
                    f"could not open the camera ({exc})",
                    "check the camera cable and the camera settings, then restart",
                    essential,
                )
            close = getattr(source, "close", None)
            if callable(close):
                close()
            return Check(
                "camera", "OK", f"camera opened ({type(source).__name__})", essential=essential
            )
    if cam.source in ("auto", "picamera") and importlib.util.find_spec("picamera2") is not None:
        from picamera2 import Picamera2

        info = Picamera2.global_camera_info()
        if info:
            return Check(
                "camera",
                "OK",
                f"Pi camera found: {info[0].get('Model', 'unknown model')}",
                essential=essential,
            )
        if cam.source == "picamera":
            return Check(
                "camera",
                "PROBLEM",
                "no Pi camera found",
                "switch off, re-seat the camera ribbon cable, switch on",
                essential,
            )
    if cam.source in ("auto", "webcam") and importlib.util.find_spec("cv2") is not None:
        video_nodes = sorted(glob.glob("/dev/video*"))
        if video_nodes:
            return Check(
                "camera",
                "OK",
                f"video devices: {', '.join(video_nodes[:4])} (OpenCV available)",
                essential=essential,
            )
    return Check(
        "camera",
        "PROBLEM",
        "no camera found",
        "connect the camera (Pi camera ribbon cable, or a USB webcam) and restart",
        essential,
    )


def check_model(data_dir: Path) -> Check:
    """Is the installed face model the pinned one?"""
    from station.paths import model_path
    from station.tracking.model import MODEL_SHA256, ModelError, verify

    path = model_path(data_dir)
    try:
        verify(path)
    except ModelError as exc:
        return Check("model", "PROBLEM", str(exc).split(". Run:")[0], "run: station model fetch")
    return Check("model", "OK", f"face model matches the pin (sha256 {MODEL_SHA256[:12]}...)")


def check_sandbox(probe: Callable[[], dict[str, object]] | None = None) -> Check:
    """Would the face model's process run with no network and no file writing on this machine?
    A throwaway child installs the same filters and tries a socket and a write (``nonet``)."""
    from station.tracking import nonet

    found = (probe or nonet.check_this_machine)()
    machine = found.get("machine", "this machine")
    if found.get("network") and found.get("files"):
        return Check("sandbox", "OK", "the face model runs in its own process with no network "
                     "and no file writing (seccomp filters in force)")
    if not found.get("tables"):
        return Check("sandbox", "SKIPPED", f"no network filter exists for {machine}: the face "
                     "model runs in its own process, unfiltered (the unit's systemd sandbox "
                     "still cuts the network)", essential=False)
    why = f" ({found['error']})" if found.get("error") else ""
    if not found.get("network"):
        return Check("sandbox", "PROBLEM", f"the kernel refused the network filter{why}: the "
                     "face model will not start", "update the system (a kernel with seccomp), "
                     "or tell the clinic")
    return Check("sandbox", "PROBLEM", "the face model has no network, but the kernel refused "
                 f"the filter that takes file writing away{why}", "tell the clinic")


def check_display() -> Check:
    """Can SDL open the display driver this process is set up for?"""
    wanted = os.environ.get("SDL_VIDEODRIVER", "")
    cards = sorted(glob.glob("/dev/dri/card*"))
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    if pygame.display.get_init():  # the kiosk itself is asking: report, do not touch
        return Check(
            "display", "OK", f"in use by this station (SDL driver {pygame.display.get_driver()})"
        )
    try:
        pygame.display.init()
        driver = pygame.display.get_driver()
    except pygame.error as exc:
        where = f"; DRM devices: {', '.join(cards)}" if cards else "; no /dev/dri/card* device"
        return Check(
            "display",
            "PROBLEM",
            f"SDL could not open {wanted or 'a'} display ({exc}){where}",
            "check the screen cable; on the unit, run this while the kiosk is stopped",
        )
    try:
        detail = f"SDL driver {driver}"
        if driver == "kmsdrm" and cards:
            detail += f" on {', '.join(cards)}"
        return Check("display", "OK", detail)
    finally:
        pygame.display.quit()


def check_button(settings: Settings, on_pi: bool, pin_factory: Any = None) -> Check:
    """Does the button's GPIO pin read, and is it not stuck pressed?"""
    pin = settings.button.pin
    if pin_factory is None and not on_pi and not os.environ.get("GPIOZERO_PIN_FACTORY"):
        return Check(
            "button",
            "SKIPPED",
            "no GPIO here (not a Raspberry Pi); the keyboard stands in",
            essential=False,
        )
    from gpiozero import Button
    from gpiozero.exc import GPIOZeroError

    try:
        button = Button(pin, pull_up=True, pin_factory=pin_factory)
    except (GPIOZeroError, OSError) as exc:
        text = str(exc)
        if "busy" in text.lower() or "in use" in text.lower():
            return Check(
                "button", "OK", f"GPIO{pin} is in use (the running kiosk holds it)", essential=on_pi
            )
        return Check(
            "button",
            "PROBLEM",
            f"GPIO{pin} cannot be read ({exc})",
            "check button.pin in the settings and the GPIO packages (lgpio)",
            on_pi,
        )
    try:
        pressed = button.is_pressed
    finally:
        button.close()
    if pressed:
        return Check(
            "button",
            "PROBLEM",
            f"the button on GPIO{pin} reads pressed right now",
            "release it; if it stays pressed, the button or its wiring is stuck",
            on_pi,
        )
    return Check("button", "OK", f"button on GPIO{pin} reads released", essential=on_pi)


def check_storage(data_dir: Path) -> Check:
    """Is the data directory writable, with room for records?"""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".doctor-") as f:
            f.write(b"ok")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        return Check(
            "storage",
            "PROBLEM",
            f"cannot write to {data_dir} ({exc.strerror or exc})",
            "return the unit to the clinic (the data storage is read-only or broken)",
        )
    free = shutil.disk_usage(data_dir).free
    mb = free // (1024 * 1024)
    if free < MIN_FREE_BYTES:
        return Check(
            "storage",
            "PROBLEM",
            f"{data_dir} has only {mb} MB free",
            "export the records at the clinic, then wipe the unit",
        )
    return Check("storage", "OK", f"{data_dir} writable, {mb} MB free")


def _ntp_synchronised() -> bool | None:
    if shutil.which("timedatectl") is None:
        return None
    try:
        out = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return {"yes": True, "no": False}.get(value)


def check_clock(now: float, ntp: bool | None) -> Check:
    """Is the system time plausible (records carry dates)?"""
    when = _dt.datetime.fromtimestamp(now, _dt.UTC)
    sync = {True: "NTP synchronised", False: "not NTP synchronised", None: "NTP state unknown"}[ntp]
    if when.year < MIN_YEAR:
        return Check(
            "clock",
            "PROBLEM",
            f"the date reads {when:%Y-%m-%d} ({sync})",
            "connect the unit to a network once, or set the date at the clinic",
            essential=False,
        )
    return Check("clock", "OK", f"{when:%Y-%m-%d %H:%M} UTC ({sync})", essential=False)


def run_checks(
    settings: Settings,
    data_dir: Path,
    *,
    pin_factory: Any = None,
    now: Callable[[], float] = time.time,
    ntp: Callable[[], bool | None] = _ntp_synchronised,
) -> list[Check]:
    """All checks, in report order. Never raises."""
    on_pi = is_raspberry_pi()
    data_dir = Path(data_dir)
    return [
        _guard("camera", on_pi, lambda: check_camera(settings, on_pi)),
        _guard("model", True, lambda: check_model(data_dir)),
        _guard("sandbox", True, check_sandbox),
        _guard("display", True, check_display),
        _guard("button", on_pi, lambda: check_button(settings, on_pi, pin_factory)),
        _guard("storage", True, lambda: check_storage(data_dir)),
        _guard("clock", False, lambda: check_clock(now(), ntp())),
    ]


def all_essential_ok(checks: list[Check]) -> bool:
    """True when no essential check is a problem."""
    return all(c.ok or not c.essential for c in checks)
