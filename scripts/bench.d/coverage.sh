#!/usr/bin/env bash
# scripts/bench.sh coverage: line coverage of the Rust workspace and of the web app.
#
# Rust: cargo-tarpaulin with its LLVM engine (`-C instrument-coverage`; tarpaulin reads the
# profiles itself, so no llvm-tools component is needed), installed once into .tools/cargo.
# Every workspace test runs: unit and integration tests of each crate, and the AWS adapter's
# conformance and integration suite (tests/localstack) against a moto server this script starts.
# Instrumented builds go to target/coverage, apart from the normal target/debug.
# Web app: Vitest with the V8 provider over every file in frontend/src (tests excluded).
# Writes target/bench/coverage.json (rust_line_coverage_pct, frontend_line_coverage_pct, per
# crate and per folder figures); the reports stay in target/coverage/, the instrumented build
# (tens of GB) is removed at the end unless COVERAGE_KEEP_BUILD=1.
#
# Options (environment):
#   COVERAGE_PACKAGES="ragenie-gateway ragenie-retrieval"  only these crates' tests (iteration;
#       the figure is then over all workspace files, most untouched, so read the per-crate rows)
#   COVERAGE_SKIP_RUST=1, COVERAGE_SKIP_FRONTEND=1    measure one side only
#   COVERAGE_SKIP_EMULATOR=1                          leave out tests/localstack (no moto)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

TARPAULIN_VERSION=0.37.5
target_out=target/coverage
mkdir -p "$target_out/rust" "$target_out/frontend" target/bench

# Not product code: the benchmark drivers (retrieval-bench, embedder-bench: they run in
# scripts/bench.sh, not in tests) and the test code. Everything else under crates/ and functions/ counts.
exclude_files=(
  "crates/retrieval/src/bin/*"
  "crates/embedder/src/bin/*"
  "*/examples/*"
  "tests/*"
  "*/tests/*"
)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

emulator="not run"
if [ "${COVERAGE_SKIP_RUST:-0}" != 1 ]; then
  rm -f "$target_out/rust/tarpaulin-report.json"
  tarpaulin="$RAGENIE_TOOLS_DIR/cargo/bin/cargo-tarpaulin"
  if ! "$tarpaulin" --version 2>/dev/null | grep -q "$TARPAULIN_VERSION"; then
    step "installing cargo-tarpaulin $TARPAULIN_VERSION into $RAGENIE_TOOLS_DIR/cargo (once)"
    cargo install cargo-tarpaulin --version "$TARPAULIN_VERSION" --locked --root "$RAGENIE_TOOLS_DIR/cargo"
  fi

  packages=()
  if [ -n "${COVERAGE_PACKAGES:-}" ]; then
    for p in $COVERAGE_PACKAGES; do packages+=(--packages "$p"); done
  else
    packages=(--workspace)
    if [ "${COVERAGE_SKIP_EMULATOR:-0}" = 1 ]; then
      packages+=(--exclude localstack-tests)
    elif [ -z "${AWS_ENDPOINT_URL:-}" ]; then
      step "starting moto (the AWS emulator of tests/localstack)"
      venv=$(ensure_venv moto 'moto[server]==5.2.5')
      port=$(free_port)
      timeout 7200 "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$target_out/moto.log" 2>&1 &
      pids+=($!)
      wait_for_http "http://127.0.0.1:$port/moto-api/" 60
      export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
      export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
      emulator="moto at $AWS_ENDPOINT_URL"
    else
      emulator="$AWS_ENDPOINT_URL"
    fi
  fi

  # The built-in embedder's tests need its weights, as in scripts/test.sh (without them they
  # skip, and the embedder would count as untested).
  RAGENIE_TEST_MODEL_DIR=$(ensure_minilm)
  export RAGENIE_TEST_MODEL_DIR RAGENIE_REQUIRE_MODEL=1

  step "Rust: instrumented build and tests (cargo tarpaulin --engine llvm, target/coverage)"
  # One test thread per binary keeps the shared machine usable and the timing-sensitive tests
  # (timeouts, keep-alives) as they are in `cargo test` on a busy machine.
  "$tarpaulin" tarpaulin --engine llvm "${packages[@]}" \
    --target-dir "$target_out/build" --skip-clean \
    --exclude-files "${exclude_files[@]}" \
    --out Json --out Lcov --output-dir "$target_out/rust" \
    --timeout 900 --color never \
    -- --test-threads="${COVERAGE_TEST_THREADS:-2}" 2>&1 | tee "$target_out/rust/tarpaulin.log" | grep -vE '^\|\| ' || true
  [ -s "$target_out/rust/tarpaulin-report.json" ] || { echo "tarpaulin wrote no report (see $target_out/rust/tarpaulin.log)" >&2; exit 1; }
  if grep -qE '^test result: FAILED|error: test failed' "$target_out/rust/tarpaulin.log"; then
    echo "some tests failed under coverage (see $target_out/rust/tarpaulin.log); figures are from the tests that passed" >&2
    rust_failed=1
  fi
fi

if [ "${COVERAGE_SKIP_FRONTEND:-0}" != 1 ]; then
  step "web app: Vitest with V8 coverage"
  rm -f "$target_out/frontend/coverage-summary.json"
  (
    cd frontend
    [ -d node_modules/@vitest/coverage-v8 ] || timeout 600 npm ci --no-audit --no-fund --prefer-offline --loglevel=error
    timeout 1800 npx --no-install vitest run --coverage --coverage.reporter=json-summary --coverage.reporter=text-summary
  )
