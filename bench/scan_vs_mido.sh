#!/usr/bin/env bash
# Benchmark (not a test): `etude scan` over the whole shared corpus against the equivalent mido
# script (bench/scan_vs_mido.py, all cores) in the same run; prints both times and the ratio (goal >= 50x).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/scan_vs_mido.py "${ETUDE_BIN:-build/etude}" "${ETUDE_CORPUS:-../shared/corpora/piano-midi}"
