#!/usr/bin/env bash
# Benchmark (not a test): what the training loop of `etude train` keeps of the raw training-step
# speed. One epoch of PRESET (default: `default`) on the Chopin folder of the shared corpus, against
# `etude bench train` (random tokens, same preset, batch, window and threads). Prints tokens/s of
# both, seconds per epoch and the ratio loop/raw; goal: ratio >= 0.9 (batching, augmentation,
# accuracy and the state file cost little next to the LSTM). Usage: train_throughput.sh [PRESET [THREADS]]
set -euo pipefail
cd "$(dirname "$0")/.."
ETUDE="${ETUDE_BIN:-build/etude}"
CORPUS="${ETUDE_CORPUS:-../shared/corpora/piano-midi}"
PRESET="${1:-default}"
THREADS="${2:-0}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SkylakeX}" XDG_CACHE_HOME="$TMP/cache"

"$ETUDE" train "$CORPUS/Chopin" --out "$TMP/run" --preset "$PRESET" --epochs 1 --threads "$THREADS" >"$TMP/train.txt"
# history.csv columns: ... seconds (8), tokens_per_second (9)
read -r epoch_s loop_tps < <(tail -1 "$TMP/run/history.csv" | awk -F, '{print $8, $9}')
vocab=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['corpus']['vocab'])" "$TMP/run/summary.json")
raw_tps=$("$ETUDE" bench train --preset "$PRESET" --vocab "$vocab" --threads "$THREADS" --steps 5 --json |
  /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['tokens_per_second'])")
echo "preset $PRESET, threads $THREADS, Chopin (vocab $vocab): $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf 'train loop: %.0f tokens/s, %.1f s per epoch (validation included)\n' "$loop_tps" "$epoch_s"
printf 'raw steps:  %.0f tokens/s (etude bench train)\n' "$raw_tps"
printf 'ratio loop/raw: %.2f (goal >= 0.9)\n' "$(echo "$loop_tps / $raw_tps" | bc -l)"
