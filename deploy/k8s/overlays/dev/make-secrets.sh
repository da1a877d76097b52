#!/usr/bin/env bash
# Dev only: create (or keep) every Secret Pledge needs in the namespace pledge-dev, with random values.
# Values never touch the repository. Re-running keeps existing Secrets (delete one to regenerate it).
#   deploy/k8s/overlays/dev/make-secrets.sh [namespace]
set -euo pipefail
ns="${1:-pledge-dev}"
kubectl="${KUBECTL:-kubectl}"
host="postgres.${ns}.svc:5432"
rand() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

$kubectl get namespace "$ns" >/dev/null 2>&1 || $kubectl create namespace "$ns"
create() {  # name, then key=value pairs
  local name="$1"; shift
  if $kubectl -n "$ns" get secret "$name" >/dev/null 2>&1; then
    echo "secret/$name exists (kept)"; return
  fi
  local args=()
  for kv in "$@"; do args+=("--from-literal=$kv"); done
  $kubectl -n "$ns" create secret generic "$name" "${args[@]}"
}

create pledge-service-token "token=$(rand)"
create pledge-metrics-token "token=$(rand)"
admin="$(rand)"
create pledge-db-admin "password=$admin" "url=postgresql://postgres:${admin}@${host}/pledge"
for s in commitment tracking evaluation feedback gateway; do
  pw="$(rand)"
  create "pledge-db-$s" "password=$pw" "url=postgresql://pledge_${s}:${pw}@${host}/pledge"
done