fi

python3 - "$target_out" target/bench/coverage.json "$emulator" "${rust_failed:-0}" "${COVERAGE_PACKAGES:-}" <<'PY'
import json, os, subprocess, sys
from collections import defaultdict
from pathlib import Path

out_dir, out, emulator, rust_failed = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
only = sys.argv[5].split()
root = Path.cwd()
fig = {}

# An iteration run (COVERAGE_PACKAGES) counts only the named crates' own files.
scope = None
if only:
    meta = json.loads(subprocess.check_output(["cargo", "metadata", "--no-deps", "--format-version", "1"]))
    dirs = {p["name"]: Path(p["manifest_path"]).parent.relative_to(root) for p in meta["packages"]}
    scope = {str(dirs[n]) for n in only if n in dirs}

def pct(covered, total):
    return round(100.0 * covered / total, 2) if total else 0.0

rust = out_dir / "rust" / "tarpaulin-report.json"
crate_rows = []
if rust.exists() and os.environ.get("COVERAGE_SKIP_RUST") != "1":
    report = json.loads(rust.read_text())
    per_crate = defaultdict(lambda: [0, 0])
    per_file = []
    for f in report["files"]:
        path = Path("/".join(f["path"]).replace("//", "/"))
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        parts = rel.parts
        if parts[0] not in ("crates", "functions") or len(parts) < 2:
            continue
        key = f"{parts[0]}/{parts[1]}"
        if scope is not None and key not in scope:
            continue
        per_crate[key][0] += f["covered"]
        per_crate[key][1] += f["coverable"]
        per_file.append((f["coverable"] - f["covered"], str(rel), f["covered"], f["coverable"]))
    covered = sum(c for c, _ in per_crate.values())
    coverable = sum(t for _, t in per_crate.values())
    fig["rust_line_coverage_pct"] = pct(covered, coverable)
    fig["rust_lines_covered"] = covered
    fig["rust_lines_coverable"] = coverable
    for key, (c, t) in sorted(per_crate.items()):
        name = key.split("/")[1].replace("-", "_")
        fig[f"rust_{name}_pct"] = pct(c, t)
        crate_rows.append((key, c, t))
    fig["rust_tests_failed"] = "yes" if rust_failed else "no"
    fig["rust_emulator"] = emulator
    fig["rust_scope"] = "workspace" if scope is None else "packages: " + " ".join(only)
    worst = sorted(per_file, reverse=True)[:12]

front = out_dir / "frontend" / "coverage-summary.json"
folder_rows = []
if front.exists() and os.environ.get("COVERAGE_SKIP_FRONTEND") != "1":
    summary = json.loads(front.read_text())
    total = summary.pop("total")["lines"]
    fig["frontend_line_coverage_pct"] = round(total["pct"], 2)
    fig["frontend_lines_covered"] = total["covered"]
    fig["frontend_lines_total"] = total["total"]
    per_dir = defaultdict(lambda: [0, 0])
    for path, s in summary.items():
        rel = Path(path).relative_to(root / "frontend" / "src")
        d = str(rel.parent) if rel.parent != Path(".") else "(top)"
        per_dir[d][0] += s["lines"]["covered"]
        per_dir[d][1] += s["lines"]["total"]
    folder_rows = sorted((d, c, t) for d, (c, t) in per_dir.items())

fig["target_pct"] = 80
fig["not_measured"] = (
    "the scripts/test.d suites (dev server, SDK fidelity, browser e2e, IaC); "
    "benchmark drivers (crates/retrieval/src/bin, crates/embedder/src/bin, examples/ of each crate); test code"
)
out.write_text(json.dumps(fig, indent=1) + "\n")

def row(name, c, t):
    p = pct(c, t)
    print(f"  {name:34} {c:>7} / {t:<7} {p:6.1f}%  {'ok' if p >= 80 else 'LOW'}")

if crate_rows:
    print("\nRust line coverage (cargo tarpaulin --engine llvm)")
    for r in crate_rows:
        row(*r)
    row("workspace" if scope is None else "these packages", fig["rust_lines_covered"], fig["rust_lines_coverable"])
    print(f"  AWS adapter suite (tests/localstack): {emulator}")
    print("\nRust files with the most uncovered lines")
    for missed, path, c, t in worst:
        print(f"  {path:60} {missed:>5} uncovered of {t:<5} {pct(c, t):6.1f}%")
if folder_rows:
    print("\nWeb app line coverage (Vitest, V8)")
    for r in folder_rows:
        row("src/" + r[0] if r[0] != "(top)" else "src", r[1], r[2])
    row("frontend/src", fig["frontend_lines_covered"], fig["frontend_lines_total"])
print(f"\nnot measured: {fig['not_measured']}")
print(f"target: 80% each\nfigures written to {out}")
PY

# The instrumented build is tens of gigabytes (every test binary with coverage counters); the
# reports above are all that is read afterwards. COVERAGE_KEEP_BUILD=1 keeps it for a quicker rerun.
if [ "${COVERAGE_KEEP_BUILD:-0}" != 1 ]; then
  rm -rf "$target_out/build"
  step "removed the instrumented build ($target_out/build); COVERAGE_KEEP_BUILD=1 keeps it"
fi
