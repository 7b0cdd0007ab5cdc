#!/usr/bin/env bash
# Runs every benchmark in bench/ one after another (`make bench`); each prints its own ratios.
# Benchmarks are not tests: they measure speed against mido and PyTorch on this machine.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for b in scan_vs_mido.sh corpus_bench.sh nn_vs_torch.sh compose_vs_torch.sh train_throughput.sh gpu_vs_cpu.sh scaling.sh serve_latency.sh; do
  echo "=== bench/$b"
  bash "bench/$b" || { echo "bench/$b failed" >&2; status=1; }
done
exit $status
