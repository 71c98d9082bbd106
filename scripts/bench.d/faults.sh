#!/usr/bin/env bash
# scripts/bench.sh faults [SEEDS] [CRASH_ROUNDS]: the full form of the storage-fault and crash
# suites that the test command runs in short form. The upload path under faults injected at a
# rate (a quarter of the table and blob calls throttled, or a third timed out after landing) with
# SEEDS seeds each way instead of three (default 50: 50 throttled runs, 25 timed out), next to
# every fixed scenario (upload, commit, ingest, chat at each write, deletions, account deletion);
# and the SIGKILL test repeated CRASH_ROUNDS times (default 10), each round killing the server
# later in a burst of uploads with three answers streaming. Each scenario must end completed or
# cleanly failed and retried, with fsck clean, nothing pending, no message lost, usage counted
# once. A seed that by chance injects nothing over an upload is counted, not failed (at most one
# in five may). Writes target/bench/faults.json (fault_seeds, fault_scenarios_at_a_rate,
# fault_scenarios_at_a_rate_injected, crash_rounds, passed, seconds) and its log beside it.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

seeds=${1:-50}
rounds=${2:-10}
out=target/bench/faults.json
mkdir -p target/bench

step "cargo test -p ragenie-local --test storage_faults --test crash (seeds $seeds, crash rounds $rounds)"
started=$(date +%s)
log=target/bench/faults.log
set +e
RAGENIE_FAULT_SEEDS=$seeds RAGENIE_CRASH_ROUNDS=$rounds \
  cargo test -p ragenie-local --test storage_faults --test crash -- --test-threads 1 --nocapture \
  2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
seconds=$(($(date +%s) - started))

python3 - "$out" "$seeds" "$rounds" "$status" "$seconds" "$log" <<'PY'
import json, re, sys
out, seeds, rounds, status, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
line = re.search(r"faults at a rate: (\d+) of (\d+) scenarios", open(sys.argv[6], errors="replace").read())
report = {
    "fault_seeds": seeds,
    "fault_scenarios_at_a_rate": int(line.group(2)) if line else None,
    "fault_scenarios_at_a_rate_injected": int(line.group(1)) if line else None,
    "crash_rounds": rounds,
    "passed": status == 0,
    "seconds": seconds,
}
json.dump(report, open(out, "w"), indent=2, sort_keys=True)
print(json.dumps(report, indent=2, sort_keys=True))
PY
exit "$status"
