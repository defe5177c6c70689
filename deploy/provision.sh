#!/usr/bin/env bash
# Turn Raspberry Pi OS Lite (64-bit, Bookworm or Trixie) on a Pi 4 or Pi 5 into a Mirror-station.
#
#   sudo deploy/provision.sh [--dry-run] [--clinic-key FILE] [--model-file FILE]
#                            [--read-only-root --data-device DEV] [--mediapipe-line auto|mp12|mp010]
#
# Run it from the station's repository checkout: the station is pip-installed from that folder.
# Nothing but the package registries (apt, PyPI) is used over the network; the face model comes
# from its published URL or the PyPI mirror of the same bytes (see station/model.py).
#
# Every step says "unchanged", "changed: ..." (or "would change: ..." with --dry-run) or
# "skipped: ..." (a step that needs real Pi hardware, or a package this OS does not have).
# Running it again changes nothing. --dry-run changes nothing at all.
#
# The mediapipe line is chosen by the CPU (see DESIGN notes):
#   - LSE atomics ("atomics" in /proc/cpuinfo Features: Pi 5, Cortex-A76): mediapipe 1.2.x,
#     numpy 2, simplejpeg from PyPI (apt's is built for numpy 1).
#   - no LSE (Pi 4 Cortex-A72, Zero 2 W Cortex-A53): numpy<2, deploy/requirements-mp010.txt and
#     mediapipe 0.10.18 --no-deps. Its wheels stop at Python 3.12, so a Pi 4 on Trixie
#     (Python 3.13) is refused with what to do instead.
# Under an emulator /proc/cpuinfo may describe the host, so without a "Features" line the
# hardware capability bits the kernel (or qemu) hands to programs (AT_HWCAP) decide instead.
#
# Clinic secret: a plain random 32-byte hex secret in /etc/station/clinic.key (root:station,
# mode 0640: the kiosk runs as "station" and must read it), unless --clinic-key FILE gives the
# clinic's own. The clinic tooling (station/clinic.py) defines what it does with it.
#
# Read-only root (--read-only-root, Pi only): Raspberry Pi OS's overlay file system keeps the SD
# card's root untouched and puts every write in RAM. Records must survive, so the data directory
# /var/lib/station must live on a separate, writable partition that is mounted before the overlay
# is switched on: give it with --data-device (e.g. /dev/mmcblk0p3, made beforehand with a
# partitioning tool); the script adds it to /etc/fstab by UUID and mounts it there. The overlay
# only covers "/", so that mount stays writable. Without a data partition it refuses.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$SCRIPT_DIR/.." && pwd)
PREFIX=/opt/station
VENV=$PREFIX/venv
DATA=/var/lib/station
ETC=/etc/station
UNIT_DIR=/etc/systemd/system
MP010_VERSION=0.10.18
MP12_SPEC="mediapipe>=1.2,<1.3"

DRY_RUN=0
CLINIC_KEY=""
MODEL_FILE=""
READ_ONLY_ROOT=0
DATA_DEVICE=""
LINE=auto
CHANGES=0

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --clinic-key) CLINIC_KEY=${2:?--clinic-key needs a file}; shift ;;
        --model-file) MODEL_FILE=${2:?--model-file needs a file}; shift ;;
        --read-only-root) READ_ONLY_ROOT=1 ;;
        --data-device) DATA_DEVICE=${2:?--data-device needs a device}; shift ;;
        --mediapipe-line) LINE=${2:?--mediapipe-line needs auto, mp12 or mp010}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "provision: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

case "$LINE" in auto|mp12|mp010) ;; *) echo "provision: --mediapipe-line must be auto, mp12 or mp010" >&2; exit 2 ;; esac

# ---------------------------------------------------------------------------- reporting
say() { printf '%-14s %s\n' "[$STEP]" "$*"; }
unchanged() { say "unchanged${1:+: $1}"; }
skipped() { say "skipped: $*"; }
# change DESCRIPTION COMMAND...: run (or only print, with --dry-run) one change.
change() {
    local what=$1; shift
    CHANGES=$((CHANGES + 1))
    if [ "$DRY_RUN" = 1 ]; then
        say "would change: $what"
        return 0
    fi
    say "changed: $what"
    "$@"
}
die() { echo "provision: $*" >&2; exit 1; }

