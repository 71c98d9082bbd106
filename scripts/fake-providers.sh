#!/usr/bin/env bash
# Builds and runs the fake model providers in the foreground on 127.0.0.1. The first stdout
# line is a JSON object of base URLs ({"openai": ".../openai/v1", "anthropic": ...,
# "gemini": ..., "openai_compatible": ...}). Arguments are passed on: --port N (default 0 = any
# free port), --chunk-size CHARS, --delay-ms MS, --reply TEXT. Point RaGenie at it with
#   RAGENIE_OPENAI_BASE_URL, RAGENIE_ANTHROPIC_BASE_URL, RAGENIE_GEMINI_BASE_URL
# and any non-empty OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
build_debug_binaries >&2
exec "${CARGO_TARGET_DIR:-target}/debug/fake-providers" "$@"
