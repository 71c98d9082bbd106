#!/usr/bin/env bash
# scripts/bench.sh soak [--duration SECONDS] [--rate OPS_PER_S] [--users N] [--seed-docs N]:
# mixed traffic from several users against the local server (the `ragenie-server` binary built
# with the `local` profile, on a fresh data directory; the fake OpenAI server as provider) for
# 10 minutes by default at a fixed rate — sign-ins, uploads, searches, document lists, streamed
# chats, stopped chats, deletions of documents and conversations — then the checks: no error
# (429s from the per-user limits aside), p95 per route, resident memory at the end within 10 % of
# that after warm-up (a tenth of the run), open files flat, every document and message accounted
# for. Writes target/bench/soak.json (soak_requests, soak_errors, soak_rss_growth_pct,
# soak_p95_ms_<route>, …); exits non-zero when a check fails. Its short form runs in the test
# command (cargo test -p ragenie-local --test soak).
#
# Not covered: the AWS adapters and Lambda, real providers, several server processes.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

run_server_bench soak soak "$@"
