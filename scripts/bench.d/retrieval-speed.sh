#!/usr/bin/env bash
# scripts/bench.sh retrieval-speed [DIR]: indexing throughput (upload path, MB/s) and search
# latency over a BEIR-layout folder (default ../shared/data/scifact beside the checkout):
# warm (segments cached in memory, compacted) and cold (the compacted segment read from the
# store and decoded for every query). Writes target/bench/retrieval-speed.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

dir=${1:-../shared/data/scifact}
shift || true
if [ ! -f "$dir/corpus.jsonl" ]; then
  echo "retrieval-speed: $dir has no corpus.jsonl (BEIR layout expected)" >&2
  exit 2
fi

step "cargo build --release -p ragenie-retrieval"
cargo build --release -p ragenie-retrieval
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

step "retrieval speed on $dir"
mkdir -p target/bench
"$target_dir/release/retrieval-bench" speed "$dir" --out target/bench/retrieval-speed.json "$@"
