#!/usr/bin/env bash
# scripts/bench.sh NAME [ARGS…] runs one benchmark (scripts/bench.d/NAME.sh), prints a table and
# writes its figures to target/bench/NAME.json. Names: retrieval-quality, retrieval-speed,
# gateway, chat-ttfb, cold-start, frontend-size, login, coverage, api-search, soak, ingest,
# metrics-overhead, faults.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-}
if [ -z "$name" ] || [ ! -f "scripts/bench.d/$name.sh" ]; then
  echo "usage: scripts/bench.sh NAME [ARGS…]; NAME is one of:" >&2
  ls scripts/bench.d 2>/dev/null | sed 's/\.sh$//; s/^/  /' >&2
  exit 2
fi
shift
mkdir -p target/bench
exec bash "scripts/bench.d/$name.sh" "$@"
