#!/usr/bin/env bash
# The secret files deploy/compose.yaml mounts (its `secrets:`), made once per machine in
# deploy/secrets/ (or $1), which is never committed. A file already there is kept: run it again
# after adding a service and only the new files are made. No built-in values: the PostgreSQL
# password, the staff tokens and the search key are random; the other token maps start empty
# (`{}`: only /healthz, /readyz and /metrics answer their callers until tokens are added).
# The services run as uid 10001 and compose bind-mounts each file as it is, so the files are
# readable by all (a laptop's own checkout; on Kubernetes the Secret volume's mode applies).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:-$here/secrets}"
mkdir -p "$dir"

token() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }

make_secret() {  # name, then the command that prints its content
  local file="$dir/$1"
  shift
  if [ -e "$file" ]; then
    echo "kept   $file"
    return
  fi
  "$@" >"$file"
  chmod 0644 "$file"
  echo "made   $file"
}

staff_tokens() { printf '{"staff": "%s"}\n' "$(token)"; }
no_tokens() { echo '{}'; }

make_secret postgres-password python3 -c 'import secrets; print(secrets.token_hex(24))'
make_secret hospital-feed-message-search-key python3 -c \
  'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())'
for service in hospital-feed scoring referral scheduling; do
  make_secret "$service-staff-tokens" staff_tokens
done
for service in hospital-feed scoring referral; do
  make_secret "$service-practice-tokens" no_tokens
done
make_secret hospital-feed-sender-tokens no_tokens
