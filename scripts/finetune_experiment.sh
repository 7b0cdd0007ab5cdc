#!/usr/bin/env bash
# The fine-tuning experiment of the README ("Fine-tuning your own style"): hold one composer out of
# a base run, fine-tune the base on 8 of the composer's pieces for 3 minutes on 2 threads, train the
# same budget from scratch on the same 8 pieces, and judge 20 pieces of each against the composer's
# other pieces. Usage: scripts/finetune_experiment.sh [COMPOSER] [WORK] [BASE_MINUTES]
# (defaults: Grieg, /tmp/etude-ft-experiment, 85). An unfinished WORK/base run is resumed.
set -euo pipefail
COMPOSER=${1:-Grieg}
WORK=${2:-/tmp/etude-ft-experiment}
BASE_MINUTES=${3:-85}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ETUDE=${ETUDE_BIN:-$ROOT/build/etude}
CORPUS=${ETUDE_CORPUS:-$ROOT/../shared/corpora/piano-midi}
mkdir -p "$WORK"
# The data, copied out of the corpus into WORK (never into the project): every other composer for
# the base; the composer's files alternately into 8 to fine-tune on and the rest held out.
if [ ! -d "$WORK/base-data" ]; then
  mkdir -p "$WORK/base-data" "$WORK/tune/$COMPOSER" "$WORK/held/$COMPOSER"
  for d in "$CORPUS"/*/; do
    name=$(basename "$d")
    [ "$name" = "$COMPOSER" ] || cp -r "$d" "$WORK/base-data/$name"
  done
  i=0
  for f in "$CORPUS/$COMPOSER"/*.mid; do
    if [ $((i % 2)) = 0 ] && [ "$(ls "$WORK/tune/$COMPOSER" | wc -l)" -lt 8 ]; then cp "$f" "$WORK/tune/$COMPOSER/"
    else cp "$f" "$WORK/held/$COMPOSER/"; fi
    i=$((i + 1))
  done
fi
# The base: BASE=FILE uses a model trained elsewhere without the composer; else WORK/base is trained
# (or resumed) on base-data.
BASE=${BASE:-$WORK/base/best.safetensors}
if [ "$BASE" = "$WORK/base/best.safetensors" ] && [ ! -f "$WORK/base/summary.json" ]; then
  resume=(); [ -f "$WORK/base/state.safetensors" ] && resume=(--resume)
  "$ETUDE" train "$WORK/base-data" --out "$WORK/base" --preset small --threads 2 --patience 0 \
    --checkpoint-every 2 --max-minutes "$BASE_MINUTES" "${resume[@]}"
fi
for run in ft scratch; do
  rm -rf "$WORK/$run"
  if [ $run = ft ]; then args=(--from "$BASE"); else args=(--preset small); fi
  "$ETUDE" train "$WORK/tune" --out "$WORK/$run" --threads 2 --patience 0 --checkpoint-every 1 --max-minutes 3 "${args[@]}"
  rm -rf "$WORK/pieces-$run"; mkdir -p "$WORK/pieces-$run"
  style=(); [ $run = ft ] && style=(--style "$COMPOSER")
  "$ETUDE" compose --model "$WORK/$run/best.safetensors" "${style[@]}" --count 20 --seed 1 --threads 2 \
    --out "$WORK/pieces-$run/piece.mid" > /dev/null
  # The reference: the held-out half of the composer's remaining pieces; the ceiling: the other half.
  echo "== $run: $COMPOSER pieces against $COMPOSER's pieces that neither run saw"
  "$ETUDE" judge "$WORK/pieces-$run"/*.mid --against "$WORK/held/$COMPOSER" --val-fraction 0.5 --threads 2
done