# write_file PATH MODE OWNER:GROUP CONTENT: create or replace a file when its content or mode differs.
write_file() {
    local path=$1 mode=$2 owner=$3 content=$4
    if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ] \
        && [ "$(stat -c '%a %U:%G' "$path")" = "${mode#0} $owner" ]; then
        unchanged "$path"
        return 0
    fi
    change "write $path (mode $mode, $owner)" _install_content "$path" "$mode" "$owner" "$content"
}
_install_content() {
    local path=$1 mode=$2 owner=$3 content=$4 tmp
    mkdir -p "$(dirname "$path")"
    tmp=$(mktemp "$path.XXXXXX")
    printf '%s\n' "$content" >"$tmp"
    chmod "$mode" "$tmp"
    chown "$owner" "$tmp"
    mv -f "$tmp" "$path"
}

ensure_dir() {
    local path=$1 mode=$2 owner=$3
    if [ -d "$path" ] && [ "$(stat -c '%a %U:%G' "$path")" = "${mode#0} $owner" ]; then
        unchanged "$path"
        return 0
    fi
    change "directory $path (mode $mode, $owner)" install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$path"
}

# ---------------------------------------------------------------------------- facts
[ "$(id -u)" = 0 ] || [ "$DRY_RUN" = 1 ] || die "run as root (sudo $0)"

pi_model() {
    local f
    for f in /proc/device-tree/model /sys/firmware/devicetree/base/model; do
        if [ -r "$f" ]; then tr -d '\0' <"$f"; return 0; fi
    done
    return 0
}
MODEL=$(pi_model)
IS_PI=0
case "$MODEL" in *"Raspberry Pi"*) IS_PI=1 ;; esac

# shellcheck disable=SC1091
. /etc/os-release
CODENAME=${VERSION_CODENAME:-unknown}

# has_lse: 0 when the CPU has ARMv8.1 LSE atomics. Prints where the answer came from.
has_lse() {
    if grep -q '^Features' /proc/cpuinfo 2>/dev/null; then
        LSE_SOURCE="/proc/cpuinfo Features"
        grep '^Features' /proc/cpuinfo | head -n1 | grep -qw atomics
        return
    fi
    # No ARM Features line (an emulator showing the host's cpuinfo): read AT_HWCAP (type 16)
    # from this process's auxiliary vector; HWCAP_ATOMICS is bit 8 on arm64.
    LSE_SOURCE="AT_HWCAP (no Features line in /proc/cpuinfo)"
    local hwcap
    hwcap=$(od -An -v -t u8 -w16 /proc/self/auxv | awk '$1 == 16 {print $2; exit}')
    [ -n "$hwcap" ] && [ $(((hwcap >> 8) & 1)) = 1 ]
}

STEP=system
ARCH=$(uname -m)
say "$(printf '%s' "${MODEL:-not a Raspberry Pi}"), $PRETTY_NAME, $ARCH"
[ "$ARCH" = aarch64 ] || die "this is $ARCH; the station needs 64-bit Raspberry Pi OS (aarch64)"
case "$CODENAME" in
    bookworm|trixie) ;;
    *) say "note: $CODENAME is not Bookworm or Trixie; going on, but this is untested" ;;
esac
if [ "$IS_PI" = 0 ]; then
    say "note: not a Raspberry Pi: camera, /boot firmware, watchdog device and overlay steps are skipped"
fi

# ---------------------------------------------------------------------------- apt
STEP=apt
# espeak-ng: the spoken guidance (each cue rendered once into the data dir's voice cache)
PKGS=(python3 python3-venv ca-certificates libegl1 libgles2 libdrm2 libgbm1
      libasound2 fonts-dejavu-core espeak-ng)
OPTIONAL_PKGS=(python3-lgpio python3-picamera2 rpicam-apps-lite)
NO_RECOMMENDS=(python3-picamera2 rpicam-apps-lite)
case "$CODENAME" in trixie) PKGS=("${PKGS[@]/libasound2/libasound2t64}") ;; esac

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed'; }
has_candidate() {
    local c
    c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [ -n "$c" ] && [ "$c" != "(none)" ]
}

