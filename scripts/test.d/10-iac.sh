#!/usr/bin/env bash
# Infrastructure as code, offline: builds the CDK app, synthesizes it with the pinned CDK CLI,
# runs the assertions on the synthesized template (node's test runner), lints the CDK output and
# template.yaml (SAM), and checks that template.yaml's events, grants and CloudFront routing
# match infra/routes.json and the CDK stack. No AWS account, no credentials, no release build:
# functions not built by scripts/build-lambdas.sh get a placeholder bootstrap at synth time.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

# Never ask anything outside this machine: no instance-metadata credential probe, no telemetry.
export AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true SAM_CLI_TELEMETRY=0
export PYTHONDONTWRITEBYTECODE=1
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_REGION="${AWS_REGION:-us-east-1}"
started=$SECONDS

step "CDK app: npm ci (only when package-lock.json changed), tsc"
lock_sum=$(sha1sum infra/cdk/package-lock.json | cut -c1-40)
if [ "$(cat infra/cdk/node_modules/.ragenie-lock 2>/dev/null || true)" != "$lock_sum" ]; then
  (cd infra/cdk && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > infra/cdk/node_modules/.ragenie-lock
fi
# A clean build: a test file renamed or removed must not leave its old .js behind to run.
(cd infra/cdk && rm -rf dist && node_modules/.bin/tsc -p .)

step "cdk synth (offline)"
rm -rf infra/cdk/cdk.out
(cd infra/cdk && node_modules/.bin/cdk synth --quiet --no-notices --no-version-reporting >/dev/null)
test -s infra/cdk/cdk.out/RaGenie.template.json

step "CDK assertions (node --test)"
(cd infra/cdk && node --test dist/test/*.test.js)

step "SAM CLI and cfn-lint (venv .tools/sam)"
sam_venv=$(ensure_venv sam aws-sam-cli==1.170.0)

step "cfn-lint on the synthesized CDK template"
# W3005: CDK always adds DependsOn on a function's role even where a GetAtt already implies it.
"$sam_venv/bin/cfn-lint" --regions us-east-1 --ignore-checks W3005 -- infra/cdk/cdk.out/RaGenie.template.json

step "sam validate --lint template.yaml"
"$sam_venv/bin/sam" validate --lint --region us-east-1 -t template.yaml

step "template.yaml against routes.json and the CDK stack"
"$sam_venv/bin/python" -m unittest discover -s infra/tests -v

step "build and deploy scripts parse"
bash -n scripts/build-lambdas.sh
bash -n scripts/deploy.sh

echo "IaC checks passed in $((SECONDS - started)) s."
