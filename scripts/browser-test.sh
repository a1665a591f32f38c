#!/usr/bin/env bash
# The console's browser tests: Debian's Chromium (installed with apt-get when missing) driven
# by playwright-core from npm (pinned in tests/browser/package-lock.json; it downloads no
# browser). Needs the built binary: RELTO_BIN, else target/debug/relto. Screenshots of the
# main pages are written to target/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq chromium >/dev/null
fi
export RELTO_BIN="${RELTO_BIN:-$PWD/target/debug/relto}"
cd tests/browser
npm ci --no-audit --no-fund --loglevel=error
npm test