# apt_install ARGS...: install quietly; on failure show apt's output.
apt_install() {
    local out
    out=$(mktemp)
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$out" 2>&1; then
        cat "$out" >&2; rm -f "$out"; return 1
    fi
    rm -f "$out"
}
missing=()
for p in "${PKGS[@]}"; do is_installed "$p" || missing+=("$p"); done
optional_missing=()
for p in "${OPTIONAL_PKGS[@]}"; do is_installed "$p" || optional_missing+=("$p"); done
# Refresh the package lists when something must be installed; for optional packages only when
# the lists are over a day old (they may simply not exist here, e.g. off the Raspberry Pi archive).
lists_fresh() { [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 -print -quit 2>/dev/null)" ]; }
if [ ${#missing[@]} -gt 0 ] || { [ ${#optional_missing[@]} -gt 0 ] && ! lists_fresh; }; then
    if [ "$DRY_RUN" = 0 ]; then
        say "updating package lists"
        apt-get update -qq
    else
        say "would update package lists"
    fi
fi
if [ ${#missing[@]} -eq 0 ]; then
    unchanged "${PKGS[*]}"
else
    change "apt-get install ${missing[*]}" apt_install --no-install-recommends "${missing[@]}"
fi
for p in "${OPTIONAL_PKGS[@]}"; do
    if is_installed "$p"; then
        unchanged "$p"
    elif has_candidate "$p"; then
        extra=()
        case " ${NO_RECOMMENDS[*]} " in *" $p "*) extra=(--no-install-recommends) ;; esac
        change "apt-get install ${extra[*]} $p" apt_install "${extra[@]}" "$p"
    else
        skipped "$p: not in this system's package archives (it comes from the Raspberry Pi archive)"
    fi
done

# ---------------------------------------------------------------------------- mediapipe line
STEP=cpu
PYVER=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)
LSE_SOURCE=""
if [ "$LINE" = auto ]; then
    if has_lse; then LINE=mp12; CPU_TEXT="has LSE atomics"; else LINE=mp010; CPU_TEXT="has no LSE atomics"; fi
    say "CPU $CPU_TEXT ($LSE_SOURCE): mediapipe line $LINE, Python $PYVER"
else
    say "mediapipe line $LINE chosen on the command line, Python $PYVER"
fi
if [ "$LINE" = mp010 ]; then
    case "$PYVER" in
        3.9|3.10|3.11|3.12) ;;
        *) cat >&2 <<EOF
provision: this board's CPU has no LSE atomics (a Raspberry Pi 4, 400 or Zero 2 W), and this
system's Python is $PYVER ($PRETTY_NAME).
The only MediaPipe that runs on this CPU is $MP010_VERSION, and it exists for Python 3.9 to 3.12.
What to do: write "Raspberry Pi OS Lite (Legacy, 64-bit)" (Bookworm, Python 3.11) to the SD card
with Raspberry Pi Imager and run this script again, or use a Raspberry Pi 5.
Nothing was changed by this step.
EOF
           exit 1 ;;
    esac
fi

# ---------------------------------------------------------------------------- user and folders
STEP=user
if id station >/dev/null 2>&1; then
    unchanged "user station"
else
    change "system user station" useradd --system --user-group --home-dir "$DATA" --no-create-home \
        --shell /usr/sbin/nologin --comment "Mirror-station kiosk" station
fi
for g in video render input gpio audio; do
    if ! getent group "$g" >/dev/null; then
        skipped "group $g does not exist on this system"
    elif id -nG station 2>/dev/null | tr ' ' '\n' | grep -qx "$g"; then
        unchanged "station in $g"
    else
        change "add station to group $g" usermod -aG "$g" station
    fi
done

STEP=folders
ensure_dir "$PREFIX" 0755 root:root
ensure_dir "$ETC" 0750 root:station
ensure_dir "$DATA" 0750 station:station

# ---------------------------------------------------------------------------- data partition, overlay
STEP=read-only
if [ "$READ_ONLY_ROOT" = 0 ]; then
    skipped "read-only root not asked for (--read-only-root --data-device DEV)"
elif [ "$IS_PI" = 0 ]; then
    skipped "read-only root needs Raspberry Pi OS on a Pi (raspi-config's overlay file system)"
elif [ -z "$DATA_DEVICE" ]; then
    die "--read-only-root needs --data-device DEV: a writable partition for $DATA (records must survive)"
else
    uuid=$(blkid -s UUID -o value "$DATA_DEVICE") || die "no file system on $DATA_DEVICE (make one: mkfs.ext4 $DATA_DEVICE)"
    line="UUID=$uuid $DATA ext4 defaults,noatime,commit=5 0 2"
    if grep -q "^UUID=$uuid " /etc/fstab; then
        unchanged "$DATA in /etc/fstab"
    else
        change "add $DATA_DEVICE as $DATA to /etc/fstab" sh -c "printf '%s\n' '$line' >>/etc/fstab"
    fi
    if mountpoint -q "$DATA"; then
        unchanged "$DATA mounted"
    else
        change "mount $DATA" sh -c "mount '$DATA' && chown station:station '$DATA' && chmod 0750 '$DATA'"
    fi
    if [ "$(raspi-config nonint get_overlay_now 2>/dev/null || echo 1)" = 0 ] \
        || grep -q 'overlayroot=tmpfs' /boot/firmware/cmdline.txt 2>/dev/null; then
        unchanged "overlay file system"
    else
        change "enable the overlay file system (active after reboot)" raspi-config nonint enable_overlayfs
    fi
fi

# ---------------------------------------------------------------------------- venv and station
STEP=venv
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
src_hash() {
    (cd "$SRC" && find station -type f \( -name '*.py' -o -name '*.toml' \) -print0 | sort -z \
        | xargs -0 sha256sum; sha256sum pyproject.toml deploy/requirements-mp010.txt) | sha256sum | cut -c1-16
}
STAMP="line=$LINE python=$PYVER src=$(src_hash)"
if [ "$LINE" = mp12 ]; then
    # The OpenCV that mediapipe 1.x depends on (opencv-contrib-python) links libGL and GLib.
    MP12_APT=(libgl1 libglib2.0-0)
    [ "$CODENAME" = trixie ] && MP12_APT=(libgl1 libglib2.0-0t64)
    mp12_missing=()
    for p in "${MP12_APT[@]}"; do is_installed "$p" || mp12_missing+=("$p"); done
    if [ ${#mp12_missing[@]} -eq 0 ]; then
        unchanged "${MP12_APT[*]} (for mediapipe 1.x's OpenCV)"
    else
        change "apt-get install ${mp12_missing[*]} (for mediapipe 1.x's OpenCV)" \
            apt_install --no-install-recommends "${mp12_missing[@]}"
    fi
fi
if [ -x "$VENV/bin/python" ]; then
    unchanged "$VENV"
else
    change "python3 -m venv --system-site-packages $VENV" python3 -m venv --system-site-packages "$VENV"
fi
if [ -f "$VENV/.station-stamp" ] && [ "$(cat "$VENV/.station-stamp")" = "$STAMP" ] \
    && "$VENV/bin/station" --version >/dev/null 2>&1; then
    unchanged "station and mediapipe ($STAMP)"
else
    install_station() {
        "${PIP[@]}" install --upgrade pip
        if [ "$LINE" = mp12 ]; then
            # numpy 2 line: PyPI's simplejpeg (apt's is built for numpy 1, picamera2 imports it).
            # mediapipe 1.x brings opencv-contrib-python itself (it needs libGL: see below), so
            # the [tracking] extra's headless OpenCV is left out: two cv2 packages clash.
            "${PIP[@]}" install "$MP12_SPEC" "numpy>=2" simplejpeg "$SRC"
        else
            "${PIP[@]}" install -r "$SRC/deploy/requirements-mp010.txt"
            # 0.10.18 declares jax/jaxlib, which the Tasks API never imports.
            "${PIP[@]}" install --no-deps "mediapipe==$MP010_VERSION"
            "${PIP[@]}" install --no-deps "$SRC"
        fi
        "$VENV/bin/python" -c "import mediapipe, numpy, pygame, gpiozero, station; print('mediapipe', mediapipe.__version__, 'numpy', numpy.__version__)"
        printf '%s\n' "$STAMP" >"$VENV/.station-stamp"
    }
    change "pip install the station from $SRC with the $LINE line" install_station
fi

# ---------------------------------------------------------------------------- model
STEP=model
station_cmd() { "$VENV/bin/station" --data-dir "$DATA" "$@"; }
if [ -x "$VENV/bin/station" ] && station_cmd model verify >/dev/null 2>&1; then
    unchanged "face model verified against the pin"
else
    fetch_model() {
        if [ -n "$MODEL_FILE" ]; then station_cmd model fetch --from-file "$MODEL_FILE"; else station_cmd model fetch; fi
        chown -R station:station "$DATA/models"
    }
    change "fetch the pinned face model into $DATA/models" fetch_model
fi

# ---------------------------------------------------------------------------- identity
STEP=identity
if [ -s "$ETC/unit-id" ]; then
    unchanged "$ETC/unit-id ($(cat "$ETC/unit-id"))"
else
    UNIT_ID="ms-$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')"
    write_file "$ETC/unit-id" 0644 root:root "$UNIT_ID"
fi
if [ -n "$CLINIC_KEY" ]; then
    [ -r "$CLINIC_KEY" ] || die "cannot read the clinic key $CLINIC_KEY"
    write_file "$ETC/clinic.key" 0640 root:station "$(cat "$CLINIC_KEY")"
elif [ -s "$ETC/clinic.key" ]; then
    unchanged "$ETC/clinic.key (kept)"
else
    # Same format as `station clinic new-key`; without --clinic-key this unit gets a clinic
    # key of its own: copy it to the clinic computer to make sticks for it.
    write_file "$ETC/clinic.key" 0640 root:station "station-clinic-key-v1 $(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
    say "note: a new clinic key is in $ETC/clinic.key; sticks for this unit need it (or use --clinic-key)"
fi

STEP=settings
if [ -e "$ETC/station.toml" ]; then
    unchanged "$ETC/station.toml (never overwritten)"
else
    write_file "$ETC/station.toml" 0644 root:root "# Mirror-station unit settings. Every key has a default; see station/config.py.
[data]
dir = \"$DATA\"

[button]
pin = 17"
fi

# ---------------------------------------------------------------------------- journald, watchdog
STEP=journald
write_file /etc/systemd/journald.conf.d/50-station.conf 0644 root:root "# Mirror-station: logs in RAM only (spares the SD card), capped.
[Journal]
Storage=volatile
RuntimeMaxUse=32M
RuntimeKeepFree=64M"

STEP=watchdog
if [ "$IS_PI" = 0 ] || [ ! -e /dev/watchdog ]; then
    skipped "no hardware watchdog here (/dev/watchdog on a Pi)"
else
    write_file /etc/systemd/system.conf.d/50-station-watchdog.conf 0644 root:root "# Mirror-station: a hung system is reset by the SoC watchdog.
[Manager]
RuntimeWatchdogSec=15s
RebootWatchdogSec=2min"
fi

STEP=firmware
BOOT_CONFIG=""
for f in /boot/firmware/config.txt /boot/config.txt; do [ -f "$f" ] && { BOOT_CONFIG=$f; break; }; done
if [ "$IS_PI" = 0 ] || [ -z "$BOOT_CONFIG" ]; then
    skipped "no Raspberry Pi firmware config (/boot/firmware/config.txt)"
elif grep -qx 'camera_auto_detect=1' "$BOOT_CONFIG"; then
    unchanged "camera_auto_detect=1 in $BOOT_CONFIG"
else
    change "camera_auto_detect=1 in $BOOT_CONFIG (after reboot)" sh -c "printf '\n[all]\ncamera_auto_detect=1\n' >>'$BOOT_CONFIG'"
fi

STEP=camera
if [ "$IS_PI" = 0 ]; then
    skipped "camera detection needs a Pi"
elif command -v rpicam-hello >/dev/null; then
    if rpicam-hello --list-cameras 2>/dev/null | grep -q '^[0-9] :'; then say "camera found (no change)"; else say "note: no camera found; check the ribbon cable"; fi
else
    skipped "rpicam-hello not installed"
fi

# ---------------------------------------------------------------------------- systemd units
STEP=units
have_systemd() { [ -d /run/systemd/system ]; }
RELOAD=0
# src dest mode: the kiosk units, the clinic stick units and their helpers
while read -r src dest mode; do
    if cmp -s "$SRC/$src" "$dest"; then
        unchanged "$dest"
    else
        change "install $dest" install -D -m "$mode" "$SRC/$src" "$dest"
        RELOAD=1
    fi
done <<EOF_FILES
systemd/station.service $UNIT_DIR/station.service 0644
systemd/station-halted.service $UNIT_DIR/station-halted.service 0644
systemd/station-usb@.service $UNIT_DIR/station-usb@.service 0644
deploy/station-usb-mount /usr/lib/station/station-usb-mount 0755
deploy/99-station-usb.rules /etc/udev/rules.d/99-station-usb.rules 0644
deploy/station-tmpfiles.conf /etc/tmpfiles.d/station.conf 0644
EOF_FILES
if [ "$RELOAD" = 1 ] && have_systemd; then
    change "systemctl daemon-reload" systemctl daemon-reload
fi
if command -v systemctl >/dev/null; then
    if [ "$(systemctl is-enabled station.service 2>/dev/null)" = enabled ]; then
        unchanged "station.service enabled"
    else
        change "enable station.service (starts at boot)" systemctl enable station.service
    fi
    state=$(systemctl is-enabled getty@tty1.service 2>/dev/null || true)
    if [ "$state" = enabled ]; then
        change "disable getty@tty1.service (tty1 is the kiosk's)" systemctl disable getty@tty1.service
    else
        unchanged "getty@tty1.service not enabled"
    fi
else
    skipped "systemctl not found"
fi

STEP=summary
if [ "$DRY_RUN" = 1 ]; then
    say "dry run: $CHANGES change(s) would be made; nothing was changed"
elif [ "$CHANGES" = 0 ]; then
    say "nothing to change: this unit is provisioned"
else
    say "$CHANGES change(s) made; reboot to start the kiosk"
fi
