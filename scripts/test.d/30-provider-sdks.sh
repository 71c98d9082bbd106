#!/usr/bin/env bash
# SDK fidelity: the official Python SDKs (openai, anthropic, google-genai, from PyPI) talk to
# the fake providers, streamed and not, and must parse text, usage, finish reasons and errors
# exactly as the fakes meant them. Non-zero exit on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

step "provider SDKs venv"
venv=$(ensure_venv provider-sdks openai anthropic google-genai)
"$venv/bin/python" -c 'import openai, anthropic, google.genai; print("openai", openai.__version__, "| anthropic", anthropic.__version__, "| google-genai", google.genai.__version__)'

step "building fake-providers"
build_debug_binaries
bin="${CARGO_TARGET_DIR:-target}/debug/fake-providers"

work=$(mktemp -d)
"$bin" --port 0 >"$work/urls" 2>"$work/stderr" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The first stdout line (the URLs) means the server is listening; wait at most 30 s.
for _ in $(seq 150); do
  [ -s "$work/urls" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/stderr" >&2; echo "fake-providers exited" >&2; exit 1; }
  sleep 0.2
done
urls=$(head -n1 "$work/urls")
[ -n "$urls" ] || { echo "fake-providers printed no URLs in 30 s" >&2; exit 1; }
echo "fake providers: $urls"

step "SDK fidelity tests"
FAKE_URLS="$urls" timeout 300 "$venv/bin/python" crates/fake-providers/sdk-tests/test_sdks.py -v
