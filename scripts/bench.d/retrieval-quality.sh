#!/usr/bin/env bash
# scripts/bench.sh retrieval-quality [DIR] [--embedder local:NAME] [ARGS…]: quality on a
# BEIR-layout folder (corpus.jsonl, queries.jsonl, qrels/test.tsv), default
# ../shared/data/scifact beside the checkout. Every corpus record goes through the upload path
# (extract → chunk → segment → bytes → segment); prints nDCG@10, Recall@10/100 and writes
# target/bench/retrieval-quality.json.
# Without --embedder: BM25 alone (extra arguments go to retrieval-bench, e.g. --split train).
# With --embedder local:all-MiniLM-L6-v2: BM25, dense and hybrid side by side
# (ndcg_at_10_bm25, ndcg_at_10_dense, ndcg_at_10_hybrid, recall_at_100_*), the fusion constants
# chosen on the train split and reported on test; the weights are installed first
# (ensure_minilm) and the chunk vectors cached in target/bench/ (embedding SciFact takes minutes).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

dir=../shared/data/scifact
embedder=""
rest=()
dir_given=""
while [ $# -gt 0 ]; do
  case "$1" in
    --embedder) embedder=${2:?--embedder needs local:NAME}; shift 2 ;;
    --*) rest+=("$1" "${2:-}"); shift 2 || shift ;;
    *) if [ -z "$dir_given" ]; then dir=$1; dir_given=1; else rest+=("$1"); fi; shift ;;
  esac
done
if [ ! -f "$dir/corpus.jsonl" ]; then
  echo "retrieval-quality: $dir has no corpus.jsonl (BEIR layout expected)" >&2
  exit 2
fi
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
mkdir -p target/bench

if [ -z "$embedder" ]; then
  step "cargo build --release -p ragenie-retrieval"
  cargo build --release -p ragenie-retrieval
  step "retrieval quality on $dir"
  "$target_dir/release/retrieval-bench" quality "$dir" --out target/bench/retrieval-quality.json "${rest[@]}"
  exit 0
fi

case "$embedder" in
  local:all-MiniLM-L6-v2) model_dir=$(ensure_minilm) ;;
  local:*) model_dir=${RAGENIE_EMBEDDING_MODEL_DIR:?set RAGENIE_EMBEDDING_MODEL_DIR for $embedder} ;;
  *) echo "retrieval-quality: --embedder takes a built-in model, local:NAME" >&2; exit 2 ;;
esac
name=${embedder#local:}
step "cargo build --release -p ragenie-embedder --bin embedder-bench"
cargo build --release -p ragenie-embedder --bin embedder-bench
step "retrieval quality on $dir: BM25, dense ($embedder) and hybrid"
"$target_dir/release/embedder-bench" quality "$dir" --model-dir "$model_dir" --name "$name" \
  --cache "target/bench/vectors-$(basename "$dir")-$name.bin" \
  --out target/bench/retrieval-quality.json "${rest[@]}"
