#!/usr/bin/env bash
# Trains the models shipped in models/ (one run folder per model under RUNS), one after another,
# with the settings recorded in each model card. Usage:
#   scripts/train_models.sh [ETUDE_BIN] [CORPUS] [RUNS] [NAME...]   (default: all-composers, then piano)
# all-composers: from scratch on every folder of the piano-midi corpus (CORPUS) as one style-less
#   model, then picked and exported by scripts/export_models.py. THREADS (default 2, as the
#   shipped run) sets --threads: a run is deterministic for a given thread count, so the card names
#   it. Every epoch is a checkpoint; an epoch cut by the time limit is marked partial in history.csv
#   and never shipped, so `--epochs N` (no time limit) reproduces a shipped epoch N exactly (the
#   card's command).
# piano: the style-conditioned base model, fine-tuned (--from) from models/all-composers.safetensors
#   on the piano-midi corpus and POP909 (POP909, default: CORPUS/../pop909) together, every composer
#   folder and Pop a style row: the card's "reproduce" command (no time limit: the shipped run was
#   stopped when its session's time ran out, which saves the epoch in progress as a partial one; PIANO_MINUTES, if set, adds
#   --max-minutes; `--resume` continues a run). Its card is written by hand and stored with
#   `etude export` (models/README.md, "How these were made").
set -euo pipefail
ETUDE=${1:-build/etude}
CORPUS=${2:-${ETUDE_CORPUS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/corpora/piano-midi}}
RUNS=${3:-out/model-runs}
POP909=${POP909:-$(dirname "$CORPUS")/pop909}
MODELS=${MODELS:-$(dirname "$0")/../models}
shift $(( $# < 3 ? $# : 3 ))
NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=(all-composers piano)

mkdir -p "$RUNS"
for name in "${NAMES[@]}"; do
  case $name in
    all-composers)
      cmd=("$ETUDE" train "$CORPUS" --out "$RUNS/$name" --preset small --threads "${THREADS:-2}"
           --checkpoint-every 1 --seed 1 --epochs 200 --max-minutes 55) ;;
    piano)
      [ -d "$POP909" ] || { echo "piano needs the POP909 corpus: no $POP909 (set POP909)" >&2; exit 1; }
      cmd=("$ETUDE" train "$CORPUS" "$POP909" --out "$RUNS/$name" --from "$MODELS/all-composers.safetensors"
           --threads 2 --checkpoint-every 2 --patience 0 ${PIANO_MINUTES:+--max-minutes "$PIANO_MINUTES"}) ;;
    *) echo "unknown model $name (all-composers, piano)" >&2; exit 1 ;;
  esac
  echo "== $name: ${cmd[*]}  ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
  "${cmd[@]}"
  echo "== $name done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
done
