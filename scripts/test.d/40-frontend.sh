#!/usr/bin/env bash
# The web app's checks: a clean install from the lockfile, the TypeScript typecheck, the Vitest
# suite (API client and components, jsdom) and the production build. Non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../../frontend"
source ../scripts/lib/common.sh

step "frontend: npm ci"
# --prefer-offline uses the npm cache when it has the exact versions the lockfile names.
timeout 600 npm ci --no-audit --no-fund --prefer-offline --loglevel=error

step "frontend: typecheck (tsc --noEmit)"
timeout 300 npx --no-install tsc --noEmit -p tsconfig.json

step "frontend: unit and component tests (vitest)"
timeout 600 npx --no-install vitest run

step "frontend: production build (vite)"
timeout 300 npx --no-install vite build
echo "frontend: built into frontend/dist"
