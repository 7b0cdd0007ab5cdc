#!/usr/bin/env bash
# Benchmark (not a test): training speed on the GPU against the CPU engine, in one run on one
# machine. `etude bench train` on `default` (vocab 388) and `seed-voc` (vocab 358) with --device cpu,
# --device cuda (f32) and --device cuda --precision f16; prints predictions/s (tokens for seq2seq
# `default`, windows for seq2one `seed-voc`), the GPU/CPU ratio on this machine, the ratio against
# the 2-core development machine's CPU engine (default 8072 and seed-voc 141 predictions/s, measured
# at these vocabularies by bench/nn_vs_torch.sh in the issue-4 session; override with CPU2_DEFAULT /
# CPU2_SEED_VOC) and the share of the GPU's dense peak. Goal: `default` on the GPU >= 50x the 2-core
# CPU. Without a usable GPU it says why and exits 0 (no numbers are made up).
# Usage: gpu_vs_cpu.sh [STEPS]   (env ETUDE_BIN)
set -euo pipefail
cd "$(dirname "$0")/.."
ETUDE="${ETUDE_BIN:-build/etude}"
STEPS="${1:-20}"
# Debian's OpenBLAS picks slow kernels on Zen 4/5 unless told; only where the CPU has AVX-512.
if grep -q avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SkylakeX}"; fi
PY=python3  # the standard library only

devices="$("$ETUDE" devices --json)"
usable="$($PY -c 'import json,sys; c = json.load(sys.stdin)["cuda"]; print(c["usable"], c["why"])' <<<"$devices")"
if [[ $usable != True* ]]; then
  echo "gpu_vs_cpu: no GPU benchmark here: ${usable#False }"
  exit 0
fi
echo "$("$ETUDE" devices); CPU: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

declare -A CPU2=([default]="${CPU2_DEFAULT:-8072}" [seed-voc]="${CPU2_SEED_VOC:-141}")
declare -A VOCAB=([default]=388 [seed-voc]=358)
for preset in default seed-voc; do
  v=${VOCAB[$preset]}
  cpu=$("$ETUDE" bench train --preset "$preset" --vocab "$v" --device cpu --steps 3 --json)
  f32=$("$ETUDE" bench train --preset "$preset" --vocab "$v" --device cuda --steps "$STEPS" --json)
  f16=$("$ETUDE" bench train --preset "$preset" --vocab "$v" --device cuda --precision f16 --steps "$STEPS" --json)
  $PY - "$preset" "${CPU2[$preset]}" "$cpu" "$f32" "$f16" <<'EOF'
import json, sys
preset, cpu2 = sys.argv[1], float(sys.argv[2])
cpu, f32, f16 = (json.loads(a) for a in sys.argv[3:6])
print(f"{preset}: batch {cpu['batch']} x seq {cpu['seq']}, {cpu['parameters']} parameters, "
      f"{cpu['flops_per_token'] / 1e6:.1f} MFLOP per token (training, 6 x MACs)")
print(f"  cpu ({cpu['threads']} threads) f32: {cpu['predictions_per_second']:10.0f} predictions/s, {cpu['gflops']:.0f} GFLOP/s")
for name, j in (("cuda f32", f32), ("cuda f16", f16)):
    share = f", {100 * j['peak_share']:.1f}% of the {j['peak_tflops']:.0f} TFLOP/s peak" if "peak_share" in j \
        else f" (sm {j['gpu']['sm']}: peak unknown)"
    pps = j["predictions_per_second"]
    print(f"  {name}: {pps:10.0f} predictions/s, {j['gflops']:.0f} GFLOP/s{share}; "
          f"x{pps / cpu['predictions_per_second']:.1f} this machine's CPU, x{pps / cpu2:.1f} the 2-core CPU ({cpu2:.0f}/s)"
          f"; loss {j['first_loss']:.3f} -> {j['last_loss']:.3f}")
if preset == "default":
    best = max(f32["predictions_per_second"], f16["predictions_per_second"]) / cpu2
    print(f"  goal: default on the GPU >= 50x the 2-core CPU: x{best:.1f} ({'met' if best >= 50 else 'NOT met'})")
EOF
done
