#!/usr/bin/env bash
# metrics-overhead: CPU time per request of the observability layers (request id, span, request
# metrics) and of recording, with the local server's Prometheus recorder and with Lambda's EMF
# recorder (plus its per-request flush), in an optimised build. Writes
# target/bench/metrics-overhead.json. Aim: under 5 µs CPU per request.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-20000}
mkdir -p target/bench
# The `local` profile (opt-level 3, no LTO: the code speed of the release profile's opt-level 3
# without its fat LTO, which only shrinks the Lambda packages), so scripts/dev.sh's build serves it.
cargo build --profile local --quiet -p ragenie-common --example metrics_overhead
bin=${CARGO_TARGET_DIR:-target}/local/examples/metrics_overhead
"$bin" prometheus "$n" target/bench/metrics-overhead.prometheus.json
"$bin" emf "$n" target/bench/metrics-overhead.emf.json
python3 - <<'PY'
import json
p = json.load(open("target/bench/metrics-overhead.prometheus.json"))
e = json.load(open("target/bench/metrics-overhead.emf.json"))
out = {"requests": p["requests"], "target_cpu_us": 5.0}
for prefix, d in (("prometheus", p), ("emf", e)):
    for k in ("layers_cpu_us", "record_cpu_us", "bare_request_cpu_us", "observed_request_cpu_us"):
        out[f"{prefix}_{k}"] = d[k]
out["emf_flush_cpu_us"] = e["emf_flush_cpu_us"]
# What a request pays: the local server's layers, or on Lambda the layers plus one flush.
out["overhead_cpu_us"] = round(max(p["layers_cpu_us"], e["layers_cpu_us"] + e["emf_flush_cpu_us"]), 2)
json.dump(out, open("target/bench/metrics-overhead.json", "w"), indent=2)
print("\nmetrics-overhead.json:")
for k, v in out.items():
    print(f"  {k:<34} {v}")
PY
