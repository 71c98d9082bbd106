#!/usr/bin/env bash
# scripts/bench.sh chat-ttfb [--docs N] [--rounds N] [--streams N]: the time RaGenie adds to the
# first byte of a streamed answer over the upstream's own, through the local server (the
# `ragenie-server` binary built with the `local` profile, as scripts/dev.sh serves it) for a
# profile of 1,000 datasets (retrieval, not whole documents), then 50 concurrent streams whose
# stored messages are checked against what was sent. Writes target/bench/chat-ttfb.json:
# added_ttfb_p50_ms, added_ttfb_p95_ms, concurrent_streams, concurrent_stream_errors,
# lost_messages (target: p95 < 25 ms, 0 errors, 0 lost).
#
# Not covered: network latency to a real provider, Lambda, hybrid retrieval (BM25 only).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

run_server_bench chat-ttfb chat_ttfb "$@"
