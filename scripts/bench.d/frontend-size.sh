#!/usr/bin/env bash
# frontend-size: builds the web app and measures the JavaScript the first screen needs — the
# entry chunk and every chunk it imports statically (from Vite's manifest; lazy screens are not
# counted) — gzipped at level 9. Writes target/bench/frontend-size.json; target: under 250 KB.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

step "building the web app"
(
  cd frontend
  [ -d node_modules ] || timeout 600 npm ci --no-audit --no-fund --prefer-offline --loglevel=error
  timeout 300 npm run build --silent >/dev/null
)

mkdir -p target/bench
python3 - frontend/dist target/bench/frontend-size.json <<'PY'
import gzip, json, sys
from pathlib import Path

dist, out = Path(sys.argv[1]), Path(sys.argv[2])
manifest = json.loads((dist / ".vite" / "manifest.json").read_text())
entries = [k for k, v in manifest.items() if v.get("isEntry")]
if len(entries) != 1:
    sys.exit(f"expected one entry in the manifest, found {entries}")

def gz(path):
    data = (dist / path).read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))

# The entry and its static imports, transitively: what the browser loads before the first screen.
initial, todo = [], [entries[0]]
while todo:
    key = todo.pop()
    if key in initial:
        continue
    initial.append(key)
    todo.extend(manifest[key].get("imports", []))

initial_files = {manifest[k]["file"] for k in initial}
css = {c for k in initial for c in manifest[k].get("css", [])}
lazy_files = sorted({v["file"] for v in manifest.values() if v["file"].endswith(".js")} - initial_files)

rows = []
for f in sorted(initial_files):
    raw, z = gz(f)
    rows.append(("initial", f, raw, z))
for f in lazy_files:
    raw, z = gz(f)
    rows.append(("lazy", f, raw, z))
for f in sorted(css):
    raw, z = gz(f)
    rows.append(("css", f, raw, z))

initial_raw = sum(r[2] for r in rows if r[0] == "initial")
initial_gz = sum(r[3] for r in rows if r[0] == "initial")
lazy_gz = sum(r[3] for r in rows if r[0] == "lazy")
css_gz = sum(r[3] for r in rows if r[0] == "css")
target_kb = 250

print(f"\n{'part':8} {'file':45} {'raw KB':>9} {'gzip KB':>9}")
for kind, f, raw, z in rows:
    print(f"{kind:8} {f:45} {raw/1024:9.1f} {z/1024:9.1f}")
print()
print(f"{'metric':34} {'value':>10} {'target':>10}")
print(f"{'initial JS, gzip (KB)':34} {initial_gz/1024:10.1f} {'< ' + str(target_kb):>10}  {'OK' if initial_gz/1024 < target_kb else 'OVER'}")
print(f"{'initial JS, raw (KB)':34} {initial_raw/1024:10.1f}")
print(f"{'lazy JS (all screens), gzip (KB)':34} {lazy_gz/1024:10.1f}")
print(f"{'initial CSS, gzip (KB)':34} {css_gz/1024:10.1f}")

result = {
    "initial_js_gzip_kb": round(initial_gz / 1024, 1),
    "initial_js_raw_kb": round(initial_raw / 1024, 1),
    "initial_js_files": len(initial_files),
    "lazy_js_gzip_kb": round(lazy_gz / 1024, 1),
    "initial_css_gzip_kb": round(css_gz / 1024, 1),
    "target_initial_js_gzip_kb": target_kb,
    "within_target": "yes" if initial_gz / 1024 < target_kb else "no",
}
out.write_text(json.dumps(result, indent=2) + "\n")
print(f"\nwrote {out}")
PY
