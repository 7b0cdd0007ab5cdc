#!/usr/bin/env bash
# `make demo`: composes one piece in the default style (chopin: the Chopin row of the base model
# shipped in models/, piano.safetensors) and writes MIDI, WAV and a score (PDF and PNG) into out/,
# then prints where they are and the originality summary. `make demo` installs what is missing and
# builds first; run alone, this builds if needed.
# Usage: scripts/demo.sh [BUILD_DIR] [STYLE] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
STYLE=${2:-chopin}
SEED=${3:-$(( $(date +%s) % 10000 ))}
[ -x "$BUILD/etude" ] || make build BUILD="$BUILD"
mkdir -p out
start=$(date +%s.%N)
echo "Composing in the style '$STYLE' (seed $SEED); the line below is the originality summary:"
"$BUILD/etude" compose --style "$STYLE" --models models --seed "$SEED" --out "out/demo-$STYLE.mid" \
  --wav "out/demo-$STYLE.wav" --score "out/demo-$STYLE.pdf" --report "out/demo-$STYLE.json" --threads 1
# A PNG of the score's first page, from the PDF through Ghostscript (installed with LilyPond).
gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=pnggray -r100 -dFirstPage=1 -dLastPage=1 \
  -sOutputFile="out/demo-$STYLE.png" "out/demo-$STYLE.pdf" 2>/dev/null || echo "(no PNG: Ghostscript missing)"
end=$(date +%s.%N)
echo
echo "Composed and rendered in $(printf '%.1f' "$(echo "$end - $start" | bc)") s:"
for f in "out/demo-$STYLE".{mid,wav,pdf,png,json}; do [ -f "$f" ] && echo "  $f"; done
echo "(the .json is the full originality report: longest copy from a training piece, repeats, key, range)"
echo "Listen: out/demo-$STYLE.wav  Read: out/demo-$STYLE.pdf  Other styles: $BUILD/etude styles"
