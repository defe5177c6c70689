"""The ``station`` command line: one console script, one subcommand per job.

The parsers live here so the whole contract reads in one place; each subcommand's work
lives in the module that owns the concern and is imported only when that subcommand runs
(so ``station wipe`` never loads mediapipe). Exit codes: 0 ok, 2 bad input (with a message
naming what is wrong), 1 anything else.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from station import __version__
from station.config import CommandContext, build_context
from station.errors import UsageError

# subcommand -> "module:function"; the function takes the parsed args and returns an exit code.
HANDLERS: dict[str, str] = {
    "run": "station.kiosk.commands:cmd_run",
    "demo": "station.kiosk.commands:cmd_demo",
    "screens": "station.kiosk.commands:cmd_screens",
    "voice": "station.kiosk.commands:cmd_voice",
    "model fetch": "station.tracking.commands:cmd_fetch",
    "model verify": "station.tracking.commands:cmd_verify",
    "track": "station.devtools.commands:cmd_track",
    "replay": "station.devtools.commands:cmd_replay",
    "checkin replay": "station.devtools.commands:cmd_checkin_replay",
    "bench": "station.devtools.commands:cmd_bench",
    "validate": "station.devtools.commands:cmd_validate",
    "export": "station.clinic.commands:cmd_export",
    "wipe": "station.clinic.commands:cmd_wipe",
    "prescription check": "station.clinic.commands:cmd_check",
    "prescribe": "station.clinic.commands:cmd_prescribe",
    "clinic make-stick": "station.clinic.commands:cmd_make_stick",
    "clinic new-key": "station.clinic.commands:cmd_new_key",
    "clinic provision": "station.clinic.commands:cmd_provision",
    "usb-sync": "station.clinic.commands:cmd_usb_sync",
    "doctor": "station.appliance.commands:cmd_doctor",
    "halted": "station.appliance.commands:cmd_halted",
    "desk serve": "station.desk.commands:cmd_serve",
    "desk import": "station.desk.commands:cmd_import",
    "desk user add": "station.desk.commands:cmd_user_add",
}


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
    p = argparse.ArgumentParser(prog="station", description="Mirror-station: guided synkinesis practice.")
    p.add_argument("--version", action="version", version=f"station {__version__}")
    _global_options(p)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", help="the kiosk as on the Pi: full screen, Pi camera, GPIO button")

    d = sub.add_parser("demo", help="the station on a laptop: windowed, keyboard as the button")
    d.add_argument("--video", help="play this video file instead of a camera (\"sample\": a real face video, "
                   "fetched; \"simulated\": a real face photo moved on cue)")
    d.add_argument("--camera", type=int, help="webcam index")
    d.add_argument("--headless", action="store_true", help="no window (SDL dummy driver)")
    d.add_argument("--autoplay", action="store_true", help="simulate presses: run a whole session")
    d.add_argument("--speed", type=float, default=1.0, help="clock speed factor (with --autoplay)")
    d.add_argument("--size", type=_size, help="window size, e.g. 800x480")
    d.add_argument("--no-tracking", action="store_true", help="guide by time only")

    s = sub.add_parser("screens", help="render every kiosk screen to PNG")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--size", type=_size, default=(800, 480), help="screen size, e.g. 800x480")

    vo = sub.add_parser("voice", help="write every spoken cue of the current plan as WAV")
    vo.add_argument("--out", required=True, help="output folder (one <pattern>_<phase>_<lang>.wav per cue)")

    m = sub.add_parser("model", help="the face model")
    msub = m.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    mf = msub.add_parser("fetch", help="install the pinned face model")
    mf.add_argument("--from-file", help="install from this local .task file (hash still checked)")
    msub.add_parser("verify", help="check the installed face model against the pin")

    t = sub.add_parser("track", help="offline: per-frame region readings of a video, as JSON")
    t.add_argument("video", help="the video file to track (mp4, mkv, ...)")
    t.add_argument("--json", required=True, dest="json_out", help="output JSON file")
    t.add_argument("--side", choices=["left", "right"], help="affected side (subject's own)")

    rp = sub.add_parser("replay", help="offline: a whole guided session on a video; phases, rep qualities, "
                        "sentences as JSON")
    rp.add_argument("video", help="the video file to replay (its timestamps are the session clock)")
    rp.add_argument("--prescription", required=True, help="prescription file (the plan to play)")
    rp.add_argument("--json", required=True, dest="json_out", help="output JSON file")
    rp.add_argument("--side", choices=["left", "right"], help="affected side (overrides the prescription)")

    ck = sub.add_parser("checkin", help="the weekly check-in (five standard movements, in mm)")
    cksub = ck.add_subparsers(dest="checkin_command", required=True, metavar="ACTION")
    ckr = cksub.add_parser("replay", help="offline: the check-in on a video; mm, ratios, co-movement as JSON")
    ckr.add_argument("video", help="the video file (its timestamps are the check-in's clock)")
    ckr.add_argument("--json", required=True, dest="json_out", help="output JSON file")
    ckr.add_argument("--side", choices=["left", "right"], help="affected side (subject's own)")
    ckr.add_argument("--quick", action="store_true", help="the short pacing of the scripted check-in videos")

    b = sub.add_parser("bench", help="print the performance table")
    b.add_argument("--video", help="face video to measure on (default: the demo video)")
    b.add_argument("--quick", action="store_true", help="fewer repetitions")

    v = sub.add_parser("validate", help="offline: scripted real faces (blinks, narrowings, head turns) "
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

    e = sub.add_parser("export", help="write the clinic bundle (CSV, JSON, PDF report)")
    e.add_argument("--out", required=True, help="output folder")

    w = sub.add_parser("wipe", help="remove every patient record (keeps unit settings)")
    w.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    pr = sub.add_parser("prescription", help="prescription files")
    prsub = pr.add_subparsers(dest="prescription_command", required=True, metavar="ACTION")
    pc = prsub.add_parser("check", help="validate a prescription file")
    pc.add_argument("file", help="the prescription.toml to check")
    pa = sub.add_parser("prescribe", help="validate and apply a prescription file")
    pa.add_argument("file", help="the prescription.toml to apply on this unit")

    c = sub.add_parser("clinic", help="clinic tools")
    csub = c.add_subparsers(dest="clinic_command", required=True, metavar="ACTION")
    ms = csub.add_parser("make-stick", help="prepare a clinic USB stick folder")
    ms.add_argument("dir", help="the mounted stick (its top folder)")
    ms.add_argument("--secret-file", help="the clinic secret (default: this unit's)")
    ms.add_argument("--unit", help="unit id the stick is for")
    ms.add_argument("--prescription", help="prescription.toml to put on the stick")
    ms.add_argument("--wipe-after-export", action="store_true", help="ask the unit to wipe after export")
    ms.add_argument("--voice", help="folder of recorded cues (<pattern>_<phase>_<lang>.wav, see station voice)")

    nk = csub.add_parser("new-key", help="make a new clinic key file (once per clinic)")
    nk.add_argument("file", help="where to write the new key (must not exist)")
    pv = csub.add_parser("provision", help="give this unit (a laptop, a test unit) a clinic key and an id")
    pv.add_argument("--secret-file", required=True, help="the clinic key file (from clinic new-key)")
    pv.add_argument("--unit", help="the unit id to give it (default: a new ms-... id)")

    u = sub.add_parser("usb-sync", help="run the clinic stick flow on a mounted folder")
    u.add_argument("dir", help="the mounted stick (its top folder)")
    u.add_argument("--direct", action="store_true", help="do the work here, not via the running kiosk")

    sub.add_parser("doctor", help="plain-language self-check")

    dk = sub.add_parser("desk", help="the clinic desk (on the clinic computer)")
    dsub = dk.add_subparsers(dest="desk_command", required=True, metavar="ACTION")
    db_help = "database URL (sqlite:///FILE or postgresql+psycopg://...; default: a file in the data folder)"
    ds = dsub.add_parser("serve", help="the desk's web pages on this computer")
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
    di = dsub.add_parser("import", help="import a returned bundle (folder, zip, or a stick's folder)")
    di.add_argument("path", help="a bundle folder, a zip of one, or a stick's folder (imports every bundle on it)")
    di.add_argument("--db", help=db_help)
    di.add_argument("--key-file", help="the clinic key that signed the bundle (default: the data folder's, "
                    "then /etc/station)")
    du = dsub.add_parser("user", help="desk accounts")
    dusub = du.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    dua = dusub.add_parser("add", help="add an account (password asked, or --password-file)")
    dua.add_argument("name", help="the account name (letters, digits, '.', '_' or '-')")
    dua.add_argument("--password-file", help="read the password from the first line of this file")
    dua.add_argument("--db", help=db_help)

    h = sub.add_parser("halted", help="still screen: please return this unit to the clinic")
    h.add_argument("--once", action="store_true", help="draw once and exit (for checks)")
    _everywhere(p, sub)
    return p


def _global_options(p: argparse.ArgumentParser, default: object = None) -> None:
    """--config, --data-dir and -v (given before or after the subcommand)."""
    p.add_argument("--config", default=default,
                   help="unit settings file (default /etc/station/station.toml if present)")
    p.add_argument("--data-dir", default=default,
                   help="data directory (overrides settings and STATION_DATA)")
    p.add_argument("-v", "--verbose", action="store_true", default=default or False,
                   help="debug logging")


def _everywhere(top: argparse.ArgumentParser, sub: argparse._SubParsersAction) -> None:
    """Every subcommand takes the global options too (not overriding ones given before it),
    and its help page starts with the one-line summary shown in ``station --help``."""
    summaries = {a.dest: a.help for a in sub._choices_actions}
    for name, parser in sub.choices.items():
        if parser.description is None:
            parser.description = summaries.get(name)
        _global_options(parser, argparse.SUPPRESS)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _everywhere(parser, action)


def _handler_key(args: argparse.Namespace) -> str:
    if args.command == "desk":
        return " ".join(filter(None, ("desk", args.desk_command, getattr(args, "user_command", None))))
    for sub_attr in ("model_command", "prescription_command", "clinic_command", "checkin_command"):
        value = getattr(args, sub_attr, None)
        if value:
            return f"{args.command} {value}"
    return args.command


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
    module_name, func_name = HANDLERS[_handler_key(args)].split(":")
    try:
        args.ctx = build_context(args)  # settings and data folder, once, for every command
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
