#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the page tests (a test tool's own browser download
# cannot work here: only Debian's packages are reachable). Installs them when missing.
#   chromium.sh ensure|check
set -euo pipefail

say() { echo "chromium.sh: $*" >&2; }
present() { [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; }

ensure() {
  present && return 0
  say "Chromium or ChromeDriver not found; installing them from Debian's packages"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { say "not root and no sudo: apt-get install chromium chromium-driver"; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  present || { say "the packages installed but /usr/bin/chromium or chromedriver is missing"; exit 1; }
}

case "${1:-ensure}" in
  ensure) ensure ;;
  check) present || { say "missing: run deploy/browser/chromium.sh ensure"; exit 1; } ;;
  *) say "usage: chromium.sh ensure|check"; exit 2 ;;
esac
