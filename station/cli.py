"""The ``station`` command line: one console script, one subcommand per job.

The parsers live here so the whole contract reads in one place; each subcommand's work
lives in the module that owns the concern and is imported only when that subcommand runs
(so ``station wipe`` never loads mediapipe): each subcommand's parser names its handler,
``"module:function"``, with ``set_defaults(handler=...)``, and takes the global options from
one parent parser. Exit codes: 0 ok, 2 bad input (with a message
naming what is wrong), 1 anything else.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from station import __version__
from station.config import CommandContext, build_context
from station.errors import UsageError


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 800x480, got {text!r}") from None
    if not (160 <= w <= 7680 and 120 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"size {text!r} is outside 160x120 .. 7680x4320")
    return w, h


def _port(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {text[:20]!r} is not a number (1-65535)") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 1-65535")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the full argument parser (used by ``main`` and by the tests)."""
    p = argparse.ArgumentParser(prog="station", description="Mirror-station: guided synkinesis practice.",
                                parents=[_global_options(None)])
    p.add_argument("--version", action="version", version=f"station {__version__}")
    common = _global_options(argparse.SUPPRESS)  # after the subcommand: only when given
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def leaf(group: Any, name: str, handler: str, help: str) -> argparse.ArgumentParser:
        """A subcommand that runs ``handler`` ("module:function", imported only when it runs)."""
        parser: argparse.ArgumentParser = group.add_parser(name, help=help, description=help,
                                                           parents=[common])
        parser.set_defaults(handler=handler)
        return parser

    def actions(group: Any, name: str, help: str, dest: str) -> Any:
        """A subcommand whose work is done by one of its own subcommands (ACTION)."""
        parser = group.add_parser(name, help=help, description=help, parents=[common])
        return parser.add_subparsers(dest=dest, required=True, metavar="ACTION")

    leaf(sub, "run", "station.kiosk.commands:cmd_run",
         "the kiosk as on the Pi: full screen, Pi camera, GPIO button")

    d = leaf(sub, "demo", "station.kiosk.commands:cmd_demo",
             "the station on a laptop: windowed, keyboard as the button")
    d.add_argument("--video", help="play this video file instead of a camera (\"sample\": a real face video, "
                   "fetched; \"simulated\": a real face photo moved on cue)")
    d.add_argument("--camera", type=int, help="webcam index")
    d.add_argument("--headless", action="store_true", help="no window (SDL dummy driver)")
    d.add_argument("--autoplay", action="store_true", help="simulate presses: run a whole session")
    d.add_argument("--speed", type=float, default=1.0, help="clock speed factor (with --autoplay)")
    d.add_argument("--size", type=_size, help="window size, e.g. 800x480")
    d.add_argument("--no-tracking", action="store_true", help="guide by time only")

    s = leaf(sub, "screens", "station.kiosk.commands:cmd_screens",
             "render every kiosk screen to PNG")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--size", type=_size, default=(800, 480), help="screen size, e.g. 800x480")

    vo = leaf(sub, "voice", "station.kiosk.commands:cmd_voice",
              "write every spoken cue of the current plan as WAV")
    vo.add_argument("--out", required=True, help="output folder (one <pattern>_<phase>_<lang>.wav per cue)")

    msub = actions(sub, "model", "the face model", "model_command")
    mf = leaf(msub, "fetch", "station.tracking.commands:cmd_fetch",
              "install the pinned face model")
    mf.add_argument("--from-file", help="install from this local .task file (hash still checked)")
    leaf(msub, "verify", "station.tracking.commands:cmd_verify",
         "check the installed face model against the pin")

    t = leaf(sub, "track", "station.devtools.commands:cmd_track",
             "offline: per-frame region readings of a video, as JSON")
    t.add_argument("video", help="the video file to track (mp4, mkv, ...)")
    t.add_argument("--json", required=True, dest="json_out", help="output JSON file")
    t.add_argument("--side", choices=["left", "right"], help="affected side (subject's own)")

    rp = leaf(sub, "replay", "station.devtools.commands:cmd_replay",
              "offline: a whole guided session on a video; phases, rep qualities, sentences as JSON")
    rp.add_argument("video", help="the video file to replay (its timestamps are the session clock)")
    rp.add_argument("--prescription", required=True, help="prescription file (the plan to play)")
    rp.add_argument("--json", required=True, dest="json_out", help="output JSON file")
    rp.add_argument("--side", choices=["left", "right"], help="affected side (overrides the prescription)")

    cksub = actions(sub, "checkin", "the weekly check-in (five standard movements, in mm)", "checkin_command")
    ckr = leaf(cksub, "replay", "station.devtools.commands:cmd_checkin_replay",
               "offline: the check-in on a video; mm, ratios, co-movement as JSON")
    ckr.add_argument("video", help="the video file (its timestamps are the check-in's clock)")
    ckr.add_argument("--json", required=True, dest="json_out", help="output JSON file")
    ckr.add_argument("--side", choices=["left", "right"], help="affected side (subject's own)")
    ckr.add_argument("--quick", action="store_true", help="the short pacing of the scripted check-in videos")

    b = leaf(sub, "bench", "station.devtools.commands:cmd_bench",
             "print the performance table")
    b.add_argument("--video", help="face video to measure on (default: the demo video)")
    b.add_argument("--quick", action="store_true", help="fewer repetitions")

    v = leaf(sub, "validate", "station.devtools.commands:cmd_validate",
             "offline: scripted real faces (blinks, narrowings, head turns) "
             "through the replay path; confusion tables per flag and frame rate")
    v.add_argument("--out", required=True, help="output folder (validation.json, validation.txt)")
    v.add_argument("--fps", default="5,7,10,15,30", help="frame rates, comma separated (default: %(default)s)")
    v.add_argument("--faces", help="the first N faces, or faces by name: f13,portrait,door (default: all)")
    v.add_argument("--sides", default="left,right", help="affected sides (default: %(default)s)")
    v.add_argument("--kinds", help="rep kinds, comma separated (default: all)")
    v.add_argument("--motions", help="head motions, comma separated (default: all)")
    v.add_argument("--no-videos", action="store_true", help="skip the real-blink count on the talking videos")
    v.add_argument("--jobs", type=int, default=1, help="processes in parallel, one face each (default: 1)")
    v.add_argument("--from-log", action="store_true",
                   help="only write the tables from the sessions an unfinished run logged in --out")

    e = leaf(sub, "export", "station.clinic.commands:cmd_export",
             "write the clinic bundle (CSV, JSON, PDF report)")
    e.add_argument("--out", required=True, help="output folder")

    w = leaf(sub, "wipe", "station.clinic.commands:cmd_wipe",
             "remove every patient record (keeps unit settings)")
    w.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    prsub = actions(sub, "prescription", "prescription files", "prescription_command")
    pc = leaf(prsub, "check", "station.clinic.commands:cmd_check",
              "validate a prescription file")
    pc.add_argument("file", help="the prescription.toml to check")
    pa = leaf(sub, "prescribe", "station.clinic.commands:cmd_prescribe",
              "validate and apply a prescription file")
    pa.add_argument("file", help="the prescription.toml to apply on this unit")

    csub = actions(sub, "clinic", "clinic tools", "clinic_command")
    ms = leaf(csub, "make-stick", "station.clinic.commands:cmd_make_stick",
              "prepare a clinic USB stick folder")
    ms.add_argument("dir", help="the mounted stick (its top folder)")
    ms.add_argument("--secret-file", help="the clinic secret (default: this unit's)")
    ms.add_argument("--unit", help="unit id the stick is for")
    ms.add_argument("--prescription", help="prescription.toml to put on the stick")
    ms.add_argument("--wipe-after-export", action="store_true", help="ask the unit to wipe after export")
    ms.add_argument("--voice", help="folder of recorded cues (<pattern>_<phase>_<lang>.wav, see station voice)")

    nk = leaf(csub, "new-key", "station.clinic.commands:cmd_new_key",
              "make a new clinic key file (once per clinic)")
    nk.add_argument("file", help="where to write the new key (must not exist)")
    pv = leaf(csub, "provision", "station.clinic.commands:cmd_provision",
              "give this unit (a laptop, a test unit) a clinic key and an id")
    pv.add_argument("--secret-file", required=True, help="the clinic key file (from clinic new-key)")
    pv.add_argument("--unit", help="the unit id to give it (default: a new ms-... id)")

    u = leaf(sub, "usb-sync", "station.clinic.commands:cmd_usb_sync",
             "run the clinic stick flow on a mounted folder")
    u.add_argument("dir", help="the mounted stick (its top folder)")
    u.add_argument("--direct", action="store_true", help="do the work here, not via the running kiosk")

    leaf(sub, "doctor", "station.appliance.commands:cmd_doctor",
         "plain-language self-check")

    dsub = actions(sub, "desk", "the clinic desk (on the clinic computer)", "desk_command")
    db_help = "database URL (sqlite:///FILE or postgresql+psycopg://...; default: a file in the data folder)"
    ds = leaf(dsub, "serve", "station.desk.commands:cmd_serve",
              "the desk's web pages on this computer")
    ds.add_argument("--db", help=db_help)
    ds.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ds.add_argument("--port", type=_port, default=8470, help="port, 1-65535 (default 8470)")
    ds.add_argument("--key-file", help="the clinic key file (default: the data folder's, then /etc/station)")
    ds.add_argument("--allow-host", action="append", help="a host name browsers use to reach the desk")
    ds.add_argument("--tls-cert", help="HTTPS certificate (PEM); with --tls-key, needed on any --host but loopback")
    ds.add_argument("--tls-key", help="the certificate's private key (PEM)")
    ds.add_argument("--behind-proxy", action="store_true",
                    help="a reverse proxy terminates HTTPS in front of the desk (instead of --tls-cert)")
    ds.add_argument("--stick-root", action="append",
                    help="a folder sticks are mounted under (repeatable; default /media and /run/media)")
    di = leaf(dsub, "import", "station.desk.commands:cmd_import",
              "import a returned bundle (folder, zip, or a stick's folder)")
    di.add_argument("path", help="a bundle folder, a zip of one, or a stick's folder (imports every bundle on it)")
    di.add_argument("--db", help=db_help)
    di.add_argument("--key-file", help="the clinic key that signed the bundle (default: the data folder's, "
                    "then /etc/station)")
    dusub = actions(dsub, "user", "desk accounts", "user_command")
    dua = leaf(dusub, "add", "station.desk.commands:cmd_user_add",
               "add an account (password asked, or --password-file)")
    dua.add_argument("name", help="the account name (letters, digits, '.', '_' or '-')")
    dua.add_argument("--password-file", help="read the password from the first line of this file")
    dua.add_argument("--db", help=db_help)

    h = leaf(sub, "halted", "station.appliance.commands:cmd_halted",
             "still screen: please return this unit to the clinic")
    h.add_argument("--once", action="store_true", help="draw once and exit (for checks)")
    return p


