#!/usr/bin/env bash
# scripts/bench.sh ingest [MB]: asynchronous ingestion of a large PDF on the AWS emulator — the
# emulator suite's test (tests/localstack/tests/ingest.rs) with a 100 MB PDF (or MB): presigned
# PUT to S3, commit (pending), the SQS message the documents function sent handed to the ingest
# function's handler, then ready and searchable. Writes target/bench/ingest.json. The test
# command runs the same test with 16 MB. Not covered: Lambda's own limits and speed (the
# handler runs in-process, in a debug build), a real S3's bandwidth.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
mb=${1:-100}
trap stop_moto EXIT
start_moto
out=$PWD/target/bench/ingest.json
RAGENIE_INGEST_TEST_MB=$mb RAGENIE_INGEST_BENCH_OUT=$out \
  cargo test -p localstack-tests --test ingest -- a_large_pdf --nocapture
python3 - "$out" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
print(f"{'PDF MB':>8}{'upload+commit s':>18}{'ingest s':>10}")
print(f"{f['pdf_mb']:>8}{f['upload_and_commit_s']:>18}{f['ingest_s']:>10}")
print(f"({f['emulator']}; {f['build']})")
PY
