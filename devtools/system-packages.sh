#!/usr/bin/env bash
# The system packages the suite drives for real (PostgreSQL, Chromium, Redis, SoftHSM2, wrk),
# installed with apt when one is missing and this machine lets us (root, apt present): called
# by `make test`, so a fresh machine needs nothing else. Otherwise it says what is missing and
# the tests that need it skip (or fail under REQUIRE_POSTGRES / REQUIRE_BROWSER / REQUIRE_HSM).
set -euo pipefail

packages=()
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || packages+=(postgresql)
[ -x /usr/bin/chromium ] || packages+=(chromium)
command -v redis-server >/dev/null || packages+=(redis-server)
command -v wrk >/dev/null || packages+=(wrk)
command -v softhsm2-util >/dev/null || packages+=(softhsm2)
[ ${#packages[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages the tests need: ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
else
  echo "Missing system packages (install them to run every test): ${packages[*]}" >&2
fi
