#!/usr/bin/env bash
# scripts/bench.sh retrieval-quality [DIR]: BM25 quality on a BEIR-layout folder (corpus.jsonl,
# queries.jsonl, qrels/test.tsv), default ../shared/data/scifact beside the checkout. Every
# corpus record goes through the upload path (extract → chunk → segment → bytes → segment);
# prints nDCG@10, Recall@10/100 and writes target/bench/retrieval-quality.json.
# Extra arguments go to the bench binary (e.g. --split train, --k1 0.9 --b 0.4).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

dir=${1:-../shared/data/scifact}
shift || true
if [ ! -f "$dir/corpus.jsonl" ]; then
  echo "retrieval-quality: $dir has no corpus.jsonl (BEIR layout expected)" >&2
  exit 2
fi

step "cargo build --release -p ragenie-retrieval"
cargo build --release -p ragenie-retrieval
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

step "retrieval quality on $dir"
mkdir -p target/bench
"$target_dir/release/retrieval-bench" quality "$dir" --out target/bench/retrieval-quality.json "$@"
