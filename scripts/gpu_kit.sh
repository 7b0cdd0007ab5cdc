#!/usr/bin/env bash
# Runs the GPU checks of issue 9 on a lent GPU machine, which has CUDA, cuDNN (PyTorch's) and a driver
# but none of our Debian build packages. `pack` (here, after `make build`) puts the built binaries,
# the CUDA plugin, their non-system libraries and a few corpus pieces into gpu-kit/ (ignored by git);
# `run` (there, from the repository root, with the kit carried) runs every CUDA test and the GPU
# benchmark and writes logs into $OUT; a CUDA test that skips there is a failure. `pack` builds in
# build-kit/ without -march=native (the GPU machine's CPU may lack this one's AVX-512). With the
# device tool:
#   bash scripts/gpu_kit.sh pack
#   run(command="bash scripts/gpu_kit.sh run", carry=["gpu-kit"], kind="nvidia-h100-x1")
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
kit=gpu-kit

pack() {
  local build=${1:-build-kit}
  local corpus=${ETUDE_CORPUS:-../shared/corpora/piano-midi}
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DETUDE_NATIVE=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" --target etude etude_cuda test_nn test_train test_compose test_app -- --no-print-directory
  [[ -f $build/libetude_cuda.so ]] || { echo "gpu_kit: $build/libetude_cuda.so missing (CMake found no CUDA?)" >&2; exit 2; }
  rm -rf "$kit" && mkdir -p "$kit/bin" "$kit/lib" "$kit/corpus"
  cp "$build/etude" "$build/libetude_cuda.so" "$kit/bin/"
  for t in nn train compose app; do [[ -x $build/test_$t ]] && cp "$build/test_$t" "$kit/bin/"; done
  # Every shared library the binaries need except the C/C++ runtime and CUDA's own (the GPU
  # machine's are newer and match its driver).
  for b in "$kit"/bin/*; do ldd "$b" 2>/dev/null | awk '$3 ~ /^\// {print $3}'; done | sort -u |
    grep -Ev '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*)\.so|/(libcud|libcublas|libcudnn|libnv)' |
    while read -r lib; do cp -L "$lib" "$kit/lib/"; done
  # Two composers' pieces: the corpus tests and a short training run (CC BY-SA, see NOTICE.md there).
  for style in Chopin Mozart; do
    [[ -d $corpus/$style ]] && cp -r "$corpus/$style" "$kit/corpus/"
  done
  [[ -f $corpus/NOTICE.md ]] && cp "$corpus/NOTICE.md" "$kit/corpus/"
  tar -C "$kit" -cJf "$kit.tar.xz" . && rm -rf "$kit"/* && mv "$kit.tar.xz" "$kit/"
  du -sh "$kit"
}

run() {
  local out=${OUT:-$PWD/gpu-out}
  mkdir -p "$out"
  [[ -f $kit/$kit.tar.xz ]] && tar -C "$kit" -xJf "$kit/$kit.tar.xz"
  # CUDA's libraries: the toolkit's, and the cuDNN and cuBLAS that come with PyTorch's wheels.
  local dirs="$PWD/$kit/lib"
  for f in $(find / -xdev \( -name 'libcudnn.so.9' -o -name 'libcublas.so.13' -o -name 'libcudart.so.13' \) \
               -not -path '/proc/*' 2>/dev/null); do
    dirs="$dirs:$(dirname "$f")"
  done
  export LD_LIBRARY_PATH="$dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export ETUDE_BIN="$PWD/$kit/bin/etude" ETUDE_CORPUS="$PWD/$kit/corpus" ETUDE_SOURCE="$PWD"
  {
    nvidia-smi -L || true
    "$ETUDE_BIN" devices || true
  } 2>&1 | tee "$out/devices.txt"
  local status=0
  for t in "$kit"/bin/test_*; do
    "$t" --gtest_filter='*Cuda*:*Gpu*:*Device*' >>"$out/gtest.txt" 2>&1 || status=1
  done
  grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/gtest.txt" || true
  # Skipping is right where there is no GPU, and wrong here: it would hide a plugin that cannot start.
  if grep -q '^\[  SKIPPED \]' "$out/gtest.txt"; then echo "gpu_kit: CUDA tests skipped on the GPU machine (see gtest.txt)"; status=1; fi
  # The CLI's cross-device checks (train on one device, resume and compose on the other); numpy only.
  python3 tests/app/device_cli_test.py >"$out/device_cli.txt" 2>&1 || status=1
  tail -n 5 "$out/device_cli.txt"
  if grep -q 'skipped' "$out/device_cli.txt"; then echo "gpu_kit: CLI device tests skipped (see device_cli.txt)"; status=1; fi
  bash bench/gpu_vs_cpu.sh >"$out/bench.txt" 2>&1 || status=1
  cat "$out/bench.txt"
  return $status
}

case $mode in
  pack) pack "${2:-build-kit}" ;;
  run) run ;;
  *) echo "usage: scripts/gpu_kit.sh pack [BUILD] | run" >&2; exit 1 ;;
esac
