#!/usr/bin/env bash
# scripts/bench.sh retrieval-speed [DIR]: indexing throughput (upload path, MB/s) and search
# latency over a BEIR-layout folder (default ../shared/data/scifact beside the checkout):
# warm (segments cached in memory, compacted) and cold (the compacted segment read from the
# store and decoded for every query). With the built-in embedding model's weights installed
# (ensure_minilm; RAGENIE_BENCH_NO_EMBEDDER=1 skips it) also its throughput (chunks per second
# through the embedder port, ingest's batches) and the query-embedding latency a search adds
# (p50/p95), merged into target/bench/retrieval-speed.json.
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

minilm="$RAGENIE_TOOLS_DIR/models/all-MiniLM-L6-v2"
if [ -z "${RAGENIE_BENCH_NO_EMBEDDER:-}" ] && [ -f "$minilm/model.safetensors" ]; then
  step "built-in embedder speed (local:all-MiniLM-L6-v2)"
  cargo build --release -p ragenie-embedder --bin embedder-bench
  "$target_dir/release/embedder-bench" speed "$dir" --model-dir "$minilm" --chunks 1000 \
    --out target/bench/embedder-speed.json
  python3 - <<'PY'
import json
speed = json.load(open("target/bench/retrieval-speed.json"))
speed.update(json.load(open("target/bench/embedder-speed.json")))
json.dump(speed, open("target/bench/retrieval-speed.json", "w"), indent=2)
PY
else
  echo "(no built-in embedding model in $minilm: embedding speed not measured)"
fi
