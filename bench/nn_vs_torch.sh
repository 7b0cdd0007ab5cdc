#!/usr/bin/env bash
# Issue 4's speed benchmark: `etude bench` against the same model shapes in PyTorch, 2 threads
# each, same machine, same run; prints tokens/s, the ratios against the targets and the share of
# the measured sgemm peak. Usage: bench/nn_vs_torch.sh [BUILD_DIR] [generate]   (default: build;
# `generate`: only the generation rows, three interleaved rounds). BUILD_DIR may also be a folder
# holding saved etude and nn_lstm_kernel_bench binaries (a before/after comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD:-build}}
ONLY=${2:-}
PY=/usr/bin/python3
export OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
# Both engines use libgomp. On a shared 2-core machine a spinning OpenMP worker takes the core
# its descheduled partner needs, and the oneDNN LSTM has barriers at every time step: measured
# under load, passive waiting made etude's `default` step 2-3x faster. Same setting for both.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
[[ -x "$BUILD/etude" ]] || { echo "nn_vs_torch: no $BUILD/etude; run make build first" >&2; exit 2; }
# A build tree gets its kernel bench (re)built; a folder of saved binaries (an earlier build, for a
# before/after comparison in one session) is used as it is.
if [[ -f "$BUILD/CMakeCache.txt" ]]; then cmake --build "$BUILD" --target nn_lstm_kernel_bench -j2 >/dev/null; fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Interleaved, so that a busy neighbour slows both engines alike.
run() { echo "nn_vs_torch: $*" >&2; "$@" | tail -n 1 | tee -a "$out" >&2; }
run "$BUILD/nn_lstm_kernel_bench" --sgemm
run $PY bench/nn_torch.py sgemm
if [[ "$ONLY" != generate ]]; then
  run "$BUILD/etude" bench train --preset default --vocab 388 --threads 2 --json
  run $PY bench/nn_torch.py train default --vocab 388 --steps "${TORCH_STEPS:-3}"
  run "$BUILD/etude" bench train --preset seed-voc --vocab 358 --threads 2 --json
  run $PY bench/nn_torch.py train seed-voc --vocab 358 --steps "${TORCH_STEPS:-3}"
fi
for round in $(seq "$([[ "$ONLY" == generate ]] && echo 3 || echo 1)"); do
  run "$BUILD/etude" bench generate --preset default --tokens 500 --json
  run "$BUILD/etude" bench generate --preset default --tokens 500 --precision bf16 --json
  run $PY bench/nn_torch.py generate --tokens 500
done

$PY - "$out" "$ONLY" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
sgemm = [r for r in rows if r.get("bench") == "sgemm" or r.get("what") == "sgemm"]
peak = max(v for r in sgemm for k, v in r.items() if k.endswith("_gflops"))
etude = [r for r in rows if "engine" not in r and "bench" not in r]
torch = [r for r in rows if r.get("engine") == "torch" and r.get("what") in ("train", "generate")]

def lstm_fwd(T, B, I, H):  # FLOPs of one LSTM layer's forward: 2*T*B*(I+H)*4H
    return 2.0 * T * B * (I + H) * 4 * H
def dense_fwd(T, B, I, O):
    return 2.0 * T * B * I * O
# Per training step, 3x forward (forward, data gradients, weight gradients).
FLOP = {
    "default": 3 * (lstm_fwd(128, 64, 256, 512) + lstm_fwd(128, 64, 512, 512) + dense_fwd(128, 64, 512, 388)),
    "seed-voc": 3 * (lstm_fwd(100, 64, 1, 512) + lstm_fwd(100, 64, 512, 256)
                     + dense_fwd(1, 64, 256, 128) + dense_fwd(1, 64, 128, 358)),
}
GEN_FLOP = lstm_fwd(1, 1, 256, 512) + lstm_fwd(1, 1, 512, 512) + dense_fwd(1, 1, 512, 388)
TARGET = {"default": 4.0, "seed-voc": 3.0, "generate": 3.0, "generate-bf16": 3.0}

print(f"\nload average before the summary: {open('/proc/loadavg').read().split()[0]} (2 cores; above ~0.5 the numbers are noisy)")
print(f"sgemm peak (best of OpenBLAS, oneDNN, numpy, torch; 2048^3, 2 threads): {peak:.0f} GFLOP/s")
print(f"{'benchmark':<27}{'etude tok/s':>13}{'torch tok/s':>13}{'ratio':>8}{'target':>8}{'etude GFLOP/s':>15}{'of peak':>9}")
failed = 0
for name in ("generate", "generate-bf16") if sys.argv[2] == "generate" else ("default", "seed-voc", "generate", "generate-bf16"):
    if name.startswith("generate"):
        want = "bf16" if name == "generate-bf16" else "f32"
        # the best of the rounds of each engine
        e = max((r for r in etude if "tokens" in r and "steps" not in r and r.get("precision") == want),
                key=lambda r: r["tokens_per_second"], default=None)
        t = max((r for r in torch if r["what"] == "generate"), key=lambda r: r["tokens_per_second"], default=None)
    else:
        e = next((r for r in etude if r.get("preset") == name and "steps" in r), None)
        t = next((r for r in torch if r["what"] == "train" and r["preset"] == name), None)
    if not e or not t:
        print(f"{name:<27}missing result (etude: {bool(e)}, torch: {bool(t)})")
        failed += 1
        continue
    if name.startswith("generate"):
        ratio = e["tokens_per_second"] / t["tokens_per_second"]
        gflops = GEN_FLOP * e["tokens_per_second"] / 1e9
        label = "generate default x500" + (" bf16" if name == "generate-bf16" else "")
    else:
        if (e["batch"], e["seq"]) != (t["batch"], t["seq"]):
            print(f"{name}: shapes differ: etude B={e['batch']} T={e['seq']}, torch B={t['batch']} T={t['seq']}")
        e_ms = e.get("ms_per_step_median", e["ms_per_step"])
        ratio = t["ms_per_step"] / e_ms  # medians, same batch and window: unit-free
        gflops = FLOP[name] / (e_ms / 1e3) / 1e9
        per_step = e["batch"] * (e["seq"] if name == "default" else 1)
        e = dict(e, tokens_per_second=per_step / (e_ms / 1e3))
        label = f"train {name}"
    ok = ratio >= TARGET[name]
    failed += not ok
    print(f"{label:<27}{e['tokens_per_second']:>13,.0f}{t['tokens_per_second']:>13,.0f}{ratio:>7.2f}x"
          f"{TARGET[name]:>7.0f}x{gflops:>15.1f}{100 * gflops / peak:>8.1f}%  {'ok' if ok else 'BELOW TARGET'}")
print("(seed-voc tok/s are predictions/s: one per window; ratios compare ms per step at equal shapes)")
sys.exit(1 if failed else 0)
PY
