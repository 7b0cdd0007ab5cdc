#!/usr/bin/env bash
# Issue 6's speed goal: `etude compose` of 500 tokens with a `default`-preset model against
# PyTorch stepping the same model (loaded from the same file, logits checked against
# `etude forward`), interleaved runs (etude: --threads 1, then 2 = automatic between 1 and 2 per
# step), best of each; prints the times, the ratio (target >= 3x), a bf16 line and the load.
# Usage: bench/compose_vs_torch.sh [BUILD_DIR] [MODEL.safetensors]
#   Without a model, one is trained for one short epoch on the corpus's Bach folder (about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD:-build}}
MODEL=${2:-}
PY=/usr/bin/python3
CORPUS=${ETUDE_CORPUS:-../shared/corpora/piano-midi}
export OPENBLAS_CORETYPE=SkylakeX
[[ -x "$BUILD/etude" ]] || { echo "compose_vs_torch: no $BUILD/etude; run make build first" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -z "$MODEL" ]]; then
  echo "compose_vs_torch: training a default-preset model on $CORPUS/Bach (one short epoch)" >&2
  "$BUILD/etude" train "$CORPUS/Bach" --out "$tmp/run" --tokenizer events --preset default --epochs 1 \
    --batch 8 --seq 64 --val-fraction 0.34 --threads 2 >/dev/null
  MODEL="$tmp/run/best.safetensors"
fi

compose_ms() {  # compose_ms THREADS PRECISION
  "$BUILD/etude" compose --model "$MODEL" --length 500 --threads "$1" --precision "$2" --out "$tmp/x.mid" \
    --report "$tmp/r.json" >/dev/null
  $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["compose_ms"])' "$tmp/r.json"
}
load_before=$(cut -d' ' -f1 /proc/loadavg)
etude_ms=() bf16_ms=() torch_json=()
for round in 1 2 3; do
  for t in 1 2; do etude_ms+=("$(compose_ms "$t" f32)"); done
  bf16_ms+=("$(compose_ms 2 bf16)")
  for t in 1 2; do torch_json+=("$($PY bench/compose_torch.py "$MODEL" --etude "$BUILD/etude" --threads "$t")"); done
done

$PY - "$MODEL" "${etude_ms[*]}" "${bf16_ms[*]}" "$load_before" "${torch_json[@]}" <<'PY'
import json, sys
model, etude_ms, bf16_ms = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
load_before, rows = sys.argv[4], [json.loads(r) for r in sys.argv[5:]]
best_etude = min(etude_ms) / 1e3
best_torch = min(r["seconds"] for r in rows)
diff = max(r["max_abs_logit_diff_vs_etude"] for r in rows)
print(f"model: {model}")
print(f"same model check: max |logit(etude) - logit(torch)| = {diff:.2e}")
print(f"etude compose, 500 tokens (sampling, grammar mask, decode): best {best_etude * 1e3:.0f} ms "
      f"(all runs: {', '.join(f'{x:.0f}' for x in etude_ms)} ms)")
print(f"torch stepping, 500 tokens (top-p sampling, no mask):        best {best_torch * 1e3:.0f} ms "
      f"(threads 1/2 alternating: {', '.join('%.0f' % (r['seconds'] * 1e3) for r in rows)} ms)")
ratio = best_torch / best_etude
print(f"ratio torch/etude: {ratio:.1f}x (target >= 3x): {'PASS' if ratio >= 3 else 'BELOW TARGET'}")
print(f"etude compose --precision bf16 (weights rounded once; not the default): best {min(bf16_ms):.0f} ms "
      f"(runs: {', '.join(f'{x:.0f}' for x in bf16_ms)} ms), ratio {best_torch / (min(bf16_ms) / 1e3):.1f}x")
print(f"load average (2 cores): {load_before} before, {open('/proc/loadavg').read().split()[0]} after")
print(f"well under a second: {'yes' if best_etude < 0.5 else 'no'} ({best_etude:.2f} s)")
PY
