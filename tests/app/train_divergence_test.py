#!/usr/bin/python3
# The divergence guard: a learning rate large enough to blow up triggers rollbacks that are logged
# in the history and on screen; the run then recovers (lr 5) or gives up cleanly with one message
# and exit code 2 (lr 1e4), and no NaN or Inf ever reaches a saved file.
import json
import sys
import unittest
from pathlib import Path

import numpy as np

from train_common import FAST, SliceRuns, etude, have_inputs, history, read_safetensors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402


def assert_all_saved_finite(test, run):
    files = list(run.rglob("*.safetensors"))
    for f in files:
        _, tensors = read_safetensors(f)
        for name, t in tensors.items():
            test.assertTrue(np.isfinite(t).all(), f"{f}: {name} holds NaN/Inf")
    return files


@unittest.skipUnless(have_inputs(), "ETUDE_BIN or the shared corpus (ETUDE_CORPUS) missing")
class TrainDivergence(SliceRuns):
    def test_recovers_after_rollbacks(self):
        run = self.dir / "recover"
        r = etude("train", self.data, "--out", run, *FAST, "--epochs", 3, "--lr", 5, env_extra=self.env)
        self.assertIn("rollback", r.stdout)
        rows = history(run)
        self.assertEqual([int(x["epoch"]) for x in rows], [1, 2, 3])
        self.assertIn("rollback", rows[0]["events"])
        self.assertLess(float(rows[0]["lr"]), 5, "the learning rate was cut")
        self.assertTrue(all(np.isfinite(float(x["val_loss"])) for x in rows))
        self.assertGreaterEqual(json.loads((run / "summary.json").read_text())["rollbacks"], 1)
        self.assertGreaterEqual(len(assert_all_saved_finite(self, run)), 4)

    def test_gives_up_cleanly(self):
        run = self.dir / "explode"
        r = etude("train", self.data, "--out", run, *FAST, "--epochs", 3, "--lr", 1e4, env_extra=self.env,
                  check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.strip().split("\n")), 1, r.stderr)
        self.assertIn("diverged", r.stderr)
        self.assertIn("--lr", r.stderr)
        self.assertGreaterEqual(r.stdout.count("rollback"), 5)
        summary = json.loads((run / "summary.json").read_text())
        self.assertEqual(summary["stop_reason"], "diverged")
        self.assertIn("rollback", summary["events_after_last_epoch"])
        assert_all_saved_finite(self, run)


if __name__ == "__main__":
    skip_common.main(verbosity=2)
