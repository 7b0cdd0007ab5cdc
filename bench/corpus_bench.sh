#!/usr/bin/env bash
# Benchmark (not a test): `etude corpus` building the `events` corpus of the whole shared corpus,
# cold (no corpus cache: parse + tokenize + index + write) and warm (cache reused). Median of 3
# runs each, wall seconds; goals: cold a few seconds at most on 2 cores, warm well under one.
# "Cold" means no corpus cache; the MIDI files themselves may sit in the OS page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
ETUDE="${ETUDE_BIN:-build/etude}"
CORPUS="${ETUDE_CORPUS:-../shared/corpora/piano-midi}"
TOKENIZER="${1:-events}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
CACHE="$TMP/corpus.bin"

wall() {  # prints the wall seconds of one `etude corpus` run
  local t0 t1
  t0=$(date +%s.%N)
  "$ETUDE" corpus "$CORPUS" --tokenizer "$TOKENIZER" --out "$CACHE" >"$TMP/out.txt"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

cold=() warm=()
for i in 1 2 3; do
  rm -f "$CACHE"
  cold+=("$(wall)")
  grep -q "(built)" "$TMP/out.txt" || { echo "cold run reused a cache" >&2; exit 1; }
done
for i in 1 2 3; do
  warm+=("$(wall)")
  grep -q "(reused)" "$TMP/out.txt" || { echo "warm run did not reuse the cache" >&2; exit 1; }
done
c=$(median "${cold[@]}")
w=$(median "${warm[@]}")
grep -E "^(files|train|validation|tokenizer):" "$TMP/out.txt"
printf 'corpus %s, %s cores: cold %.3f s, warm %.3f s (median of 3), cold/warm %.1fx, cache %s bytes\n' \
  "$TOKENIZER" "$(nproc)" "$c" "$w" "$(echo "$c / $w" | bc -l)" "$(stat -c %s "$CACHE")"
