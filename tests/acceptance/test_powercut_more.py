"""kill -9 at random points of ``station export``, ``station prescribe``, the stick flow
(``station usb-sync --direct``) and sessions, on a seeded month of records (issue 10).

Each command runs in its own process (``tests/powercut_cmd.py``: imports first, then ``GO``,
then the real ``station`` main) and is killed at a random moment of its own work, drawn from
the length of one uncut run. After every kill: the store passes ``PRAGMA integrity_check``, no
committed row is lost (every row of the seed is still there, or in a verified bundle when the
stick asked for a wipe), the unit is never half-wiped, no temporary copy with patient data is
left anywhere (data dir, export folder, the system temp folder, the stick), and the next
command works. The counts and outcomes are printed (``pytest -s``).
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from rx_helpers import VALID, dumps

from station.clinic import prescription as rx
from station.clinic import stick as clinic
from station.clinic import unit
from station.clinic.export import verify_bundle
from station.devtools.recordgen import generate
from station.paths import database_path
from station.records.wipe import WIPE_MARKER

pytestmark = pytest.mark.slow  # the fast lane (-m "not slow") leaves this module out

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parents[1] / "powercut_cmd.py"
SESSION_DRIVER = Path(__file__).resolve().parents[1] / "powercut_driver.py"
UNIT, SECRET = "ms-cut001", bytes(range(32))
ALIAS = VALID["patient"]["alias"].encode()
NEXT_ALIAS = "P-NEXT-2"
TABLES = ("sessions", "patterns", "reps", "rep_series", "events", "calibrations")
EXPORT_KILLS, PRESCRIBE_KILLS, STICK_KILLS, SESSION_KILLS = 4, 6, 6, 8
WORKERS = 2  # independent trials (own data dir, own processes) run side by side

Rows = dict[str, set[tuple]]


@dataclass(frozen=True)
class Seed:
    """A provisioned unit with a month of practice and an active prescription."""

    path: Path
    rows: Rows
    rx_bytes: bytes

    @property
    def sessions(self) -> set[str]:
        """Every session id of the seed."""
        return {r[0] for r in self.rows["sessions"]}

    @property
    def reps(self) -> set[str]:
        """Every rep id of the seed."""
        return {r[0] for r in self.rows["reps"]}


def _rows(data_dir: Path) -> Rows:
    """Every row of every table; the store must be sound."""
    with closing(sqlite3.connect(database_path(data_dir))) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {t: set(db.execute(f"SELECT * FROM {t}")) for t in TABLES}


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Seed:
    """A seeded month (about 70 sessions, 550 reps), made once for every harness here."""
    d = tmp_path_factory.mktemp("seed") / "data"
    generate(d, days=30, seed=11, synchronous="OFF")
    unit.provision(d, SECRET, UNIT)
    data = dumps(VALID).encode()
    assert rx.apply_bytes(d, data).ok
    rows = _rows(d)
    assert len(rows["sessions"]) >= 40 and len(rows["reps"]) >= 300
    return Seed(d, rows, data)


@pytest.fixture
def systmp(tmp_path: Path) -> Path:
    """The commands' system temp folder (TMPDIR): nothing of a patient may stay there."""
    d = tmp_path / "systmp"
    d.mkdir()
    return d


@pytest.fixture
def other_disk() -> Iterator[Path | None]:
    """A folder on another file system (an export there is copied, not renamed), if any."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        yield None
        return
    d = Path(tempfile.mkdtemp(prefix="station-cut-", dir=shm))
    try:
        yield d if os.stat(d).st_dev != os.stat(tempfile.gettempdir()).st_dev else None
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _env(systmp: Path) -> dict[str, str]:
    return dict(os.environ, TMPDIR=str(systmp), STATION_DATA=str(systmp / "no-data-here"))


def _station(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The next command, uncut."""
    return subprocess.run([sys.executable, "-m", "station", *args], capture_output=True,
                          text=True, timeout=180, env=env, cwd=REPO)


