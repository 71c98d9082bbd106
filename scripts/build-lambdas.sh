#!/usr/bin/env bash
# Builds what a deploy uploads:
#   * every function as an arm64 Lambda executable, target/lambda/<name>/bootstrap, with
#     `cargo lambda build --release --arm64` (cargo-lambda and zig from PyPI, in .tools/);
#   * the single-page app, frontend/dist, when frontend/package.json exists.
# Usage: scripts/build-lambdas.sh [function…]   (default: every function named in infra/routes.json)
# A cold release build takes ~20 minutes on 2 cores; the tests never run it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

if [ $# -gt 0 ]; then
  functions=("$@")
else
  mapfile -t functions < <(python3 -c 'import json
for f in sorted({r["function"] for r in json.load(open("infra/routes.json"))}): print(f)')
fi

step "cargo-lambda and zig (venv .tools/lambda-build)"
venv=$(ensure_venv lambda-build cargo-lambda==1.9.2 ziglang==0.15.2)
export PATH="$venv/bin:$PATH"   # cargo-lambda finds zig through this venv's python (ziglang)
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi

step "cargo lambda build --release --arm64: ${functions[*]}"
packages=()
for f in "${functions[@]}"; do packages+=(--package "$f"); done
started=$SECONDS
cargo lambda build --release --arm64 --locked "${packages[@]}"
echo "built in $((SECONDS - started)) s"

step "artefacts"
python3 - "${CARGO_TARGET_DIR:-target}" "${functions[@]}" <<'PY'
import io, os, sys, zipfile
failed = False
print(f"{'function':<24}{'bootstrap MB':>14}{'zipped MB':>12}")
target = sys.argv[1]
for name in sys.argv[2:]:
    path = os.path.join(target, "lambda", name, "bootstrap")
    if not os.path.isfile(path):
        print(f"{name:<24}{'missing':>14}"); failed = True; continue
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    print(f"{name:<24}{os.path.getsize(path) / 1e6:>14.2f}{len(buf.getvalue()) / 1e6:>12.2f}")
sys.exit(1 if failed else 0)
PY

if [ -f frontend/package.json ]; then
  step "frontend: npm ci && npm run build"
  (cd frontend && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi && npm run build)
  test -f frontend/dist/index.html
else
  echo "no frontend/package.json: the site bucket will be left empty"
fi
