#!/usr/bin/env bash
# Dev only: create (or keep) every Secret Pledge needs in the namespace pledge-dev, with random values.
# Values never touch the repository. Re-running keeps existing Secrets (delete one to regenerate it).
#   deploy/k8s/overlays/dev/make-secrets.sh [namespace]
# The console's admin API key is issued by the gateway, so it comes second, once the gateway runs
# (the console pod waits for it), with an admin key (the gateway's bootstrap prints the first one):
#   PLEDGE_ADMIN_KEY=... deploy/k8s/overlays/dev/make-secrets.sh --console-key [namespace]
set -euo pipefail
console_key=false
if [ "${1:-}" = "--console-key" ]; then console_key=true; shift; fi
ns="${1:-pledge-dev}"
kubectl="${KUBECTL:-kubectl}"
host="postgres.${ns}.svc:5432"
rand() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

$kubectl get namespace "$ns" >/dev/null 2>&1 || $kubectl create namespace "$ns"
exists() { $kubectl -n "$ns" get secret "$1" >/dev/null 2>&1; }
create() {  # name, then key=value pairs
  local name="$1"; shift
  if exists "$name"; then
    echo "secret/$name exists (kept)"; return
  fi
  local args=()
  for kv in "$@"; do args+=("--from-literal=$kv"); done
  $kubectl -n "$ns" create secret generic "$name" "${args[@]}"
}

new_console_key() {  # POST /v1/api-keys inside the gateway's pod; the admin key goes in on stdin, not argv
  : "${PLEDGE_ADMIN_KEY:?set PLEDGE_ADMIN_KEY to an admin API key (kubectl exec deploy/gateway -- python -m pledge_gateway.bootstrap)}"
  $kubectl -n "$ns" rollout status deploy/gateway --timeout=300s >&2
  printf '%s' "$PLEDGE_ADMIN_KEY" | $kubectl -n "$ns" exec -i deploy/gateway -- python -c '
import json, sys, urllib.request
request = urllib.request.Request(
    "http://127.0.0.1:8000/v1/api-keys",
    data=json.dumps({"name": "console", "scopes": ["admin"]}).encode(),
    headers={"Authorization": "Bearer " + sys.stdin.read().strip(), "Content-Type": "application/json"},
    method="POST",
)
with urllib.request.urlopen(request, timeout=30) as answer:
    print(json.load(answer)["key"])
'
}

if $console_key; then
  if exists pledge-console-api-key; then
    echo "secret/pledge-console-api-key exists (kept)"; exit 0
  fi
  key="$(new_console_key)"
  create pledge-console-api-key "key=$key"
  exit 0
fi

create pledge-service-token "token=$(rand)"
create pledge-metrics-token "token=$(rand)"
admin="$(rand)"
create pledge-db-admin "password=$admin" "url=postgresql://postgres:${admin}@${host}/pledge"
for s in commitment tracking evaluation feedback gateway console; do
  pw="$(rand)"
  create "pledge-db-$s" "username=pledge_${s}" "password=$pw" "url=postgresql://pledge_${s}:${pw}@${host}/pledge"
done
