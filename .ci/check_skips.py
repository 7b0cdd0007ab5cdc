#!/usr/bin/python3
# Fails CI when a test skipped that needs only the shared corpus and the Debian packages
# scripts/setup.sh installs: reads `ctest --output-junit` and checks every skip against ALLOWED,
# the one list of skips that depend on the machine (a GPU, a CPU feature). Usage: check_skips.py JUNIT.xml
import re
import sys
import xml.etree.ElementTree as ET

# Skips a CI machine may show: (unit, reason, why) regular expressions, both matched in full
# against the skip. A unit is a GoogleTest test "Suite.Name", a Python test
# "py_<layer>_<file>/Class.method" (tests/skip_common.py prints those lines), or else the CTest
# name; the reason is the skip's message, so a GPU test skipped for want of the corpus still fails.
# Every other skip (no corpus, no chromium, no torch, no POP909, ...) fails CI.
GPU = r"(?i).*(cuda|gpu).*"
ALLOWED = [
    (r"CudaParity\..+", GPU, "CPU against GPU results: needs a usable CUDA GPU"),
    (r"TrainerCuda\..+", GPU, "trains on the GPU: needs a usable CUDA GPU"),
    (r"CudaPlugin\..+", GPU, "needs the CUDA backend built (a CUDA toolkit with cuDNN, which setup does not install)"),
    (r"Devices\.CudaWithoutAGpuSaysWhy", GPU, "checks the refusal of cuda: skipped where a GPU is usable"),
    (r"LstmCpu\.Bf16.+|Bf16\..+", r".*bf16.*", "bf16 LSTM: needs a CPU on which oneDNN has one (AVX512-BF16 or AMX)"),
    (r"py_app_device_cli_test/CudaRuns\..+", GPU, "trains and composes on the GPU: needs a usable CUDA GPU"),
    (r"py_app_device_cli_test/DeviceFlags\.test_cuda_without_a_gpu_exits_2_saying_why", GPU,
     "checks the refusal of --device cuda: skipped where a GPU is usable"),
]


def skipped_units(case):
    """(unit, reason) for each skip inside one skipped CTest test, read from its output."""
    name, out = case.get("name"), case.findtext("system-out") or ""
    if name.startswith("py_"):
        units = [(f"{name}/{m[1]}", m[2]) for m in re.finditer(r"^SKIPPED (\S+): (.*)$", out, re.M)]
        if units:
            return units
    m = re.search(r": Skipped\n(.*)", out) or re.search(r"^SKIPPED:? (.*)$", out, re.M)
    return [(name, m[1].strip() if m else case.find("skipped").get("message", ""))]


def main(path):
    cases = [c for c in ET.parse(path).getroot().iter("testcase") if c.find("skipped") is not None]
    allowed, refused = [], []
    for case in cases:
        for unit, reason in skipped_units(case):
            why = next((w for rx, rr, w in ALLOWED if re.fullmatch(rx, unit) and re.fullmatch(rr, reason)), None)
            (allowed if why else refused).append(f"{unit}: {reason}" + (f" [allowed: {why}]" if why else ""))
    for line in allowed:
        print(f"skipped (allowed) {line}")
    if refused:
        print(f"\nCI FAILS: {len(refused)} skipped test(s) need only the corpus (../shared/corpora) and the "
              "Debian packages scripts/setup.sh installs; they must run here:", file=sys.stderr)
        for line in refused:
            print(f"  SKIPPED {line}", file=sys.stderr)
        print("(machine-dependent skips are allowed in .ci/check_skips.py, ALLOWED)", file=sys.stderr)
        return 1
    print(f"check_skips: {len(allowed)} allowed skip(s), none that CI should have run")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_skips.py JUNIT.xml (from ctest --output-junit)")
    sys.exit(main(sys.argv[1]))
