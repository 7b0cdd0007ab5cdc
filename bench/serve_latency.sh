#!/usr/bin/env bash
# Issue 7's page promise, "within a second or two the piece appears and plays": `etude serve`
# end to end over loopback HTTP: compose 400 tokens, then the first WAV (FluidSynth), the cached
# WAV, the first PDF and SVG (LilyPond); medians of 5 pieces; prints compose + first WAV against
# the 2-second goal. The load numbers (200 requests, 8 clients) come from tests/app/serve_load_test.py.
# Usage: bench/serve_latency.sh [BUILD_DIR] [MODELS_DIR STYLE]
#   Without models, a small-preset model is trained for one short epoch on four Chopin preludes.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD:-build}}
MODELS=${2:-}
STYLE=${3:-chopin}
PY=/usr/bin/python3
CORPUS=${ETUDE_CORPUS:-../shared/corpora/piano-midi}
export OPENBLAS_CORETYPE=SkylakeX
[[ -x "$BUILD/etude" ]] || { echo "serve_latency: no $BUILD/etude; run make build first" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
if [[ -z "$MODELS" ]]; then
  echo "serve_latency: training a small-preset model on 4 Chopin preludes (one short epoch)" >&2
  mkdir -p "$tmp/data/Chopin" "$tmp/models"
  for f in chpn-p7.mid chpn-p20.mid chpn-p9.mid chpn-p4.mid; do cp "$CORPUS/Chopin/$f" "$tmp/data/Chopin/"; done
  "$BUILD/etude" train "$tmp/data" --out "$tmp/run" --preset small --epochs 1 --seq 32 --batch 16 --threads 1 >/dev/null
  cp "$tmp/run/best.safetensors" "$tmp/models/$STYLE.safetensors"
  MODELS="$tmp/models"
fi
"$BUILD/etude" serve --port 0 --models "$MODELS" --state "$tmp/state" >"$tmp/out" 2>"$tmp/err" &
echo $! >"$tmp/pid"
for _ in $(seq 50); do grep -q listening "$tmp/out" && break; sleep 0.1; done
port=$(sed -E 's/.*:([0-9]+)\/$/\1/' "$tmp/out")

$PY - "$port" "$STYLE" <<'PY'
import http.client, json, statistics, sys, time
port, style = int(sys.argv[1]), sys.argv[2]

failures = []

def get(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.perf_counter()
    c.request(method, path, body=json.dumps(body) if body else None, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        failures.append(f"{path}: {r.status} {data[:300].decode(errors='replace')}")
    return time.perf_counter() - t0, data

rows = {k: [] for k in ["compose", "wav", "wav_cached", "pdf", "svg"]}
get("POST", "/api/compose", {"style": style, "length": 400, "seed": 99})  # loads the model
for seed in range(1, 6):
    s, data = get("POST", "/api/compose", {"style": style, "length": 400, "seed": seed})
    rows["compose"].append(s)
    files = json.loads(data)["pieces"][0]["files"]
    rows["wav"].append(get("GET", files["wav"])[0])
    rows["wav_cached"].append(get("GET", files["wav"])[0])
    rows["pdf"].append(get("GET", files["pdf"])[0])
    rows["svg"].append(get("GET", files["svg"])[0])
with open("/proc/loadavg") as f:
    load = f.read().split()[0]
print(f"etude serve on loopback, style {style}, 5 pieces of 400 tokens (load average {load} on {__import__('os').cpu_count()} cores):")
for k, v in rows.items():
    print(f"  {k:<11} median {1e3 * statistics.median(v):7.0f} ms   (min {1e3 * min(v):.0f}, max {1e3 * max(v):.0f})")
for f in failures:
    print("  failed:", f)
first = statistics.median(rows["compose"]) + statistics.median(rows["wav"])
print(f"compose + first WAV: {first:.2f} s (goal: a second or two): {'PASS' if first <= 2 else 'SLOWER'}")
PY
