#!/usr/bin/env bash
# The web app's API types are the served contract: frontend/src/api/types.ts must be what
# openapi-typescript generates from the document the server serves (regenerated into a temp
# file and compared; `npm run gen:api` in frontend/ updates it). scripts/test.d/46-schemathesis.sh checks
# the server against the same document.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

build_debug_binaries
bin="${CARGO_TARGET_DIR:-target}/debug"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "contract: frontend/src/api/types.ts matches the served document"
if [ ! -x frontend/node_modules/.bin/openapi-typescript ]; then
  (cd frontend && timeout 600 npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
fi
"$bin/ragenie-openapi" >"$work/openapi.json"
(cd frontend && node scripts/gen-api.mjs "$work/openapi.json" "$work/types.ts")
if ! diff -u frontend/src/api/types.ts "$work/types.ts" >"$work/types.diff"; then
  head -60 "$work/types.diff" >&2
  echo "frontend/src/api/types.ts is stale: run 'npm run gen:api' in frontend/ and commit it" >&2
  exit 1
fi
echo "types.ts is up to date"

