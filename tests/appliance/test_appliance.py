"""The appliance files: systemd units verify and are locked down, deploy scripts are clean."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = sorted((REPO / "systemd").glob("*.service"))
SCRIPTS = sorted((REPO / "deploy").glob("*.sh"))
ANALYZE = shutil.which("systemd-analyze")
SYSTEM_UNITS = next(
    (
        p
        for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
        if (p / "sysinit.target").exists()
    ),
    None,
)


def unit(name: str) -> dict[str, list[str]]:
    """Every key of a unit file -> all its values (repeated keys kept)."""
    values: dict[str, list[str]] = {}
    for raw in (REPO / "systemd" / name).read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            k, v = line.split("=", 1)
            values.setdefault(k, []).append(v)
    return values


def test_units_exist():
    assert {u.name for u in UNITS} >= {"station.service", "station-halted.service"}


def test_station_unit_contract():
    u = unit("station.service")
    assert u["Type"] == ["notify"] and u["WatchdogSec"] == ["10s"] and u["Restart"] == ["always"]
    assert u["OnFailure"] == ["station-halted.service"]
    assert int(u["StartLimitBurst"][0]) >= 3 and int(u["StartLimitIntervalSec"][0]) >= 60
    assert "getty@tty1.service" in u["Conflicts"][0] and u["TTYPath"] == ["/dev/tty1"]
    assert "SDL_VIDEODRIVER=kmsdrm" in u["Environment"]
    assert u["User"] == ["station"] and u["ExecStart"] == ["/opt/station/venv/bin/station run"]
    # writable: the data dir, and the clinic stick mount (exports); nothing else
    assert u["ProtectSystem"] == ["strict"]
    assert u["ReadWritePaths"] == ["/var/lib/station -/run/station-usb"]
    assert u["PrivateNetwork"] == ["yes"] and u["IPAddressDeny"] == ["any"]
    families = u["RestrictAddressFamilies"][0].split()
    assert "AF_UNIX" in families and not {"AF_INET", "AF_INET6", "AF_PACKET"} & set(families)
    assert u["CapabilityBoundingSet"] == [""] and u["NoNewPrivileges"] == ["yes"]
    assert u["DevicePolicy"] == ["closed"]
    allowed = " ".join(u["DeviceAllow"])
    for dev in (
        "char-drm",
        "char-video4linux",
        "char-media",
        "char-gpiochip",
        "char-input",
        "/dev/tty1",
    ):
        assert dev in allowed


def test_halted_unit_is_the_still_screen():
    u = unit("station-halted.service")
    assert u["ExecStart"] == ["/opt/station/venv/bin/station halted"]
    assert "station.service" in u["Conflicts"][0] and u["TTYPath"] == ["/dev/tty1"]
    assert u["PrivateNetwork"] == ["yes"] and u["User"] == ["station"]
    assert (
        "Install" not in (REPO / "systemd" / "station-halted.service").read_text()
    )  # only OnFailure starts it


def test_units_parse_as_ini():
    for path in UNITS:
        cp = configparser.ConfigParser(strict=False, interpolation=None)
        cp.optionxform = str  # type: ignore[assignment]
        cp.read_string(path.read_text())
        assert "Service" in cp and "Unit" in cp


@pytest.mark.skipif(
    ANALYZE is None or SYSTEM_UNITS is None, reason="needs systemd-analyze and systemd's units"
)
def test_systemd_analyze_verify_is_clean(tmp_path):
    """Verify inside a scratch root holding systemd's own units, ours, and a stand-in binary."""
    (tmp_path / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree(SYSTEM_UNITS, tmp_path / "usr/lib/systemd/system", symlinks=True)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    for path in UNITS:
        shutil.copy(path, tmp_path / "etc/systemd/system" / path.name)
    for rel in ("opt/station/venv/bin/station", "usr/lib/station/station-usb-mount"):
        exe = tmp_path / rel
        exe.parent.mkdir(parents=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    out = subprocess.run(
        [ANALYZE, "verify", f"--root={tmp_path}", "--man=no", *(u.name for u in UNITS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr


@pytest.mark.skipif(ANALYZE is None, reason="needs systemd-analyze")
@pytest.mark.parametrize("name", ["station.service", "station-halted.service"])
def test_security_exposure_at_most_3(name):
    out = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--no-pager", str(REPO / "systemd" / name)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout + out.stderr)
    assert m, out.stdout[-500:] + out.stderr[-500:]
    assert float(m.group(1)) <= 3.0


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck")
def test_shellcheck_clean():
    out = subprocess.run(
        ["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout


def test_scripts_parse_and_help():
    for path in SCRIPTS:
        assert subprocess.run(["bash", "-n", str(path)], timeout=30).returncode == 0
    script = REPO / "deploy" / "provision.sh"
    out = subprocess.run(
        ["bash", str(script), "--help"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0 and "--dry-run" in out.stdout
    bad = subprocess.run(
        ["bash", str(script), "--frobnicate"], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 2 and "unknown option --frobnicate" in bad.stderr


def test_provision_installs_what_the_units_name():
    text = (REPO / "deploy" / "provision.sh").read_text()
    for path in UNITS:
        assert path.name in text
    assert "mediapipe==$MP010_VERSION" in text and "MP010_VERSION=0.10.18" in text
    assert "--system-site-packages" in text and "requirements-mp010.txt" in text
