#!/usr/bin/env bash
# Cold start of every function: release binaries started against a fake Lambda Runtime API,
# with DynamoDB and Secrets Manager on moto; init time, first answer, deployment zip size.
# documents and chat also with hybrid retrieval through a provider, and with the built-in model.
# Uses the arm64 packages in target/lambda/ (scripts/build-lambdas.sh; RAGENIE_LAMBDA_DIR elsewhere) for sizes.
# Writes target/bench/cold-start.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

cargo build --release -q -p ragenie-auth -p ragenie-users -p ragenie-documents -p ragenie-conversations -p ragenie-chat
bin_dir="${CARGO_TARGET_DIR:-target}/release"

venv=$(ensure_venv moto 'moto[server]==5.2.5')
port=$(free_port)
timeout 3600 "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
wait_for_http "http://127.0.0.1:$port/moto-api/" 60
moto="http://127.0.0.1:$port"
AWS_ENDPOINT_URL=$moto AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "$venv/bin/python" - <<'PY'
import boto3
ddb = boto3.client("dynamodb")
ddb.create_table(TableName="ragenie-bench", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    GlobalSecondaryIndexes=[{"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"},
        "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]}])
sm = boto3.client("secretsmanager")
sm.create_secret(Name="ragenie/jwt", SecretString="x" * 64)
# A key the hybrid variants' embedding client is built with; the health check never calls it.
sm.create_secret(Name="ragenie/provider-keys", SecretString='{"OPENAI_API_KEY":"sk-bench-never-called","ANTHROPIC_API_KEY":"","GEMINI_API_KEY":""}')
PY
mkdir -p target/bench
# documents and chat also start with the built-in embedding model loaded.
RAGENIE_BENCH_MODEL_DIR=$(ensure_minilm)
export RAGENIE_BENCH_MODEL_DIR
python3 scripts/bench.d/cold_start.py "$bin_dir" "$moto" target/bench/cold-start.json "${RAGENIE_LAMBDA_DIR:-${CARGO_TARGET_DIR:-target}/lambda}"
