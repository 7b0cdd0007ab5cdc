#!/usr/bin/env bash
# `make demo`: composes one piece in the default style (chopin, shipped in models/) and writes
# MIDI, WAV and a score (PDF and PNG) into out/, then prints where they are and the originality
# summary. `make demo` installs what is missing and builds first; run alone, this builds if needed.
# Usage: scripts/demo.sh [BUILD_DIR] [STYLE] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
STYLE=${2:-chopin}
SEED=${3:-$(( $(date +%s) % 10000 ))}
[ -x "$BUILD/etude" ] || make build BUILD="$BUILD"
mkdir -p out
start=$(date +%s.%N)
"$BUILD/etude" compose --style "$STYLE" --models models --seed "$SEED" --out "out/demo-$STYLE.mid" \
  --wav "out/demo-$STYLE.wav" --score "out/demo-$STYLE.pdf" --report "out/demo-$STYLE.json" --threads 1
# The same seed composes the same piece again: engrave its first page as a PNG too.
"$BUILD/etude" compose --style "$STYLE" --models models --seed "$SEED" --out "out/.demo-$STYLE-png.mid" \
  --score "out/demo-$STYLE.png" --threads 1 >/dev/null && rm -f "out/.demo-$STYLE-png.mid"
end=$(date +%s.%N)
echo
echo "Composed in the style '$STYLE' (seed $SEED) in $(printf '%.1f' "$(echo "$end - $start" | bc)") s:"
for f in "out/demo-$STYLE".{mid,wav,pdf,png,json}; do [ -f "$f" ] && echo "  $f"; done
/usr/bin/python3 - "out/demo-$STYLE.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["pieces"][0]
c = p["copying"] or {}
print(f"Originality: {p['notes']} notes, {p['seconds']:.0f} s, {p['key']['name']}; longest run copied from one "
      f"training piece: {c.get('longest_copied_run', '?')} notes"
      + (f" ({c['longest_copied_piece']})" if c.get("longest_copied_piece") else "")
      + f"; {c.get('copied_ngram_share', 0) * 100:.0f}% of its 8-note runs occur in the training pieces; "
      f"longest repeated token: {p['longest_repeated_token']['length']} in a row.")
PY
echo "Listen: out/demo-$STYLE.wav  Read: out/demo-$STYLE.pdf  Other styles: $BUILD/etude styles"
