#!/usr/bin/env bash
# Builds what a deploy uploads:
#   * every function as an arm64 Lambda executable, target/lambda/<name>/bootstrap, with
#     `cargo lambda build --release --arm64` (cargo-lambda and zig from PyPI, in .tools/);
#   * the single-page app, frontend/dist, when frontend/package.json exists;
#   * when the built-in embedding model's weights are installed (.tools/models/all-MiniLM-L6-v2),
#     its Lambda layer, target/lambda-layers/all-MiniLM-L6-v2.zip (models/<name>/ inside, so it
#     unpacks at /opt/models/<name>), with the sizes Lambda limits.
# Usage: scripts/build-lambdas.sh [function…]   (default: every function named in infra/routes.json,
# and ragenie-ingest, the function of the ingest queue's events)
# A cold release build takes ~20 minutes on 2 cores; the tests never run it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

if [ $# -gt 0 ]; then
  functions=("$@")
else
  mapfile -t functions < <(python3 -c 'import json
for f in sorted({r["function"] for r in json.load(open("infra/routes.json"))} | {"ragenie-ingest"}): print(f)')
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

minilm="$RAGENIE_TOOLS_DIR/models/all-MiniLM-L6-v2"
if [ -f "$minilm/model.safetensors" ]; then
  step "embedding model layer (all-MiniLM-L6-v2)"
  python3 - "${CARGO_TARGET_DIR:-target}" "$minilm" "${functions[@]}" <<'PY'
import os, sys, zipfile
target, model_dir, functions = sys.argv[1], sys.argv[2], sys.argv[3:]
files = ["model.safetensors", "tokenizer.json", "config.json", "sentence_bert_config.json", "1_Pooling/config.json"]
os.makedirs(os.path.join(target, "lambda-layers"), exist_ok=True)
out = os.path.join(target, "lambda-layers", "all-MiniLM-L6-v2.zip")
unzipped = 0
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for f in files:
        src = os.path.join(model_dir, f)
        if os.path.exists(src):
            z.write(src, f"models/all-MiniLM-L6-v2/{f}")
            unzipped += os.path.getsize(src)
print(f"layer {out}: {os.path.getsize(out) / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped")
for name in ("ragenie-documents", "ragenie-chat"):
    path = os.path.join(target, "lambda", name, "bootstrap")
    if name in functions and os.path.isfile(path):
        total = (os.path.getsize(path) + unzipped) / 1e6
        print(f"{name}: function + layer {total:.1f} MB unzipped (Lambda's limit: 250 MB)")
PY
fi

if [ -f frontend/package.json ]; then
  step "frontend: npm ci && npm run build"
  (cd frontend && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi && npm run build)
  test -f frontend/dist/index.html
else
  echo "no frontend/package.json: the site bucket will be left empty"
fi
