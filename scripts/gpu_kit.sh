#!/usr/bin/env bash
# Runs the GPU checks of issue 9 on a lent GPU machine, which has CUDA, cuDNN (PyTorch's) and a driver
# but none of our Debian build packages. `pack` (here) builds in build-kit/ without -march=native (the
# GPU machine's CPU may lack this one's AVX-512) and puts the binaries, the CUDA plugin, their
# non-system libraries and two composers' pieces into gpu-kit/ (ignored by git). `run` (there, from
# the repository root, with the kit carried) runs every CUDA test and the GPU benchmark and writes
# four logs into $OUT; it fails when CUDA is not usable there. With the device tool:
#   bash scripts/gpu_kit.sh pack
#   run(command="bash scripts/gpu_kit.sh run", carry=["gpu-kit"], kind="nvidia-h100-x1")
set -euo pipefail
cd "$(dirname "$0")/.."
kit=gpu-kit
tests=(test_nn test_train test_compose)

pack() {
  local build=${1:-build-kit}
  local corpus=${ETUDE_CORPUS:-../shared/corpora/piano-midi}
  # Without MPI: the lent machine has no Open MPI, and the kit's tests need none.
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DETUDE_NATIVE=OFF -DETUDE_MPI=OFF | grep -E "CUDA backend" || true
  cmake --build "$build" -j"$(nproc)" --target etude "${tests[@]}" -- --no-print-directory
  [[ -f $build/libetude_cuda.so ]] || { echo "gpu_kit: $build/libetude_cuda.so missing: CMake found no CUDA with cuDNN" >&2; exit 2; }
  rm -rf "$kit" && mkdir -p "$kit/bin" "$kit/lib" "$kit/corpus"
  cp "$build/etude" "$build/libetude_cuda.so" "$kit/bin/"
  for t in "${tests[@]}"; do cp "$build/$t" "$kit/bin/"; done
  # Every shared library the binaries need except the C/C++ runtime and CUDA's own (the GPU
  # machine's are newer and match its driver).
  for b in "$kit"/bin/*; do ldd "$b" 2>/dev/null | awk '$3 ~ /^\// {print $3}'; done | sort -u |
    grep -Ev '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*)\.so|/(libcud|libcublas|libcudnn|libnv)' |
    while read -r lib; do cp -L "$lib" "$kit/lib/"; done
  # Two composers' pieces: the corpus tests and a short training run (CC BY-SA, see NOTICE.md there).
  for style in Chopin Mozart; do
    if [[ -d $corpus/$style ]]; then cp -r "$corpus/$style" "$kit/corpus/"; fi
  done
  if [[ -f $corpus/NOTICE.md ]]; then cp "$corpus/NOTICE.md" "$kit/corpus/"; fi
  tar -C "$kit" -cJf "$kit.tar.xz" . && rm -rf "${kit:?}"/* && mv "$kit.tar.xz" "$kit/"
  du -sh "$kit"
}

run() {
  local out=${OUT:-$PWD/gpu-out} status=0 f
  mkdir -p "$out"
  if [[ -f $kit/$kit.tar.xz ]]; then tar -C "$kit" -xJf "$kit/$kit.tar.xz"; fi
  # CUDA's libraries: the toolkit's, and the cuDNN and cuBLAS that come with PyTorch's wheels.
  local dirs="$PWD/$kit/lib"
  while IFS= read -r f; do dirs="$dirs:$f"; done < <(
    find / -xdev \( -name 'libcudnn.so.9' -o -name 'libcublas.so.13' -o -name 'libcudart.so.13' \) \
      -not -path '/proc/*' -printf '%h\n' 2>/dev/null | sort -u)
  # Only our binaries see the kit's libraries (Debian 12's libssl, libgomp, ...), not python3: each
  # runs through a wrapper. The plugin is linked beside the wrappers for the test that loads it.
  mkdir -p "$kit/run"
  for f in "$kit"/bin/etude "$kit"/bin/test_*; do
    printf '#!/usr/bin/env bash\nexport LD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\nexec %q "$@"\n' \
      "$dirs" "$PWD/$f" >"$kit/run/$(basename "$f")"
    chmod +x "$kit/run/$(basename "$f")"
  done
  ln -sf ../bin/libetude_cuda.so "$kit/run/libetude_cuda.so"
  export ETUDE_BIN="$PWD/$kit/run/etude" ETUDE_CORPUS="$PWD/$kit/corpus" ETUDE_SOURCE="$PWD"
  { nvidia-smi -L || true; "$ETUDE_BIN" devices; } 2>&1 | tee "$out/devices.txt"
  local devices
  devices=$("$ETUDE_BIN" devices --json || true)
  if [[ $devices != *'"usable":true'* ]]; then
    echo "gpu_kit: CUDA is not usable on this GPU machine (see devices.txt); the CUDA tests below only skip"
    status=1
  fi
  for f in "${tests[@]}"; do
    "$kit/run/$f" --gtest_filter='*Cuda*:*Gpu*:*Device*' >>"$out/gtest.txt" 2>&1 || status=1
  done
  grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/gtest.txt" || true
  # The CLI's cross-device checks (train on one device, resume and compose on the other); numpy only.
  local py=python3
  for f in python3 /usr/bin/python3; do
    if "$f" -c 'import numpy' 2>/dev/null; then py=$f && break; fi
  done
  "$py" tests/app/device_cli_test.py -v >"$out/device_cli.txt" 2>&1 || status=1
  tail -n 5 "$out/device_cli.txt"
  bash bench/gpu_vs_cpu.sh >"$out/bench.txt" 2>&1 || status=1
  cat "$out/bench.txt"
  return $status
}

case ${1:-} in
  pack) pack "${2:-build-kit}" ;;
  run) run ;;
  *) echo "usage: scripts/gpu_kit.sh pack [BUILD] | run" >&2; exit 1 ;;
esac