def _uncut(env: dict[str, str], *args: str) -> float:
    """Seconds one uncut run of the command spends after GO (its own work)."""
    proc = subprocess.Popen([sys.executable, str(DRIVER), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"GO\n"
    t0 = time.monotonic()
    proc.communicate(timeout=180)
    assert proc.returncode == 0, args
    return time.monotonic() - t0


Phase = Callable[[], bool]  # "the command has reached this point" (a file it made exists)


def _cut(env: dict[str, str], phase: Phase | None, delay: float, *args: str) -> bool:
    """Run the command; once ``phase`` holds (at once when None), kill -9 it ``delay`` s later.

    True when the kill landed before the command ended by itself."""
    proc = subprocess.Popen([sys.executable, str(DRIVER), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"GO\n"  # a blocking read, not a wait
    limit = time.monotonic() + 120
    while phase is not None and not phase() and proc.poll() is None and time.monotonic() < limit:
        time.sleep(0.001)  # bounded polling until the command reaches the phase
    time.sleep(delay)  # the random moment of the power cut within it
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=180)
    assert proc.returncode in (0, -signal.SIGKILL), args
    return proc.returncode == -signal.SIGKILL


def _after(first: Phase, then: Phase) -> Phase:
    """A phase: ``then`` holds, once ``first`` was seen."""
    seen: list[bool] = []

    def phase() -> bool:
        if not seen and first():
            seen.append(True)
        return bool(seen) and then()

    return phase


def _any(folder: Path, pattern: str) -> Phase:
    """A phase: something matching ``pattern`` exists in ``folder``."""
    return lambda: folder.is_dir() and any(folder.glob(pattern))


def _trials(n: int, trial: Callable[[int], list[str]]) -> Counter[str]:
    """Run ``trial(0..n-1)`` side by side; the outcomes they report, counted."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return Counter(label for labels in pool.map(trial, range(n)) for label in labels)


def _copy(seed: Seed, dest: Path) -> Path:
    shutil.copytree(seed.path, dest)
    return dest


def _leftovers(data_dir: Path, systmp: Path, *places: Path) -> list[str]:
    """Temporary copies that may hold patient data, wherever a cut could have left them."""
    found = []
    tmp = data_dir / "tmp"
    if tmp.is_dir():
        found += [str(p) for p in tmp.iterdir()]
    for pattern in (".prescription.toml.tmp*", "*.export-tmp*", "records.sqlite3.corrupt-*"):
        found += [str(p) for p in data_dir.glob(pattern)]
    found += [str(p) for p in systmp.rglob("*") if p.is_file() and ALIAS in p.read_bytes()]
    for place in places:
        if place.is_dir():
            found += [str(p) for p in place.rglob("*")
                      if ".export-tmp" in p.name or p.name.startswith(".partial-")]
    return found


def _bundles(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if folder.is_dir() else []


def _csv_ids(bundle: Path, name: str) -> set[str]:
    with open(bundle / name, newline="", encoding="utf-8") as fh:
        return {r["id"] for r in csv.DictReader(fh)}


# ---------------------------------------------------------------- station export


def test_kill_minus_nine_during_export(seed: Seed, tmp_path: Path, systmp: Path,
                                       other_disk: Path | None):
    env = _env(systmp)
    dur = _uncut(env, "--data-dir", str(_copy(seed, tmp_path / "cal")), "export", "--out",
                 str(tmp_path / "cal-out"))
    rng = random.Random(20261101)
    delays = [rng.random() for _ in range(EXPORT_KILLS)]

    def trial(i: int) -> list[str]:
        d = _copy(seed, tmp_path / f"d{i}")
        # odd kills export to another file system: the copy path with its hidden partial
        elsewhere = other_disk is not None and (i % 2 or i % 3 == 2)
        out = (other_disk if elsewhere else tmp_path) / f"out{i}"  # type: ignore[operator]
        phase, delay = [(None, delays[i] * dur),  # anywhere
                        (_any(d / "tmp", "export-*"), delays[i] * dur / 2),  # building it
                        (_any(out, ".*.export-tmp"), delays[i] * 0.05)][i % 3]  # copying it out
        landed = _cut(env, phase, delay, "--data-dir", str(d), "export", "--out", str(out))
        assert _rows(d) == seed.rows  # an export never changes a row
        made = _bundles(out)
        assert all(verify_bundle(b) == [] for b in made)  # a bundle is whole or not there
        labels = ["killed" if landed else "finished first", "bundle whole" if made else "no bundle"]
        labels += ["left a temporary copy"] * bool(_leftovers(d, systmp, out))
        r = _station(env, "--data-dir", str(d), "export", "--out", str(out))  # the next command
        assert r.returncode == 0, r.stdout + r.stderr
        [*_, last] = _bundles(out)
        assert verify_bundle(last) == [] and _csv_ids(last, "sessions.csv") == seed.sessions
        assert _csv_ids(last, "reps.csv") == seed.reps
        assert _leftovers(d, systmp, out) == [], i
        return labels

    outcomes = _trials(EXPORT_KILLS, trial)
    print(f"\nexport kills: {EXPORT_KILLS} (uncut run {dur:.2f} s), outcomes {dict(outcomes)}")
    assert outcomes["killed"] >= 1


# ---------------------------------------------------------------- station prescribe


def test_kill_minus_nine_during_prescribe(seed: Seed, tmp_path: Path, systmp: Path):
    env = _env(systmp)
    new = tmp_path / "next.toml"
    new.write_text(dumps(dict(VALID, patient={"alias": NEXT_ALIAS, "affected_side": "right"})))
    dur = _uncut(env, "--data-dir", str(_copy(seed, tmp_path / "cal")), "prescribe", str(new))
    rng = random.Random(20261102)
    delays = [rng.uniform(0.0, dur) for _ in range(PRESCRIBE_KILLS)]

    def trial(i: int) -> list[str]:
        d = _copy(seed, tmp_path / f"d{i}")
        phase = None if i % 2 else _any(d, ".prescription.toml.tmp-*")  # anywhere / writing
        landed = _cut(env, phase, delays[i] / 50 if phase else delays[i], "--data-dir", str(d),
                      "prescribe", str(new))
        active = rx.active_path(d).read_bytes()
        assert active in (seed.rx_bytes, new.read_bytes()), i  # old or new, whole
        assert _rows(d) == seed.rows
        labels = ["killed" if landed else "finished first",
                  "old kept" if active == seed.rx_bytes else "new active"]
        labels += ["left a temporary copy"] * bool(_leftovers(d, systmp))
        r = _station(env, "--data-dir", str(d), "prescription", "check", str(new))
        assert r.returncode == 0, r.stdout + r.stderr
        assert rx.load_active(d).alias in (VALID["patient"]["alias"], NEXT_ALIAS)
        assert _leftovers(d, systmp) == [], i  # the next start removed a half-written copy
        return labels

    outcomes = _trials(PRESCRIBE_KILLS, trial)
    print(f"\nprescribe kills: {PRESCRIBE_KILLS} (uncut run {dur:.3f} s), "
          f"outcomes {dict(outcomes)}")
    assert outcomes["killed"] >= 1


# ---------------------------------------------------------------- the stick flow


def _stick_state(d: Path, seed: Seed, stick_export: Path) -> str:
    """What a cut left: never a half-wiped unit without the wipe marker to finish it."""
    if (d / WIPE_MARKER).exists():
        return "cut mid-wipe"
    rows = _rows(d)
    has_rx = rx.active_path(d).exists()
    if not rows["sessions"] and not has_rx:
        return "wiped"
    assert rows == seed.rows and has_rx, "half-wiped with no marker"
    return "exported, not wiped" if _bundles(stick_export) else "untouched"


def test_kill_minus_nine_during_the_stick_flow(seed: Seed, tmp_path: Path, systmp: Path):
    env = _env(systmp)
    cal, cal_stick = _copy(seed, tmp_path / "cal"), tmp_path / "cal-stick"
    cal_stick.mkdir()
    clinic.make_stick(cal_stick, SECRET, UNIT, wipe_after_export=True)
    dur = _uncut(env, "--data-dir", str(cal), "usb-sync", "--direct", str(cal_stick))
    rng = random.Random(20261103)
    delays = [rng.random() for _ in range(STICK_KILLS)]

    def trial(i: int) -> list[str]:
        d, stick = _copy(seed, tmp_path / f"d{i}"), tmp_path / f"stick{i}"
        stick.mkdir()
        req = clinic.make_stick(stick, SECRET, UNIT, wipe_after_export=True)
        export = stick / clinic.STICK_FOLDER / clinic.EXPORT_FOLDER
        phase, delay = [
            (None, delays[i] * dur),  # anywhere
            (_any(d / "tmp", "stick-export-*"), delays[i] * dur / 2),  # building the export
            (_any(export, ".partial-*"), delays[i] * 0.05),  # copying it to the stick
            (_any(export, "ms-*"), delays[i] * 0.02),  # the bundle is on the stick
            (_any(d, WIPE_MARKER), delays[i] * 0.02),  # wiping
            (_after(_any(d, WIPE_MARKER), lambda: not (d / WIPE_MARKER).exists()),
             delays[i] * 0.01),  # wiped, nonce not yet marked
        ][i % 6]
        landed = _cut(env, phase, delay, "--data-dir", str(d), "usb-sync", "--direct", str(stick))
        labels = ["killed" if landed else "finished first", _stick_state(d, seed, export)]
        labels += ["left a temporary copy"] * bool(_leftovers(d, systmp, stick))
        # the next command: the same stick again finishes the request (or says it is done)
        r = _station(env, "--data-dir", str(d), "usb-sync", "--direct", str(stick))
        assert r.returncode == 0 or (r.returncode == 2 and "already used" in r.stdout), \
            r.stdout + r.stderr
        assert unit.nonce_used(d, req.nonce) and not (d / WIPE_MARKER).exists()
        assert _rows(d)["sessions"] == set() and not rx.active_path(d).exists()  # fully wiped
        bundles = _bundles(export)
        assert bundles and all(verify_bundle(b) == [] for b in bundles)
        # nothing lost: every seeded session and rep is in a verified bundle on the stick
        assert set().union(*(_csv_ids(b, "sessions.csv") for b in bundles)) == seed.sessions
        assert set().union(*(_csv_ids(b, "reps.csv") for b in bundles)) == seed.reps
        assert _leftovers(d, systmp, stick) == [], i
        assert ALIAS not in b"".join(p.read_bytes() for p in d.rglob("*") if p.is_file())
        return labels

    outcomes = _trials(STICK_KILLS, trial)
    print(f"\nstick kills: {STICK_KILLS} (uncut run {dur:.2f} s), outcomes {dict(outcomes)}")
    assert outcomes["killed"] >= 1


# ---------------------------------------------------------------- sessions on a seeded month


def test_kill_minus_nine_during_sessions_on_a_seeded_month(seed: Seed, tmp_path: Path,
                                                           systmp: Path):
    env = _env(systmp)
    d = _copy(seed, tmp_path / "d")
    rng = random.Random(20261104)
    reported: set[str] = set()
    mid_session = 0
    for i in range(SESSION_KILLS):
        proc = subprocess.Popen([sys.executable, str(SESSION_DRIVER), str(d), str(100 + i)],
                                stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"  # the store is open
        time.sleep(rng.uniform(0.005, 0.3))  # the random moment of the power cut
        os.kill(proc.pid, signal.SIGKILL)
        lines = proc.stdout.read().splitlines()
        proc.wait()
        reported |= {ln[2:] for ln in lines if ln.startswith("R ")}
        started = [ln[2:] for ln in lines if ln.startswith("S ")]
        finished = {ln[2:] for ln in lines if ln.startswith("F ")}
        mid_session += bool(started) and started[-1] not in finished
        rows = _rows(d)  # a raw look before the next start
        assert all(seed.rows[t] <= rows[t] for t in TABLES if t != "sessions"), i
        assert seed.rows["sessions"] <= rows["sessions"], i  # the month's sessions untouched
        assert reported <= {r[0] for r in rows["reps"]}, i
    out = tmp_path / "out"
    r = _station(env, "--data-dir", str(d), "export", "--out", str(out))  # the next command
    assert r.returncode == 0, r.stdout + r.stderr
    [bundle] = _bundles(out)
    assert verify_bundle(bundle) == []
    assert _csv_ids(bundle, "reps.csv") >= seed.reps | reported
    assert _leftovers(d, systmp, out) == []
    print(f"\nsession kills: {SESSION_KILLS}, {mid_session} mid-session, "
          f"{len(reported)} reps committed by the killed runs, none lost")
    assert reported and mid_session >= 1


def test_the_next_start_removes_a_prescription_copy_left_by_a_kill(data_dir: Path,
                                                                  tmp_path: Path):
    """Regression: a kill inside ``prescribe``'s atomic write left the next patient's copy."""
    from station.cli import main

    writer = subprocess.Popen([sys.executable, "-c", "pass"])
    assert writer.wait() == 0  # reaped: no process has this pid now
    stale = data_dir / f".prescription.toml.tmp-{writer.pid}"
    stale.write_text(dumps(dict(VALID, patient={"alias": NEXT_ALIAS, "affected_side": "right"})))
    writing = data_dir / f".prescription.toml.tmp-{os.getpid()}"  # a live writer's copy
    writing.write_text("being written")
    f = tmp_path / "p.toml"
    f.write_text(dumps(VALID))
    assert main(["--data-dir", str(data_dir), "prescription", "check", str(f)]) == 0
    assert not stale.exists() and writing.exists()
