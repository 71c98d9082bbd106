#!/usr/bin/env bash
# scripts/bench.sh gateway: this gateway (in-process, as the chat function uses it) versus the
# LiteLLM proxy, side by side against the same fake OpenAI upstream (a separate process):
# added latency p50/p99 over calling the upstream directly, streamed and not, requests per
# second at 16 connections, CPU per request and per streamed chunk, resident memory, failures
# among 64 concurrent streams; then tiktoken-rs vs Python tiktoken throughput and the time of
# the first token count in a fresh process. Writes target/bench/gateway.json.
# Options (environment): BENCH_REQUESTS (sequential requests per latency run, default 400),
# BENCH_SECONDS (seconds per throughput run, default 4), BENCH_SKIP_LITELLM=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
out_dir=target/bench
mkdir -p "$out_dir"

step "building (release): fake-providers and the gateway bench driver"
cargo build --release -q -p ragenie-fake-providers --bin fake-providers
cargo build --release -q -p ragenie-gateway --example gateway_bench
fake_bin="$target_dir/release/fake-providers"
bench_bin="$target_dir/release/examples/gateway_bench"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step "starting the fake upstream"
"$fake_bin" --port 0 >"$work/urls" 2>"$work/fake.log" &
pids+=($!)
for _ in $(seq 150); do [ -s "$work/urls" ] && break; sleep 0.2; done
[ -s "$work/urls" ] || { echo "fake-providers did not start" >&2; cat "$work/fake.log" >&2; exit 1; }
upstream=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["openai"])' "$work/urls")
echo "upstream: $upstream"

litellm_args=()
litellm_venv=""
if [ "${BENCH_SKIP_LITELLM:-0}" != 1 ]; then
  step "LiteLLM proxy (litellm[proxy] from PyPI; up to 2 minutes to become ready)"
  litellm_venv=$(ensure_venv litellm 'litellm[proxy]')
  master_key="sk-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  litellm_port=$(free_port)
  cat >"$work/litellm.yaml" <<YAML
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: $upstream
      api_key: test-key
litellm_settings:
  num_retries: 0
  request_timeout: 60
  telemetry: false
YAML
  LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_MASTER_KEY="$master_key" LITELLM_LOG=ERROR \
    "$litellm_venv/bin/litellm" --config "$work/litellm.yaml" --host 127.0.0.1 --port "$litellm_port" \
    --num_workers 1 >"$work/litellm.log" 2>&1 &
  litellm_pid=$!
  pids+=("$litellm_pid")
  if wait_for_http "http://127.0.0.1:$litellm_port/health/liveliness" 150; then
    litellm_args=(--litellm "http://127.0.0.1:$litellm_port" --litellm-key "$master_key" --litellm-pid "$litellm_pid")
  else
    echo "LiteLLM did not become ready; its figures are left out. Last log lines:" >&2
    tail -20 "$work/litellm.log" >&2
  fi
fi

step "latency, throughput, CPU, memory (direct vs RaGenie gateway vs LiteLLM)"
"$bench_bin" run --upstream "$upstream" "${litellm_args[@]}" \
  --requests "${BENCH_REQUESTS:-400}" --seconds "${BENCH_SECONDS:-4}" >"$work/run.json"

step "tokenizer throughput and first count"
# ~2 MB of real text: SciFact abstracts when present, else a generated mixed text.
python3 - "$work/text.txt" <<'PY'
import json, os, sys
out, parts, size = sys.argv[1], [], 0
path = "/work/shared/data/scifact/corpus.jsonl"
for cand in [os.environ.get("BENCH_TEXT_JSONL", ""), "shared/data/scifact/corpus.jsonl", "../shared/data/scifact/corpus.jsonl", path]:
    if cand and os.path.exists(cand):
        with open(cand) as f:
            for line in f:
                d = json.loads(line)
                t = d.get("title", "") + "\n" + d.get("text", "") + "\n\n"
                parts.append(t); size += len(t.encode())
                if size > 2_000_000: break
        break
if not parts:
    words = "the quick brown fox jumps over the lazy dog 42 times; naïve café résumé 東京 données".split()
    parts = [" ".join(words[(i * 7) % len(words)] for i in range(j, j + 12)) + ".\n" for j in range(40000)]
open(out, "w").write("".join(parts))
PY
"$bench_bin" tiktoken "$work/text.txt" >"$work/tiktoken_rs.json"
# The median of five fresh processes (wall and CPU time of the first count).
for _ in 1 2 3 4 5; do "$bench_bin" first-count; done >"$work/first_count"

py_tiktoken='{}'
if [ -n "$litellm_venv" ]; then
  cache=$(echo "$litellm_venv"/lib/python3*/site-packages/litellm/litellm_core_utils/tokenizers)
  py_tiktoken=$(TIKTOKEN_CACHE_DIR="$cache" "$litellm_venv/bin/python" - "$work/text.txt" <<'PY' || echo '{}'
import json, sys, time
import tiktoken
text = open(sys.argv[1]).read()
mb = len(text.encode()) / 1e6
out = {}
for name in ("cl100k_base", "o200k_base"):
    try:
        enc = tiktoken.get_encoding(name)
    except Exception:
        continue
    enc.encode_ordinary("warm up")
    best = float("inf")
    for _ in range(5):  # CPU time, as the Rust side measures
        t0 = time.process_time()
        enc.encode_ordinary(text)
        best = min(best, time.process_time() - t0)
    out["tiktoken_py_" + name.split("_")[0] + "_mb_per_s"] = round(mb / best, 2)
print(json.dumps(out))
PY
)
fi

