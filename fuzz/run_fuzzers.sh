#!/usr/bin/env bash
# Runs every fuzz target of build-fuzz/ one after another (one worker each) for FUZZ_SECONDS
# (default 60) apiece, from the seeds make_fuzz_seeds wrote to fuzz-out/seeds/<target>/ (the MIDI
# reader's from fuzz/seeds/) and the corpus each target grew before; crashes go to
# fuzz-out/crashes/. Prints one line per target: executions, seconds, executions per second.
# Usage: fuzz/run_fuzzers.sh [TARGET...]   (default: all); exit 1 when a target found a crash.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
# ASan's default 256 MB quarantine makes these small inputs fault in fresh pages on every run
# (measured: the MIDI target runs 1.5x faster at 64 MB, ClusterFuzz's fuzzing setting).
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(fuzz_midi_reader fuzz_tokenizers fuzz_model_file fuzz_ngram_index fuzz_corpus_cache fuzz_serve)
declare -A max_len=([fuzz_midi_reader]=4096 [fuzz_tokenizers]=2048 [fuzz_model_file]=65536 [fuzz_ngram_index]=8192
                    [fuzz_corpus_cache]=16384 [fuzz_serve]=16384)
declare -A dict=([fuzz_midi_reader]=fuzz/midi.dict [fuzz_model_file]=fuzz/model_file.dict [fuzz_serve]=fuzz/serve.dict [fuzz_corpus_cache]=fuzz/model_file.dict)
mkdir -p fuzz-out/crashes fuzz-out/logs
status=0
for t in "${targets[@]}"; do
  seeds=fuzz-out/seeds/$t
  [[ $t == fuzz_midi_reader ]] && seeds=fuzz/seeds
  mkdir -p "fuzz-out/corpus/$t"
  args=(-max_total_time="$SECONDS_EACH" -max_len="${max_len[$t]:-4096}" -timeout=30 -rss_limit_mb=4096
        -print_final_stats=1 -artifact_prefix="fuzz-out/crashes/$t-")
  [[ -n ${dict[$t]:-} ]] && args+=(-dict="${dict[$t]}")
  log=fuzz-out/logs/$t.log
  ETUDE_FUZZ_CACHE_DIR=fuzz-out/seeds/cache-folder ./build-fuzz/"$t" "${args[@]}" "fuzz-out/corpus/$t" "$seeds" >"$log" 2>&1
  rc=$?
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
  secs=$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' "$log" | tail -1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  if [[ $rc -ne 0 ]]; then status=1; echo "$t: FAILED (exit $rc) after ${runs:-?} runs; see $log and fuzz-out/crashes/"
  else echo "$t: ${runs:-?} executions in ${secs:-?} s (${rate:-?}/s; $cov)"; fi
done
exit $status
