#!/usr/bin/env bash
# RaGenie's OpenAI-compatible API with the official `openai` Python SDK: the local server on a
# free port with the fake providers, a real account, a personal API key, a profile with a
# document; then the SDK lists models and chats (streamed and not) with the profile's grounding.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

venv=$(ensure_venv provider-sdks openai anthropic google-genai)
build_debug_binaries
bin="${CARGO_TARGET_DIR:-target}/debug"

scratch_with_services

"$bin/fake-providers" --port 0 >"$work/urls" 2>"$work/fakes.log" &
pids+=($!)
for _ in $(seq 150); do [ -s "$work/urls" ] && break; sleep 0.2; done
urls=$(head -n1 "$work/urls")
[ -n "$urls" ] || { cat "$work/fakes.log" >&2; exit 1; }
url_of() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$urls" "$1"; }

port=$(free_port)
RAGENIE_PORT=$port RAGENIE_DATA_DIR="$work/data" RAGENIE_FRONTEND_DIR="$work/none" \
  RAGENIE_OPENAI_BASE_URL=$(url_of openai) OPENAI_API_KEY=fake-key \
  timeout 600 "$bin/ragenie-server" >"$work/server.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port"
wait_for_http "$base/health" 60 || { cat "$work/server.log" >&2; exit 1; }

# A real account through the API: register, an API key, a document, a profile using it.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token=$(curl -sf -X POST "$base/auth/register" -H 'content-type: application/json' \
  -d '{"email":"sdk@example.com","password":"correct horse battery staple"}' | json '["access_token"]')
key=$(curl -sf -X POST "$base/auth/api-keys" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name":"sdk test"}' | json '["key"]')
doc=$(curl -sf -X POST "$base/documents?kind=dataset&name=espresso.md" -H "authorization: Bearer $key" \
  -H 'content-type: text/markdown' --data-binary $'# Espresso\n\n## Tamping\n\nTamp with thirty pounds of pressure.\n' | json '["id"]')
# The server indexes the upload in the background: wait until it is ready.
for _ in $(seq 1 300); do
  status=$(curl -sf "$base/documents/$doc" -H "authorization: Bearer $key" | json '["status"]')
  [ "$status" = ready ] && break
  sleep 0.1
done
[ "$status" = ready ] || { echo "the document is still $status" >&2; exit 1; }
profile=$(curl -sf -X POST "$base/profiles" -H "authorization: Bearer $key" -H 'content-type: application/json' \
  -d "{\"name\":\"Coffee\",\"dataset_ids\":[\"$doc\"]}" | json '["id"]')

RAGENIE_URL=$base RAGENIE_API_KEY=$key RAGENIE_PROFILE=$profile \
  timeout 300 "$venv/bin/python" functions/chat/sdk-tests/test_openai_api.py -v
