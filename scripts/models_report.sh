#!/usr/bin/env bash
# Composes 20 pieces per shipped model at default settings (seeds 1..20, 500 tokens, temperature 1,
# top-p 0.95) with --report, and aggregates the originality reports: the distribution of the
# longest verbatim copy from the training pieces and of the longest repeated-token run. A model
# with style rows (piano) is composed once per row named in ROWS that it has, each row apart.
# Usage: scripts/models_report.sh [ETUDE_BIN] [MODELS] [OUT]  -> OUT/NAME.json (OUT/NAME.ROW.json),
# OUT/summary.json, and a Markdown table on stdout (the one in models/README.md).
set -euo pipefail
ETUDE=${1:-build/etude}
MODELS=${2:-models}
OUT=${3:-out/models-report}
SEEDS=${SEEDS:-20}
ROWS=${ROWS:-Chopin Mozart Beethoven Schubert Pop}
mkdir -p "$OUT"
"$ETUDE" styles --models "$MODELS" --json >"$OUT/styles.json"
: >"$OUT/entries.txt"  # LABEL FILE, one a line, in the table's order
for model in "$MODELS"/*.safetensors; do
  name=$(basename "$model" .safetensors)
  rows=$(/usr/bin/python3 -c 'import json, sys
have = next(s["styles"] for s in json.load(open(sys.argv[1])) if s["name"] == sys.argv[2])
print(" ".join(r for r in sys.argv[3].split() if r in have))' "$OUT/styles.json" "$name" "$ROWS")
  if [[ -z "$rows" ]]; then
    "$ETUDE" compose --model "$model" --out "$OUT/$name.mid" --count "$SEEDS" --seed 1 --threads "${THREADS:-1}" \
      --report "$OUT/$name.json" >/dev/null
    echo "$name $name.json" >>"$OUT/entries.txt"
  fi
  for row in $rows; do
    "$ETUDE" compose --model "$model" --style "$row" --out "$OUT/$name.$row.mid" --count "$SEEDS" --seed 1 \
      --threads "${THREADS:-1}" --report "$OUT/$name.$row.json" >/dev/null
    echo "$name/$row $name.$row.json" >>"$OUT/entries.txt"
  done
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, os, statistics as st, sys
out = sys.argv[1]
summary = {}
print("| style | pieces | notes (median) | longest copy, notes: min / median / mean / max | pieces with a copy > 16 notes "
      "| copied 8-note share (mean) | longest repeated token: median / mean / max | repairs |")
print("|---|---|---|---|---|---|---|---|")
for line in open(os.path.join(out, "entries.txt")):
    name, report = line.split()
    pieces = json.load(open(os.path.join(out, report)))["pieces"]
    copy = [p["copying"]["longest_copied_run"] for p in pieces]
    rep = [p["longest_repeated_token"]["length"] for p in pieces]
    share = [p["copying"]["copied_ngram_share"] for p in pieces]
    s = {"pieces": len(pieces), "seeds": f"{pieces[0]['seed']}..{pieces[-1]['seed']}",
         "settings": "500 tokens, temperature 1, top-p 0.95 (compose defaults)",
         "notes_median": st.median(p["notes"] for p in pieces),
         "longest_copy": {"min": min(copy), "median": st.median(copy), "mean": round(st.mean(copy), 2), "max": max(copy),
                          "over_16": sum(c > 16 for c in copy), "values": copy},
         "copied_ngram_share_mean": round(st.mean(share), 4),
         "longest_repeat": {"median": st.median(rep), "mean": round(st.mean(rep), 2), "max": max(rep), "values": rep},
         "repairs": sum(p["repairs"] for p in pieces)}
    summary[name] = s
    c, r = s["longest_copy"], s["longest_repeat"]
    print(f"| {name} | {s['pieces']} | {s['notes_median']:g} | {c['min']} / {c['median']:g} / {c['mean']:.1f} / {c['max']} "
          f"| {c['over_16']} | {s['copied_ngram_share_mean'] * 100:.1f}% | {r['median']:g} / {r['mean']:.1f} / {r['max']} "
          f"| {s['repairs']} |")
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=2)
PY
