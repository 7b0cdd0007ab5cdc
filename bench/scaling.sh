#!/usr/bin/env bash
# Data-parallel scaling of training (issue 18): `etude bench train` on the base model's shape
# (preset small, vocabulary 259 of the beats tokenizer: models/piano's network, 1.19 M parameters,
# f32 training as it was trained) as one process and as 2 ranks of one mpirun job (--oversubscribe,
# one thread per rank, the batch of 64 windows x 128 split 32 + 32), then the all-reduce of the
# gradient block timed on its own (after a barrier, so no rank's lateness counts) over shared
# memory and over TCP on loopback. From the measured step and all-reduce times it projects 8 and
# 64 nodes (ring all-reduce: each rank sends and receives 2(N-1)/N of the gradient bytes per step,
# plus 2(N-1) latencies), at the stated network bandwidths.
# Each configuration runs REPEATS times and the fastest counts (the development machine's 2 cores
# are shared with other builds; the load average is printed).
# Usage: bench/scaling.sh [STEPS [PRECISION [REPEATS]]]   (ETUDE_BIN: the etude binary; default build/etude)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-10}
precision=${2:-f32}
repeats=${3:-3}
cores=$(nproc --all)
bin=${ETUDE_BIN:-build/etude}
mpirun=$(command -v mpirun || true)
if [[ -z "$mpirun" ]]; then
  echo "bench/scaling.sh: mpirun not found (scripts/setup.sh installs openmpi-bin); nothing measured"
  exit 0
fi
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# A busy machine: libgomp's spinning would steal the other rank's core (README: the network engine).
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=(bench train --preset small --vocab 259 --threads 1 --steps "$steps" --precision "$precision" --json)
mpi=("$mpirun" --oversubscribe --bind-to none)
tcp=(--mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)

load=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$repeats"); do
  "$bin" "${args[@]}" >"$out/one.$i.json"
  "$bin" "${args[@]}" --batch 32 >"$out/half.$i.json"
  "${mpi[@]}" -np 2 "$bin" "${args[@]}" >"$out/two.$i.json"
  "${mpi[@]}" -np 2 "${tcp[@]}" "$bin" "${args[@]}" >"$out/two_tcp.$i.json"
done
load="$load, after: $(cut -d' ' -f1-3 /proc/loadavg)"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
CPU="$cpu" CORES="$cores" LOAD="$load" /usr/bin/python3 - "$out" <<'EOF'
import glob, json, os, sys
d = sys.argv[1]
def best(name):  # the fastest of the repeats; its own all-reduce figures, and the best bare all-reduce
    runs = [json.load(open(f)) for f in sorted(glob.glob(f"{d}/{name}.*.json"))]
    r = max(runs, key=lambda r: r["tokens_per_second"])
    if "allreduce_ms" in r:
        b = min(runs, key=lambda r: r["allreduce_ms"])
        r["allreduce_ms"], r["allreduce_gb_per_s"] = b["allreduce_ms"], b["allreduce_gb_per_s"]
    return r, len(runs)
(one, n), (two, _), (tcp, _), (half, _) = best("one"), best("two"), best("two_tcp"), best("half")
print(f"machine: {os.environ['CPU']}, {os.environ['CORES']} cores (load average {os.environ['LOAD']}: "
      f"other processes compete for the cores)")
print(f"model: preset {one['preset']}, vocab {one['vocab']}, {one['parameters']:,} parameters, batch {one['batch']} x "
      f"{one['seq']}, {one['precision']}, {one['steps']} timed steps, one thread per rank, fastest of {n} runs")
print()
print("ranks  tokens/s   ms/step  in all-reduce/step  bare all-reduce of the gradient block")
print(f"  1    {one['tokens_per_second']:8.0f}  {one['ms_per_step']:7.1f}")
for name, r in (("shared memory", two), ("TCP loopback", tcp)):
    print(f"  2    {r['tokens_per_second']:8.0f}  {r['ms_per_step']:7.1f}  {r['reduce_ms_per_step']:7.2f} ms"
          f"          {r['allreduce_ms']:.2f} ms for {r['allreduce_bytes']/1e6:.2f} MB"
          f" ({r['allreduce_gb_per_s']:.2f} GB/s per rank, {name})")
print("(in all-reduce/step: inside the step's one all-reduce, waiting for the slower rank included; bare: after a")
print(" barrier, the median of 20)")
print(f"speedup at 2 ranks: {two['tokens_per_second'] / one['tokens_per_second']:.2f}x (shared memory), "
      f"{tcp['tokens_per_second'] / one['tokens_per_second']:.2f}x (TCP loopback)")
ideal = half["ms_per_step"] + two["allreduce_ms"]
print(f"one process at a rank's share (batch 32): {half['ms_per_step']:.1f} ms/step; two ranks on two free cores would "
      f"take that plus the bare all-reduce, {ideal:.1f} ms/step: {one['batch'] * one['seq'] / ideal * 1e3:.0f} tokens/s, "
      f"{one['ms_per_step'] / ideal:.2f}x")

# Projection. Weak scaling: every node trains a batch of 64 windows (global batch 64 N, one
# all-reduce per step); its compute time is the measured 1-rank step (this machine, one thread),
# and, to show the sensitivity, a node 16x faster (all the cores of a bigger node).
G = one["parameters"] * 4 + 12  # the flat buffer: f32 gradients (+ buffers, none here) + rows and loss
t1 = one["ms_per_step"] / 1e3
tokens = one["batch"] * one["seq"]
nets = [("10 Gb/s Ethernet (1.25 GB/s, 25 us)", 1.25e9, 25e-6), ("100 Gb/s InfiniBand (12.5 GB/s, 2 us)", 12.5e9, 2e-6),
        (f"as measured here over TCP loopback ({tcp['allreduce_gb_per_s']:.2f} GB/s, 25 us)",
         tcp["allreduce_gb_per_s"] * 1e9, 25e-6)]
def ring(n, bw, lat):
    return 2 * (n - 1) / n * G / bw + 2 * (n - 1) * lat
print()
print(f"projection (ring all-reduce of {G/1e6:.2f} MB per step: 2(N-1)/N of it sent and received per rank, "
      "2(N-1) latencies; no overlap with the backward pass):")
for label, tc in (("node = this machine's 1-thread step", t1), ("node 16x faster", t1 / 16)):
    print(f"  weak scaling, 64 windows per node, {label} ({tc*1e3:.1f} ms compute per step):")
    for net, bw, lat in nets:
        cells = []
        for n in (2, 8, 64):
            ar = ring(n, bw, lat)
            cells.append(f"N={n}: {n * tokens / (tc + ar):9.0f} tok/s, all-reduce {ar*1e3:5.2f} ms, "
                         f"efficiency {tc / (tc + ar):.0%}")
        print(f"    {net}:")
        for c in cells:
            print(f"      {c}")
print("  strong scaling (the global batch stays 64: 8 windows per node at N=8, 1 at N=64; compute assumed to")
print("  shrink linearly, which small per-rank batches do not quite do):")
for net, bw, lat in nets:
    for n in (8, 64):
        tc, ar = t1 / n, ring(n, bw, lat)
        print(f"    {net}, N={n}: step {1e3*(tc + ar):6.1f} ms, speedup {t1 / (tc + ar):5.1f}x, all-reduce share {ar / (tc + ar):.0%}")
EOF
