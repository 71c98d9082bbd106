#!/usr/bin/env bash
# Runs the integration tests against an AWS emulator. By default it installs moto's server from
# PyPI (no Docker needed), starts it on a free 127.0.0.1 port, waits until it answers, runs the
# tests and stops it by PID. Set AWS_ENDPOINT_URL to use an emulator you started yourself
# (LocalStack…); set RAGENIE_TEST_REAL_AWS=1 with credentials to run against a real account.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

trap stop_moto EXIT
start_moto

cargo test -p localstack-tests "$@"
