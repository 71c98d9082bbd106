#!/usr/bin/env bash
# schemathesis (`--checks all`) drives every operation of /openapi.json on the local server
# (debug build, fresh data directory, free port, offline: the built-in retrieval model answers)
# signed in with a bearer token: every status, content type, header and body the server answers
# with must be declared, data the schema calls valid accepted, data it calls invalid refused.
# Part of scripts/test.sh; must find nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

# Examples per operation and phase: bounds the run (~1,800 requests, the same ones each run with
# the fixed seed; measured 2026-12-03 on 2 busy cores: 40-90 s for schemathesis, ~17 s more for a
# fresh pip install). The timeout stops a run that stalls instead of eating the test budget.
examples=${RAGENIE_SCHEMATHESIS_EXAMPLES:-4}
# The test command always sends the same cases (seed 1); other seeds hunt for what it misses.
seed=${RAGENIE_SCHEMATHESIS_SEED:-1}

venv=$(ensure_venv schemathesis 'schemathesis==4.32.5')
build_debug_binaries
bin="${CARGO_TARGET_DIR:-target}/debug"

scratch_with_services

step "contract: schemathesis against the local server"
port=$(free_port)
base="http://127.0.0.1:$port"
RAGENIE_PORT=$port RAGENIE_DATA_DIR="$work/data" RAGENIE_FRONTEND_DIR="$work/none" \
  OPENAI_API_KEY= ANTHROPIC_API_KEY= GEMINI_API_KEY= RAGENIE_OPENAI_COMPAT_BASE_URL= \
  RAGENIE_EMBEDDING_MODEL= RUST_LOG=warn \
  timeout 900 "$bin/ragenie-server" >"$work/server.log" 2>&1 &
pids+=($!)
wait_for_http "$base/health" 60 || { cat "$work/server.log" >&2; exit 1; }

# The account schemathesis works as, with a password made for this run: no schema example,
# default or generated string can be it. So nothing in the run can lock the account out or remove
# it: logout and refresh take refresh tokens (schemathesis draws random ones), change-password and
# account deletion need the current password, a reset needs the mailed token, and the bearer
# credential is an access token, which none of them revoke. The run ends by checking that the
# account is still there.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
token=$(curl -sf -X POST "$base/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"contract@example.com\",\"password\":\"$password\"}" | json '["access_token"]')

status=0
# tests/contract/schemathesis.toml lists the few operations whose 422 no schema can predict
# (a referenced profile must exist, a password must not be a common one…), with the reason.
# The response-time limit is generous: the 2 shared cores also run other builds.
timeout 300 "$venv/bin/st" --config-file tests/contract/schemathesis.toml run "$base/openapi.json" \
  --checks all \
  --max-response-time 60 \
  --max-examples "$examples" \
  --phases examples,coverage,fuzzing,stateful \
  --seed "$seed" \
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
if ! curl -sf -o /dev/null "$base/auth/me" -H "Authorization: Bearer $token"; then
  echo "the signed-in account did not survive the run: schemathesis tested nothing signed in" >&2
  exit 1
fi