python3 - "$work/run.json" "$work/tiktoken_rs.json" "$work/first_count" "$out_dir/gateway.json" "$py_tiktoken" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
rs = json.load(open(sys.argv[2]))
counts = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
def median(k):
    v = sorted(c[k] for c in counts)
    return v[len(v) // 2]
py = json.loads(sys.argv[5])
fig = dict(run)
fig.update(rs)
fig.update(py)
# The headline tokenizer figures compare the same encoding (cl100k_base) on the same text.
fig["tiktoken_rs_mb_per_s"] = rs["tiktoken_rs_cl100k_mb_per_s"]
if "tiktoken_py_cl100k_mb_per_s" in py:
    fig["tiktoken_py_mb_per_s"] = py["tiktoken_py_cl100k_mb_per_s"]
fig["first_count_ms"] = median("first_count_ms")
fig["first_count_cpu_ms"] = median("first_count_cpu_ms")
json.dump(fig, open(sys.argv[4], "w"), indent=1, sort_keys=True)

def g(k, fmt="{:.3f}"):
    v = fig.get(k)
    return "n/a" if v is None else fmt.format(v)

rows = [
    ("added latency p50, ms (non-streamed)", "ragenie_added_p50_ms", "litellm_added_p50_ms", "{:.3f}"),
    ("added latency p99, ms (non-streamed)", "ragenie_added_p99_ms", "litellm_added_p99_ms", "{:.3f}"),
    ("added latency p50, ms (streamed, whole answer)", "ragenie_added_p50_ms_stream", "litellm_added_p50_ms_stream", "{:.3f}"),
    ("added latency p99, ms (streamed, whole answer)", "ragenie_added_p99_ms_stream", "litellm_added_p99_ms_stream", "{:.3f}"),
    ("requests/s at 16 connections", "ragenie_rps", "litellm_rps", "{:.0f}"),
    ("requests/s at 16 connections (streamed)", "ragenie_rps_stream", "litellm_rps_stream", "{:.0f}"),
    ("requests/s as a fraction of direct", "ragenie_rps_vs_direct", "litellm_rps_vs_direct", "{:.3f}"),
    ("requests/s as a fraction of direct (streamed)", "ragenie_rps_vs_direct_stream", "litellm_rps_vs_direct_stream", "{:.3f}"),
    ("CPU ms per request", "ragenie_cpu_ms_per_req", "litellm_cpu_ms_per_req", "{:.4f}"),
    ("CPU ms per request (streamed)", "ragenie_cpu_ms_per_req_stream", "litellm_cpu_ms_per_req_stream", "{:.4f}"),
    ("CPU ms per streamed chunk", "ragenie_cpu_ms_per_chunk", "litellm_cpu_ms_per_chunk", "{:.5f}"),
    ("resident memory, MB", "ragenie_rss_mb", "litellm_rss_mb", "{:.1f}"),
    ("failures among 64 concurrent streams", "ragenie_failures_64_streams", "litellm_failures_64_streams", "{:.0f}"),
]
print()
print(f"{'gateway benchmark (same fake upstream)':<48} {'RaGenie':>12} {'LiteLLM':>12}")
print("-" * 74)
for label, a, b, fmt in rows:
    print(f"{label:<48} {g(a, fmt):>12} {g(b, fmt):>12}")
print("-" * 74)
print(f"{'direct to upstream: req/s (plain / streamed)':<48} {g('direct_rps', '{:.0f}'):>12} {g('direct_rps_stream', '{:.0f}'):>12}")
print(f"{'direct to upstream: p50 ms (plain / streamed)':<48} {g('direct_p50_ms'):>12} {g('direct_p50_ms_stream'):>12}")
print()
print(f"{'tokenizer (cl100k_base, same text)':<48} {'tiktoken-rs':>12} {'Python':>12}")
print(f"{'MB per CPU-second':<48} {g('tiktoken_rs_mb_per_s', '{:.2f}'):>12} {g('tiktoken_py_mb_per_s', '{:.2f}'):>12}")
print(f"{'MB per CPU-second (o200k_base)':<48} {g('tiktoken_rs_o200k_mb_per_s', '{:.2f}'):>12} {g('tiktoken_py_o200k_mb_per_s', '{:.2f}'):>12}")
print(f"{'first token count in a fresh process, ms':<48} {g('first_count_ms', '{:.1f}'):>12}")
print(f"{'  of which CPU, ms':<48} {g('first_count_cpu_ms', '{:.1f}'):>12}")
print(f"{'load average at the end (2 cores)':<48} {open('/proc/loadavg').read().split()[0]:>12}")
print()
print(f"figures written to {sys.argv[4]}")
PY
