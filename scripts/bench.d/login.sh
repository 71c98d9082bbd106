#!/usr/bin/env bash
# login: p50/p95 of N sign-ins (default 50) through the auth router on the embedded store, in a
# release build, with the production Argon2id parameters (OWASP minimum: 19 MiB, t=2, p=1).
# Writes target/bench/login.json. Aim: p50 under 250 ms.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-50}
mkdir -p target/bench
cargo run --release --quiet -p ragenie-auth --example login_bench -- "$n" "$PWD/target/bench/login.json"
