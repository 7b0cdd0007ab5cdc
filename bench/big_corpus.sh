#!/usr/bin/env bash
# A corpus far larger than a small machine's taste (issue 18): generates FILES small MIDI files
# (bench/make_big_corpus.py, four style folders; into a temporary folder, never the repository),
# then measures with /usr/bin/time -v the peak resident memory and wall time of
#   1. `etude corpus` building the sharded cache (cold: no cache),
#   2. `etude corpus` reusing it (warm),
#   3. `etude train --epochs 1` on it (a tiny network: the data path is measured, not the model),
# and prints files, MIDI bytes, cache bytes, tokens, build time, tokens/s and the peaks. Not a test:
# it takes minutes (100,000 files: ~2 min to generate, ~15 s to build, ~5 min to train one epoch
# on one core). Goal: every peak under 2 GiB.
# Usage: bench/big_corpus.sh [FILES [NOTES [THREADS]]]  (ETUDE_BIN: the binary, default build/etude;
# KEEP=DIR keeps the corpus and cache in DIR and reuses a corpus already generated there)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100000}
notes=${2:-120}
threads=${3:-1}
bin=$(realpath "${ETUDE_BIN:-build/etude}")
if [[ -n "${KEEP:-}" ]]; then
  work=$KEEP
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
corpus=$work/corpus
cache=$work/cache/corpus.bin
export XDG_CACHE_HOME=$work/cache-home  # training's cache and scratch files stay in $work
if [[ ! -f "$corpus/.complete-$files-$notes" ]]; then
  rm -rf "$corpus"
  t0=$(date +%s.%N)
  /usr/bin/python3 bench/make_big_corpus.py "$corpus" "$files" "$notes"
  touch "$corpus/.complete-$files-$notes"
  printf 'generated %d files in %.0f s\n' "$files" "$(echo "$(date +%s.%N) - $t0" | bc -l)"
fi

peak() { awk -F': ' '/Maximum resident set size/ {printf "%.0f MiB", $2 / 1024}' "$1"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$1"; }
timed() {  # timed NAME COMMAND...: runs it under /usr/bin/time -v; its output in $work/NAME.out
  local name=$1
  shift
  if ! /usr/bin/time -v "$@" >"$work/$name.out" 2>"$work/$name.time"; then
    echo "$name failed:" >&2
    tail -5 "$work/$name.out" "$work/$name.time" >&2
    exit 1
  fi
}

rm -rf "$work/cache" "$work/cache-home" "$work/run"
timed corpus_cold "$bin" corpus "$corpus" --tokenizer beats --threads 0 --out "$cache"
timed corpus_warm "$bin" corpus "$corpus" --tokenizer beats --threads 0 --out "$cache"
grep -q "(built)" "$work/corpus_cold.out" && grep -q "(reused)" "$work/corpus_warm.out"
# Training reads its own cache (the default place, under XDG_CACHE_HOME): built first, untimed.
"$bin" corpus "$corpus" --tokenizer beats --threads 0 >/dev/null
cat >"$work/tiny.json" <<'EOF'
{"input": {"type": "embedding", "dim": 32}, "layers": [{"type": "lstm", "units": 64},
 {"type": "dense", "units": "vocab"}], "mode": "seq2seq", "window": 64, "batch": 64}
EOF
timed train "$bin" train "$corpus" --config "$work/tiny.json" --epochs 1 --threads "$threads" --device cpu \
  --out "$work/run"

midi_bytes=$(find "$corpus/" -name '*.mid' -printf '%s\n' | awk '{s += $1} END {print s}')
cache_bytes=$(du -cb "$cache"* | tail -1 | cut -f1)
shards=$(ls "$cache".shard-* | wc -l)
tps=$(awk -F, 'NR == 2 {print $9}' "$work/run/history.csv")
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E "^(files|train|validation|n-grams):" "$work/corpus_cold.out"
echo "MIDI bytes:    $midi_bytes"
echo "cache:         $cache_bytes bytes in $shards shards + manifest"
echo "corpus cold:   $(wall "$work/corpus_cold.time") wall, peak $(peak "$work/corpus_cold.time")"
echo "corpus warm:   $(wall "$work/corpus_warm.time") wall, peak $(peak "$work/corpus_warm.time")"
echo "train 1 epoch: $(wall "$work/train.time") wall, peak $(peak "$work/train.time"), ${tps} tokens/s ($threads thread(s))"
