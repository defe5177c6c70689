#!/usr/bin/env bash
# Run deploy/provision.sh in an emulated Debian arm64 root (qemu-user), twice, as a check.
#
#   sudo deploy/test-in-chroot.sh ROOT CPU [FACE_IMAGE]
#
# ROOT  a Debian Bookworm arm64 root; made here with debootstrap when it does not exist.
# CPU   the emulated core, e.g. cortex-a72 (a Pi 4: no LSE atomics) or cortex-a76 (a Pi 5).
# FACE_IMAGE  when given, the installed station must then find a face in it.
#
# Needs on the host: debootstrap, qemu-user-static, binfmt-support (the qemu-aarch64 binfmt
# handler registered; qemu reads QEMU_CPU from the environment). Keep ROOT outside the
# repository. The station source copied in is `git archive HEAD` of this checkout.
# Steps that need a Pi (camera, firmware, watchdog device, overlay) are reported as skipped by
# provision.sh, and packages only in the Raspberry Pi archive (python3-picamera2) too.
set -euo pipefail

ROOT=${1:?usage: test-in-chroot.sh ROOT CPU [FACE_IMAGE]}
CPU=${2:?usage: test-in-chroot.sh ROOT CPU [FACE_IMAGE]}
FACE=${3:-}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

log() { printf '== %s %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ ! -x "$ROOT/bin/bash" ]; then
    log "debootstrap bookworm arm64 into $ROOT"
    debootstrap --arch=arm64 --foreign --variant=minbase --include=ca-certificates bookworm "$ROOT" "$MIRROR"
    chroot "$ROOT" /debootstrap/debootstrap --second-stage
fi

cleanup() {
    for m in dev/pts dev sys proc; do
        if mountpoint -q "$ROOT/$m"; then umount -l "$ROOT/$m" || true; fi
    done
}
trap cleanup EXIT
for m in proc sys dev; do mkdir -p "$ROOT/$m"; done
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
mountpoint -q "$ROOT/sys" || mount --bind /sys "$ROOT/sys"
mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
mountpoint -q "$ROOT/dev/pts" || mount --bind /dev/pts "$ROOT/dev/pts"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"

# A network whose TLS is inspected needs the host's CA bundle inside the root as well
# (HOST_CA_BUNDLE=none to leave it out); pip and Python's ssl read these variables.
HOST_CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
CA_ENV=()
if [ "$HOST_CA_BUNDLE" != none ] && [ -f "$HOST_CA_BUNDLE" ]; then
    cp "$HOST_CA_BUNDLE" "$ROOT/etc/host-ca-bundle.crt"
    CA_ENV=(PIP_CERT=/etc/host-ca-bundle.crt SSL_CERT_FILE=/etc/host-ca-bundle.crt)
fi
in_root() {
    chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        QEMU_CPU="$CPU" PIP_DISABLE_PIP_VERSION_CHECK=1 "${CA_ENV[@]}" "$@"
}

# What Raspberry Pi OS Lite already has and a minimal Debian root does not.
if ! in_root dpkg-query -W systemd >/dev/null 2>&1; then
    log "image preparation: systemd (part of every Raspberry Pi OS image)"
    in_root apt-get update -qq
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd systemd-sysv >/dev/null
fi

log "copy the station source (git archive HEAD) to /opt/station-src"
rm -rf "$ROOT/opt/station-src"
mkdir -p "$ROOT/opt/station-src"
git -C "$REPO" archive HEAD | tar -x -C "$ROOT/opt/station-src"

log "CPU as seen inside: QEMU_CPU=$CPU"
# shellcheck disable=SC2016 # the awk program runs inside the root
in_root sh -c 'od -An -v -t u8 -w16 /proc/self/auxv | awk "\$1 == 16 {printf \"AT_HWCAP=0x%x atomics=%d\n\", \$2, int(\$2 / 256) % 2}"'

for run in 1 2; do
    log "provision.sh run $run"
    start=$(date +%s)
    in_root /opt/station-src/deploy/provision.sh | tee "$ROOT/root/provision-run$run.log"
    log "run $run took $(($(date +%s) - start)) s"
done
if grep -E '\] +changed:' "$ROOT/root/provision-run2.log"; then
    log "FAIL: the second run changed something"
    exit 1
fi
log "second run changed nothing"

log "provision.sh --dry-run after provisioning"
in_root /opt/station-src/deploy/provision.sh --dry-run | grep -E 'would change|dry run' || true

log "the installed units verify"
# station-usb@.service is a template: verify it through an instance (as udev would start it).
in_root systemd-analyze verify /etc/systemd/system/station.service \
    /etc/systemd/system/station-halted.service station-usb@sda1.service \
    && log "systemd-analyze verify: clean"
for f in /usr/lib/station/station-usb-mount /etc/udev/rules.d/99-station-usb.rules \
         /etc/tmpfiles.d/station.conf; do
    in_root test -s "$f" || { log "FAIL: $f is missing"; exit 1; }
done
log "stick helper, udev rule and tmpfiles.d file installed"
if in_root systemd-tmpfiles --create /etc/tmpfiles.d/station.conf; then
    in_root stat -c '/run/station-usb: %a %U:%G' /run/station-usb
else
    log "FAIL: systemd-tmpfiles refused /etc/tmpfiles.d/station.conf"
    exit 1
fi

if [ -n "$FACE" ]; then
    log "the installed station looks for a face in $(basename "$FACE")"
    cp "$FACE" "$ROOT/tmp/face-check.img"
    in_root /opt/station/venv/bin/python -c '
import cv2, mediapipe, numpy
from pathlib import Path
from station.tracker import Landmarker
img = cv2.imread("/tmp/face-check.img")
assert img is not None, "could not read the image"
rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
with Landmarker(Path("/var/lib/station/models/face_landmarker.task")) as lm:
    s = lm.detect(rgb, 0.0)
assert s.landmarks is not None, "no face found"
print("mediapipe", mediapipe.__version__, "numpy", numpy.__version__,
      "face found:", s.landmarks.shape[0], "landmarks, nose tip at", s.landmarks[1][:2].round(1))
'
fi
log "done"
