#!/usr/bin/env bash
# scripts/bench.sh api-search [SIZES] [EMULATOR_SIZES] [CONVERSATIONS]: search and upload through
# the HTTP API of the local server (built with the `local` profile, as scripts/dev.sh serves it)
# for one user with 1,000 / 10,000 / 50,000 one-chunk documents (default), then the same on the
# AWS adapters against moto's server for 1,000 / 10,000. Upload rate, warm and cold search
# p50/p95, table reads per search. Then conversation search for one user with 2,000
# conversations of 20 messages (CONVERSATIONS, `NxM`; default 2000x20): warm, right after a save,
# and cold p50/p95 and reads (`conversation_search_p95_ms` is the warm p95). Any part can be
# `none`; a quick run: `scripts/bench.sh api-search none none 200x20`. Writes
# target/bench/api-search.json (emulator keys start with `emulator_`), keeping keys of parts
# not run.
#
# The emulator part runs moto through scripts/lib/moto_bench_server.py: moto 5.2.5 deep-copies
# the whole table before every TransactWriteItems (3 s per upload at 1,000 documents); the
# launcher snapshots only the items a transaction names, keeping its all-or-nothing semantics.
#
# Not covered: network latency to a real DynamoDB/S3 (moto on 127.0.0.1 stands in), Lambda cold
# starts (scripts/bench.sh cold-start), hybrid retrieval (BM25 only: no embedding model set).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

sizes=${1:-1000,10000,50000}
emulator_sizes=${2:-1000,10000}
conversations=${3:-2000x20}
out=target/bench/api-search.json
mkdir -p target/bench

# API_SEARCH_PROFILE=dev: a debug build, for a quick look on a busy machine (not a figure).
profile=${API_SEARCH_PROFILE:-local}
step "cargo build --profile $profile -p ragenie-local --example api_search"
cargo build --profile "$profile" -p ragenie-local --example api_search
dir=$profile
[ "$profile" = dev ] && dir=debug
bench=target/$dir/examples/api_search

if [ "$sizes" != "none" ]; then
  step "api-search on the embedded store: $sizes documents"
  # No provider keys: the bench measures RaGenie, not a provider.
  env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY RUST_LOG=warn \
    "$bench" --store embedded --sizes "$sizes" --out "$out"
fi

if [ "$conversations" != "none" ]; then
  count=${conversations%x*}
  per=${conversations#*x}
  step "conversation search on the embedded store: $count conversations × $per messages"
  env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY RUST_LOG=warn \
    "$bench" --store embedded --sizes none --conversations "$count" --messages "$per" \
    --cold 10 --out "$out"
fi

if [ "$emulator_sizes" != "none" ]; then
  step "api-search on the AWS adapters against moto: $emulator_sizes documents"
  trap stop_moto EXIT
  # moto copies the whole table on every transaction; the bench launcher copies only the items
  # a transaction names (scripts/lib/moto_bench_server.py), so upload cost is what DynamoDB's is.
  start_moto bench
  env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY RUST_LOG=warn \
    "$bench" --store aws --sizes "$emulator_sizes" --prefix emulator_ --queries 50 --cold 10 \
    --out "$out"
fi

step "target/bench/api-search.json"
cat "$out"