def _global_options(default: object) -> argparse.ArgumentParser:
    """A parent parser with --config, --data-dir and -v.

    The top-level parser takes it with ``default=None``; every subcommand takes it with
    ``argparse.SUPPRESS``, so an option given after the subcommand overrides one given before
    it, and an option not given after it leaves the one before it alone (a subcommand's
    defaults would otherwise overwrite it).
    """
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", default=default,
                   help="unit settings file (default /etc/station/station.toml if present)")
    p.add_argument("--data-dir", default=default,
                   help="data directory (overrides settings and STATION_DATA)")
    p.add_argument("-v", "--verbose", action="store_true", default=False if default is None else default,
                   help="debug logging")
    return p


def _finish_interrupted_work(ctx: CommandContext) -> None:
    """Finish a wipe a power cut interrupted and remove half-written exports, whatever the
    command (so a unit is only ever fully wiped or not at all). Never stops the command."""
    from station.records.wipe import finish_interrupted_work

    log = logging.getLogger("station")
    try:
        for line in finish_interrupted_work(ctx.data_dir_found):
            log.warning("%s", line)
    except Exception:  # noqa: BLE001 - the command itself must still run
        log.exception("could not check for interrupted work")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the subcommand; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from station.kiosk.native_log import capture_native_stderr

    capture_native_stderr()  # C libraries' chatter (ALSA, OpenCV, mediapipe) to the debug log
    module_name, func_name = args.handler.split(":")  # set by the subcommand's parser
    try:
        # settings and data folder, once, for every command
        args.ctx = build_context(args.config, args.data_dir, args.verbose)
        _finish_interrupted_work(args.ctx)
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(args) or 0)
    except UsageError as exc:
        print(f"station: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 1
    except Exception:  # noqa: BLE001 - last line of defence: log and exit 1
        logging.getLogger("station").exception("station %s failed", args.command)
        return 1
