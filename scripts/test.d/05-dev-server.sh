#!/usr/bin/env bash
# Proves README's "start locally" command: scripts/dev.sh starts on a free port with a fresh data
# directory and answers GET /health naming every function.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

# scripts/test.sh has built the workspace in debug already; the optimised `local` build that
# scripts/dev.sh uses by default would add a cold release build to the test command.
export RAGENIE_BUILD_PROFILE="${RAGENIE_BUILD_PROFILE:-dev}"

port=$(free_port)
data=$(mktemp -d)
log=$(mktemp -t ragenie-dev.XXXXXX.log)
RAGENIE_PORT=$port RAGENIE_DATA_DIR=$data timeout 900 scripts/dev.sh >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; pkill -P $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
if ! wait_for_http "http://127.0.0.1:$port/health" 600; then
  tail -50 "$log" >&2
  exit 1
fi
health=$(curl -sf "http://127.0.0.1:$port/health")
echo "$health"
python3 - "$health" <<'PY'
import json, sys
health = json.loads(sys.argv[1])
expected = {"auth", "users", "documents", "conversations", "chat"}
assert health["status"] == "ok", health
assert expected <= set(health["functions"]), health
assert all(v == "ok" for v in health["functions"].values()), health
print("dev server healthy: " + ", ".join(sorted(health["functions"])))
PY
