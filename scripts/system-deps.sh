#!/usr/bin/env bash
# System tools the test suite uses (shellcheck for the deploy scripts, strace and nscd for the
# privacy test: it starts nscd as root to show that no name look-up goes through it; espeak-ng
# for the voice, PostgreSQL for the desk, chromium for the desk's browser tests).
# Installed with apt when running as root on Debian/Ubuntu and missing; otherwise it says what
# is missing and goes on (those tests then skip with a reason).
set -euo pipefail
packages=(shellcheck strace nscd espeak-ng postgresql chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-deps: not root or no apt; missing: ${missing[*]} (their tests will skip)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || echo "system-deps: apt-get update failed; trying the cached lists"
for p in "${missing[@]}"; do  # one by one: a package this release lacks must not stop the rest
    apt-get install -y -qq --no-install-recommends "$p" >/dev/null \
        || echo "system-deps: could not install $p (its tests will skip)"
done
