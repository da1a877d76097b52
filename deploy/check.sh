#!/usr/bin/env bash
# Every deploy check, runnable on its own (no Docker, no cluster, no network beyond package registries):
#   yamllint over deploy/; kubectl kustomize of each overlay validated with kubernetes-validate (bundled
#   schemas, offline, strict); then the policy tests, the Dockerfile replay and the role bootstrap
#   (deploy/tests). `make check-deploy` runs the last part, which repeats the first two as tests.
set -euo pipefail
cd "$(dirname "$0")/.."
run="uv run --frozen"

echo "== yamllint deploy/"
$run yamllint --strict -c deploy/.yamllint.yaml deploy

for overlay in deploy/k8s/overlays/*/; do
  echo "== kubectl kustomize ${overlay} | kubernetes-validate"
  for version in 1.30.0 1.37.0; do
    # --quiet prints only errors and warnings (a kind without a schema): any output fails the check
    if ! out="$($run kubectl kustomize "$overlay" | $run kubernetes-validate --strict --quiet -k "$version" - 2>&1)" \
        || [ -n "$out" ]; then
      echo "$out" | grep -E '^(ERROR|WARN|FATAL)' || echo "$out"; exit 1
    fi
  done
done

echo "== pytest deploy/tests"
$run pytest -q deploy/tests "$@"
