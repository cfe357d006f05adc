#!/usr/bin/env bash
# Check the alert rules and run their unit tests with promtool (`make test-rules`, which
# `make test` runs). promtool comes with Debian's `prometheus` package, installed when missing
# (apt-get, with sudo when not root), as deploy/postgres/postgres.sh installs PostgreSQL.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { echo "test-rules.sh: $*" >&2; }

install_prometheus() {
  say "promtool not found; installing Debian's prometheus package"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { say "not root and no sudo: install the prometheus package yourself"; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  # Only promtool is needed: no recommends, and the packaged server is not started (no init).
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  command -v promtool >/dev/null || { say "the prometheus package installed no promtool"; exit 1; }
}

command -v promtool >/dev/null || install_prometheus
cd "$here"
promtool check rules rules.yaml
promtool check config --syntax-only prometheus.yml
promtool test rules rules.test.yaml
