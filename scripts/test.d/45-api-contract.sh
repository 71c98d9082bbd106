#!/usr/bin/env bash
# The API contract, both ways:
# 1. frontend/src/api/types.ts is what openapi-typescript generates from the document the
#    server serves (regenerated into a temp file and compared; `npm run gen:api` updates it).
# 2. schemathesis (`--checks all`) drives every operation of /openapi.json on the local server
#    (debug build, fresh data directory, free port, offline: the built-in retrieval model
#    answers) signed in with a bearer token, and must find nothing: every status, content type,
#    header and body the server answers with is declared, data the schema calls valid is
#    accepted and data it calls invalid is refused.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

# Examples per operation and phase; the whole suite stays within ~3 minutes on 2 cores.
examples=${RAGENIE_SCHEMATHESIS_EXAMPLES:-4}

venv=$(ensure_venv schemathesis 'schemathesis==4.32.5')
cargo build -q -p ragenie-local --bin ragenie-server --bin ragenie-openapi
bin="${CARGO_TARGET_DIR:-target}/debug"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step "contract: frontend/src/api/types.ts matches the served document"
if [ ! -x frontend/node_modules/.bin/openapi-typescript ]; then
  (cd frontend && timeout 600 npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
fi
"$bin/ragenie-openapi" >"$work/openapi.json"
(cd frontend && node scripts/gen-api.mjs "$work/openapi.json" "$work/types.ts")
if ! diff -u frontend/src/api/types.ts "$work/types.ts" >"$work/types.diff"; then
  head -60 "$work/types.diff" >&2
  echo "frontend/src/api/types.ts is stale: run 'npm run gen:api' in frontend/ and commit it" >&2
  exit 1
fi
echo "types.ts is up to date"

step "contract: schemathesis against the local server"
port=$(free_port)
base="http://127.0.0.1:$port"
RAGENIE_PORT=$port RAGENIE_DATA_DIR="$work/data" RAGENIE_FRONTEND_DIR="$work/none" \
  OPENAI_API_KEY= ANTHROPIC_API_KEY= GEMINI_API_KEY= RAGENIE_OPENAI_COMPAT_BASE_URL= \
  RAGENIE_EMBEDDING_MODEL= RUST_LOG=warn \
  timeout 900 "$bin/ragenie-server" >"$work/server.log" 2>&1 &
pids+=($!)
wait_for_http "$base/health" 60 || { cat "$work/server.log" >&2; exit 1; }

# The account schemathesis works as. Its own calls cannot lock it out: logout and refresh take
# refresh tokens (schemathesis draws random ones), change-password needs the current password
# (which it never guesses) and the bearer credential is an access token, which none of them
# revoke.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token=$(curl -sf -X POST "$base/auth/register" -H 'content-type: application/json' \
  -d '{"email":"contract@example.com","password":"correct horse battery staple"}' | json '["access_token"]')

status=0
# tests/contract/schemathesis.toml lists the few operations whose 422 no schema can predict
# (a referenced profile must exist, a password must not be a common one…), with the reason.
# The response-time limit is generous: the 2 shared cores also run other builds.
timeout 600 "$venv/bin/st" --config-file tests/contract/schemathesis.toml run "$base/openapi.json" \
  --checks all \
  --max-response-time 60 \
  --max-examples "$examples" \
  --phases examples,coverage,fuzzing,stateful \
  --seed 1 \
  --workers 1 \
  --request-timeout 20 \
  --suppress-health-check all \
  -H "Authorization: Bearer $token" \
  --report junit --report-dir "$work/report" \
  --generation-database none \
  --no-color >"$work/st.log" 2>&1 || status=$?
if [ $status -ne 0 ]; then
  cat "$work/st.log"
  grep -n "panicked\|ERROR" "$work/server.log" | head -20 >&2 || true
  echo "schemathesis found mismatches between /openapi.json and the server (full log above)" >&2
  exit 1
fi
tail -25 "$work/st.log"
