"""The udev rule, the mount helper and the systemd template for clinic sticks on the Pi."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "station-usb@.service"
RULE = REPO / "deploy" / "99-station-usb.rules"
HELPER = REPO / "deploy" / "station-usb-mount"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_template_unit_verifies_and_is_sandboxed(tmp_path: Path):
    # the programs it runs exist only on a provisioned Pi: stand /bin/true in for them
    text = UNIT.read_text().replace("/usr/lib/station/station-usb-mount", "/bin/true")
    text = text.replace("/opt/station/venv/bin/station", "/bin/true")
    (tmp_path / "station-usb@.service").write_text(text)
    res = subprocess.run(["systemd-analyze", "verify", "--man=no", "./station-usb@sda1.service"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr
    for line in ("ProtectSystem=strict", "PrivateNetwork=yes", "BindsTo=dev-%i.device",
                 "ExecStopPost=+-/usr/bin/umount --lazy /run/station-usb/%i",
                 "ExecStart=/opt/station/venv/bin/station usb-sync /run/station-usb/%i"):
        assert line in UNIT.read_text().splitlines()


def test_udev_rule_starts_the_template_for_usb_filesystems():
    rule = RULE.read_text().replace("\\\n", " ")
    [line] = [ln for ln in rule.splitlines() if ln.strip() and not ln.startswith("#")]
    for part in ('ACTION=="add"', 'SUBSYSTEM=="block"', 'ENV{ID_BUS}=="usb"',
                 'ENV{ID_FS_USAGE}=="filesystem"', 'ENV{SYSTEMD_WANTS}+="station-usb@%k.service"',
                 'TAG+="systemd"'):
        assert part in line


def test_mount_helper_mounts_safely_and_passes_shellcheck():
    text = HELPER.read_text()
    assert "nodev,nosuid,noexec" in text
    res = subprocess.run(["sh", str(HELPER), "../sda1"], capture_output=True, text=True)
    assert res.returncode == 2 and "bad device name" in res.stderr
    if shutil.which("shellcheck") or Path("/usr/bin/shellcheck").exists():
        sc = shutil.which("shellcheck") or "/usr/bin/shellcheck"
        res = subprocess.run([sc, str(HELPER)], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout
