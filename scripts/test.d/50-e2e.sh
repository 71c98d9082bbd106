#!/usr/bin/env bash
# End-to-end: the built web app in Debian's Chromium (driven by playwright-core) against the
# local server (scripts/dev.sh on a free port, a fresh data directory, the fake model providers
# behind it), at desktop and phone (390×844) size, with layout and axe-core checks on every
# screen; then the operator flow (frontend/e2e/admin.mjs) on a fresh server of its own.
# Screenshots of each main screen, and the axe results, go to target/e2e-screenshots/. Everything
# started here is stopped by PID on exit. Non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

# scripts/test.sh has built the workspace in debug already; the optimised `local` build that
# scripts/dev.sh uses by default would add a cold release build to the test command.
export RAGENIE_BUILD_PROFILE="${RAGENIE_BUILD_PROFILE:-dev}"
root=$PWD

# The parts of the flow (frontend/e2e/run.mjs): sign up, sign in, token refresh, every screen
# rendering and sign out always run; settings, profiles, documents, chat and usage are named here
# (all of them by default; a subset only to narrow a run by hand).
export RAGENIE_E2E_PARTS="${RAGENIE_E2E_PARTS:-auth,settings,profiles,documents,chat,usage}"

if [ ! -x /usr/bin/chromium ]; then
  step "e2e: installing Debian's Chromium"
  export DEBIAN_FRONTEND=noninteractive
  timeout 900 apt-get update -qq
  timeout 900 apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version

step "e2e: building the web app"
(
  cd frontend
  [ -d node_modules/playwright-core ] || timeout 600 npm ci --no-audit --no-fund --prefer-offline --loglevel=error
  timeout 300 npm run build --silent
)

work=$(mktemp -d -t ragenie-e2e.XXXXXX)
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    # Each service runs in its own process group (setsid): stop the group, then reap it.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ $status -ne 0 ]; then
    for log in "$work"/*.log; do [ -f "$log" ] && { echo "--- $(basename "$log") (last 40 lines)"; tail -40 "$log"; }; done >&2
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT INT TERM

step "e2e: fake model providers"
setsid scripts/fake-providers.sh --port 0 >"$work/fakes.out" 2>"$work/fakes.log" &
pids+=($!)
for _ in $(seq 1500); do # the first run compiles them: up to 300 s
  [ -s "$work/fakes.out" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "fake-providers exited" >&2; exit 1; }
  sleep 0.2
done
urls=$(head -n1 "$work/fakes.out")
[ -n "$urls" ] || { echo "fake-providers printed no URLs" >&2; exit 1; }
echo "fake providers: $urls"
url_of() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$urls" "$1"; }
export RAGENIE_OPENAI_BASE_URL=$(url_of openai)
export RAGENIE_ANTHROPIC_BASE_URL=$(url_of anthropic)
export RAGENIE_GEMINI_BASE_URL=$(url_of gemini)
export OPENAI_API_KEY=sk-fake-e2e ANTHROPIC_API_KEY=sk-ant-fake-e2e GEMINI_API_KEY=fake-e2e

# healthy PORT SECONDS WHAT : waits for the server on PORT to answer /health, or fails naming it.
healthy() {
  wait_for_http "http://127.0.0.1:$1/health" "$2" || { echo "$3 did not become healthy" >&2; exit 1; }
}
# browser_suite PORT SCRIPT [NAME=VALUE…] : frontend/e2e/SCRIPT against the server on PORT.
browser_suite() {
  local port=$1 script=$2
  shift 2
  (
    cd frontend
    env RAGENIE_E2E_URL="http://127.0.0.1:$port" RAGENIE_E2E_SCREENSHOTS="$root/target/e2e-screenshots" \
      "$@" timeout 300 node "e2e/$script"
  )
}

step "e2e: local server"
port=$(free_port)
export RAGENIE_PORT=$port RAGENIE_DATA_DIR="$work/data" RAGENIE_SKIP_FRONTEND=1
mkdir -p "$RAGENIE_DATA_DIR"
setsid scripts/dev.sh >"$work/server.log" 2>&1 &
pids+=($!)
healthy "$port" 900 "the local server"
echo "RaGenie on http://127.0.0.1:$port"

step "e2e: browser suite at desktop and phone size, side by side (parts: $RAGENIE_E2E_PARTS)"
rm -rf target/e2e-screenshots
mkdir -p target/e2e-screenshots
(
  cd frontend
  export RAGENIE_E2E_URL="http://127.0.0.1:$port" RAGENIE_E2E_SCREENSHOTS="$root/target/e2e-screenshots"
  # Two accounts, two browsers, one server: the phone run (390×844) beside the desktop run.
  RAGENIE_E2E_VIEWPORT=phone timeout 600 node e2e/run.mjs >"$work/e2e-phone.log" 2>&1 &
  phone=$!
  desktop_status=0
  RAGENIE_E2E_VIEWPORT=desktop timeout 600 node e2e/run.mjs || desktop_status=$?
  phone_status=0
  wait "$phone" || phone_status=$?
  echo "--- phone (390×844)"
  cat "$work/e2e-phone.log"
  [ "$desktop_status" -eq 0 ] && [ "$phone_status" -eq 0 ]
)

step "e2e: security (password reset through the local outbox; no request to a foreign origin)"
browser_suite "$port" security.mjs RAGENIE_E2E_OUTBOX="$RAGENIE_DATA_DIR/outbox"

# A fresh server for the operator flow (its first account must be the first of the server),
# started now so that it starts while the offline suite runs.
admin_port=$(free_port)
mkdir -p "$work/data-admin"
RAGENIE_PORT=$admin_port RAGENIE_DATA_DIR="$work/data-admin" setsid scripts/dev.sh >"$work/server-admin.log" 2>&1 &
pids+=($!)

step "e2e: offline mode (a second server, no provider configured)"
offline_port=$(free_port)
mkdir -p "$work/data-offline"
env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY \
  -u RAGENIE_OPENAI_BASE_URL -u RAGENIE_ANTHROPIC_BASE_URL -u RAGENIE_GEMINI_BASE_URL \
  RAGENIE_PORT=$offline_port RAGENIE_DATA_DIR="$work/data-offline" \
  setsid scripts/dev.sh >"$work/server-offline.log" 2>&1 &
pids+=($!)
healthy "$offline_port" 300 "the offline server"
browser_suite "$offline_port" offline.mjs

step "e2e: operator (a fresh server: first account admin, approval, suspension; Admin page axe at both sizes)"
healthy "$admin_port" 300 "the operator suite's server"
browser_suite "$admin_port" admin.mjs
ls target/e2e-screenshots
