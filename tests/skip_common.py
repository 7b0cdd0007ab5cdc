# Makes a Python suite's skips show in CTest: main() runs the suite's unittest tests and exits 77
# (the SKIP_RETURN_CODE CMakeLists.txt gives py_ tests) when any test skipped, 1 when any failed.
# Each skip is printed as one "SKIPPED <Class.method>: <reason>" line that .ci/check_skips.py reads.
import sys
import unittest

SKIP_CODE = 77  # CTest's SKIP_RETURN_CODE for the py_ tests (and web_ tests) in CMakeLists.txt


def skip_suite(reason: str):
    """For suites that do not use unittest: nothing could run here; exit as a CTest skip."""
    print(f"SKIPPED suite: {reason}", flush=True)
    sys.exit(SKIP_CODE)


def main(**kwargs):
    """unittest.main(**kwargs), with the exit code: 1 if anything failed, 77 if anything was
    skipped (a suite that ran partly still shows as skipped, so no skip hides behind a pass), else 0."""
    result = unittest.main(exit=False, **kwargs).result
    sys.stdout.flush()
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun == 0:
        print("no tests ran", file=sys.stderr)
        sys.exit(1)
    if result.skipped:
        ran = result.testsRun - len(result.skipped)
        print(f"\n{len(result.skipped)} of {result.testsRun} tests skipped ({ran} ran and passed):")
        for test, reason in result.skipped:
            name = ".".join(test.id().split(".")[-2:])  # Class.method (the module is the CTest test)
            print(f"SKIPPED {name}: {reason}")
        sys.stdout.flush()
        sys.exit(SKIP_CODE)
    sys.exit(0)
