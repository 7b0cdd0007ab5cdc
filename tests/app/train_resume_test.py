#!/usr/bin/python3
# Kill -9 and --resume: a run killed after an epoch's state was saved and then resumed ends with
# the same number of epochs, a continuous history, and (one thread, fixed seed) final weights equal
# bit for bit to an uninterrupted run's (on the CPU, named: --device auto would take a GPU, which
# promises no bit-exactness). Also: Ctrl-C (SIGINT) stops cleanly with the state saved.
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import numpy as np

from train_common import ETUDE, FAST, etude, have_inputs, history, make_slice, read_safetensors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

ARGS = [*FAST, "--epochs", 4, "--checkpoint-every", 1, "--seed", 7, "--device", "cpu"]
RESUME = ["--resume", "--threads", 1, "--device", "cpu"]  # the device is the session's, not the run's


def start(data, run, cache):
    import os
    env = dict(os.environ, OMP_NUM_THREADS="1", XDG_CACHE_HOME=str(cache))
    return subprocess.Popen([ETUDE, "train", str(data), "--out", str(run), *map(str, ARGS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_rows(run, n, proc, limit=300):
    end = time.time() + limit
    while time.time() < end:
        if (run / "history.csv").exists() and len(history(run)) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("no epoch finished in time")


@unittest.skipUnless(have_inputs(), "ETUDE_BIN or the shared corpus (ETUDE_CORPUS) missing")
class TrainResume(unittest.TestCase):
    def test_kill9_then_resume_is_bit_exact(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            data, cache = make_slice(tmp), tmp / "cache"
            env = {"XDG_CACHE_HOME": str(cache)}
            ref = tmp / "ref"
            etude("train", data, "--out", ref, *ARGS, env_extra=env)

            run = tmp / "run"
            proc = start(data, run, cache)
            wait_rows(run, 2, proc)
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            self.assertEqual(proc.returncode, -signal.SIGKILL)
            killed_at = len(history(run))
            self.assertLess(killed_at, 4, "the kill came too late to test anything")
            r = etude("train", data, "--out", run, *RESUME, env_extra=env)
            self.assertIn("completed after 4 epochs", r.stdout)

            rows, ref_rows = history(run), history(ref)
            self.assertEqual([int(x["epoch"]) for x in rows], [1, 2, 3, 4])
            for a, b in zip(rows, ref_rows):
                for col in ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "copied_share"]:
                    self.assertEqual(a[col], b[col], f"epoch {a['epoch']} {col}")
            _, mine = read_safetensors(run / "last.safetensors")
            _, theirs = read_safetensors(ref / "last.safetensors")
            self.assertEqual(mine.keys(), theirs.keys())
            for k in mine:
                self.assertTrue(np.array_equal(mine[k], theirs[k]), f"{k} differs after resume")
            _, st_a = read_safetensors(run / "state.safetensors")
            _, st_b = read_safetensors(ref / "state.safetensors")
            self.assertTrue(np.array_equal(st_a["optimizer.state"], st_b["optimizer.state"]))

    def test_sigint_stops_cleanly_and_resumes(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            data, cache = make_slice(tmp), tmp / "cache"
            run = tmp / "run"
            proc = start(data, run, cache)
            wait_rows(run, 1, proc)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
            self.assertEqual(proc.returncode, 0, err)
            self.assertIn("interrupted after", out)
            self.assertIn("--resume", out)
            self.assertTrue((run / "state.safetensors").is_file())
            r = etude("train", data, "--out", run, *RESUME, env_extra={"XDG_CACHE_HOME": str(cache)})
            self.assertIn("after 4 epochs", r.stdout)
            self.assertEqual([int(x["epoch"]) for x in history(run)], [1, 2, 3, 4])


if __name__ == "__main__":
    skip_common.main(verbosity=2)
