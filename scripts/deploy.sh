#!/usr/bin/env bash
# Deploys RaGenie to the AWS account and region of the current credentials (AWS_PROFILE,
# AWS_REGION…): builds the functions and the frontend, then `cdk deploy`s the stack.
# Usage: scripts/deploy.sh [--bootstrap] [cdk deploy options…]
#   --bootstrap   run `cdk bootstrap` first (once per account and region)
#   e.g.          scripts/deploy.sh -c alarmEmail=ops@example.com -c stackName=ragenie-staging
# docs/deploy.md has the first-run steps (provider keys included).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

bootstrap=false
if [ "${1:-}" = "--bootstrap" ]; then bootstrap=true; shift; fi
export CDK_DISABLE_CLI_TELEMETRY=true

scripts/build-lambdas.sh

step "CDK app"
lock_sum=$(sha1sum infra/cdk/package-lock.json | cut -c1-40)
if [ "$(cat infra/cdk/node_modules/.ragenie-lock 2>/dev/null || true)" != "$lock_sum" ]; then
  (cd infra/cdk && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > infra/cdk/node_modules/.ragenie-lock
fi
(cd infra/cdk && node_modules/.bin/tsc -p .)

cdk() { (cd infra/cdk && node_modules/.bin/cdk --no-notices "$@"); }
if $bootstrap; then
  step "cdk bootstrap"
  cdk bootstrap
fi

step "cdk deploy"
mkdir -p target
outputs="$PWD/target/deploy-outputs.json"
cdk deploy --all --require-approval broadening -c requireBuiltLambdas=true --outputs-file "$outputs" "$@"

python3 - "$outputs" <<'PY'
import json, sys
stacks = json.load(open(sys.argv[1]))
for name, out in stacks.items():
    print(f"\n{name} is deployed: {out.get('AppUrl', '?')}")
    print("Set the provider keys you use (leave the others empty):")
    print(f"  aws secretsmanager put-secret-value --secret-id {out.get('ProviderKeysSecretArn', '<ProviderKeysSecretArn>')} \\")
    print("    --secret-string '{\"OPENAI_API_KEY\":\"sk-…\",\"ANTHROPIC_API_KEY\":\"\",\"GEMINI_API_KEY\":\"\"}'")
PY
