#!/usr/bin/env bash
# Trains the style models shipped in models/ (one run folder per style under RUNS), one after
# another, with the settings recorded in each model card. Usage:
#   scripts/train_models.sh [ETUDE_BIN] [CORPUS] [RUNS] [NAME...]   (default: every style below)
# THREADS (default 1) sets --threads: a run is deterministic for a given thread count, so the cards
# name it; on a busy shared machine one thread per run also loses nothing to OpenMP barriers.
# Every epoch is a checkpoint; an epoch cut by the time limit is marked partial in history.csv and
# never shipped, so `--epochs N` (no time limit) reproduces a shipped epoch N exactly.
# The minutes are those of the runs the shipped models come from (two lanes of one thread each);
# the card of each model holds its exact command (`--epochs N`), which needs no time limit.
set -euo pipefail
ETUDE=${1:-build/etude}
CORPUS=${2:-${ETUDE_CORPUS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/corpora/piano-midi}}
RUNS=${3:-out/model-runs}
shift $(( $# < 3 ? $# : 3 ))
NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=(chopin mozart beethoven schubert all-composers)

# name -> corpus subfolder ("" = the whole corpus, each composer folder a style), preset, minutes
declare -A FOLDER=([chopin]=Chopin [mozart]=Mozart [beethoven]=Beethoven [schubert]=Schubert [all-composers]="")
declare -A PRESET=([chopin]=small [mozart]=small [beethoven]=small [schubert]=small [all-composers]=small)
declare -A MINUTES=([chopin]=14 [mozart]=14 [beethoven]=21 [schubert]=21 [all-composers]=55)

mkdir -p "$RUNS"
for name in "${NAMES[@]}"; do
  [ -n "${PRESET[$name]+x}" ] || { echo "unknown style $name" >&2; exit 1; }
  dir="$CORPUS/${FOLDER[$name]}"
  cmd=("$ETUDE" train "${dir%/}" --out "$RUNS/$name" --preset "${PRESET[$name]}" --threads "${THREADS:-1}"
       --checkpoint-every 1 --seed 1 --epochs 200 --max-minutes "${MINUTES[$name]}")
  echo "== $name: ${cmd[*]}  ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
  "${cmd[@]}"
  echo "== $name done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
done
