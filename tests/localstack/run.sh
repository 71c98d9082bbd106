#!/usr/bin/env bash
# Runs the integration tests against an AWS emulator. By default it installs moto's server from
# PyPI (no Docker needed), starts it on a free 127.0.0.1 port, waits until it answers, runs the
# tests and stops it by PID. Set AWS_ENDPOINT_URL to use an emulator you started yourself
# (LocalStack…); set RAGENIE_TEST_REAL_AWS=1 with credentials to run against a real account.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

if [ -z "${AWS_ENDPOINT_URL:-}" ] && [ -z "${RAGENIE_TEST_REAL_AWS:-}" ]; then
  venv=$(ensure_venv moto 'moto[server]==5.2.5')
  port=$(free_port)
  log=$(mktemp -t moto.XXXXXX.log)
  timeout 3600 "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  moto_pid=$!
  trap 'kill $moto_pid 2>/dev/null || true; wait $moto_pid 2>/dev/null || true' EXIT
  if ! wait_for_http "http://127.0.0.1:$port/moto-api/" 60; then
    cat "$log" >&2
    exit 1
  fi
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  echo "moto server (pid $moto_pid) at $AWS_ENDPOINT_URL"
fi
export AWS_REGION="${AWS_REGION:-us-east-1}"

cargo test -p localstack-tests "$@"
