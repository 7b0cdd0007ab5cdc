#!/usr/bin/python3
# Data-parallel `etude train` under mpirun (CTest app_mpi_train; registered only when MPI is built,
# skipped without mpirun): 2 ranks follow one process on the same batches (the weights within
# float rounding), rank 0 alone writes the run, a resumed 2-rank run equals an uninterrupted one
# bit for bit, a run resumes with another rank count, the ranks map one corpus cache's shard files
# (the same files, so the tokens are in memory once), and a rank killed with SIGKILL mid-epoch
# ends the job within 30 s with a message naming it, the last state intact and resumable.
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))  # tests/app: train_common
sys.path.insert(0, str(HERE.parents[2]))  # tests/: skip_common
from train_common import ETUDE, FAST, SliceRuns, etude, have_inputs, history, read_safetensors  # noqa: E402
import skip_common  # noqa: E402

MPIRUN = os.environ.get("ETUDE_MPIRUN") or shutil.which("mpirun") or ""
ARGS = [*FAST, "--checkpoint-every", 1, "--seed", 5, "--device", "cpu", "--patience", 0]
# One thread per rank; TCP on loopback, as ranks on two hosts would talk.
MPI = ["--oversubscribe", "--bind-to", "none", "--mca", "pml", "ob1", "--mca", "btl", "self,tcp",
       "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"]


def mpi_env(cache):
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive", XDG_CACHE_HOME=str(cache))
    if os.getuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def ranks_cmd(n, *args):
    return [MPIRUN, "-np", str(n), *MPI, ETUDE, *map(str, args)]


def train_ranks(n, data, run, cache, *extra, check=True):
    r = subprocess.run(ranks_cmd(n, "train", data, "--out", run, *ARGS, *extra), capture_output=True, text=True,
                       timeout=900, env=mpi_env(cache))
    if check and r.returncode != 0:
        raise AssertionError(f"mpirun -np {n} etude train exited {r.returncode}: {r.stdout[-2000:]} {r.stderr[-2000:]}")
    return r


def weights(path):
    return read_safetensors(path)[1]


def max_rel(a, b):
    """The largest per-tensor max|a-b| / max|b|."""
    return max(float(np.abs(a[k] - b[k]).max() / max(np.abs(b[k]).max(), 1e-3)) for k in b)


@unittest.skipUnless(have_inputs(), "needs ETUDE_BIN and the shared corpus (run through ctest)")
@unittest.skipUnless(MPIRUN, "mpirun not found (scripts/setup.sh installs openmpi-bin)")
class TrainRanks(SliceRuns):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cache = cls.dir / "cache"
        cls.one = cls.dir / "one"
        cls.two = cls.dir / "two"
        etude("train", cls.data, "--out", cls.one, *ARGS, "--epochs", 2, env_extra=cls.env)
        cls.two_run = train_ranks(2, cls.data, cls.two, cls.cache, "--epochs", 2)

    def test_two_ranks_follow_one_process(self):
        a, b = history(self.one), history(self.two)
        self.assertEqual([r["epoch"] for r in a], [r["epoch"] for r in b])
        for ra, rb in zip(a, b):
            for key in ("train_loss", "val_loss", "val_accuracy"):
                self.assertAlmostEqual(float(ra[key]), float(rb[key]), delta=2e-3 * max(1.0, abs(float(ra[key]))),
                                       msg=f"epoch {ra['epoch']} {key}")
        rel = max_rel(weights(self.two / "last.safetensors"), weights(self.one / "last.safetensors"))
        print(f"2 ranks against one process after 2 epochs: max relative weight difference {rel:.3g}")
        self.assertLess(rel, 1e-2)  # measured 2.1e-4 (Adam amplifies rounding in a few units)
        # The same files, written once (by rank 0), and the ranks in the summary.
        names = lambda run: sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())  # noqa: E731
        self.assertEqual(names(self.one), names(self.two))
        self.assertEqual(json.loads((self.two / "summary.json").read_text())["device"].get("ranks"), 2)
        self.assertEqual(self.two_run.stdout.count("after 2 epochs"), 1, "rank 0 alone prints: " + self.two_run.stdout)

    def test_resumed_two_rank_run_equals_uninterrupted(self):
        run = self.dir / "resumed"
        train_ranks(2, self.data, run, self.cache, "--epochs", 1)
        train_ranks(2, self.data, run, self.cache, "--epochs", 2, "--resume")
        got, want = weights(run / "last.safetensors"), weights(self.two / "last.safetensors")
        for k in want:
            self.assertTrue(np.array_equal(got[k], want[k]), k)
        self.assertEqual([r["val_loss"] for r in history(run)], [r["val_loss"] for r in history(self.two)])

    def test_resumes_with_another_rank_count(self):
        run = self.dir / "alone-then-two"
        etude("train", self.data, "--out", run, *ARGS, "--epochs", 1, env_extra={"XDG_CACHE_HOME": str(self.cache)})
        train_ranks(2, self.data, run, self.cache, "--epochs", 2, "--resume")
        self.assertEqual([r["epoch"] for r in history(run)], ["1", "2"])
        self.assertLess(max_rel(weights(run / "last.safetensors"), weights(self.one / "last.safetensors")), 1e-2)

    def test_a_killed_rank_ends_the_job_naming_it(self):
        run = self.dir / "killed"
        p = subprocess.Popen(ranks_cmd(2, "train", self.data, "--out", run, *ARGS, "--epochs", 200),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=mpi_env(self.cache))
        try:
            end = time.time() + 300
            while not ((run / "history.csv").exists() and len(history(run)) >= 1):
                self.assertIsNone(p.poll(), "training ended before its first epoch")
                self.assertLess(time.time(), end, "no epoch finished in time")
                time.sleep(0.05)
            time.sleep(0.5)  # into the next epoch
            shards = [mapped_shards(rank_pid(p.pid, rank)) for rank in (0, 1)]
            self.assertTrue(shards[0], "rank 0 maps no cache shard")
            self.assertEqual(shards[0], shards[1], "the ranks map other shard files")
            victim = rank_pid(p.pid, 1)
            os.kill(victim, signal.SIGKILL)
            killed = time.time()
            out, _ = p.communicate(timeout=60)
            took = time.time() - killed
        finally:
            if p.poll() is None:
                p.kill()
        self.assertNotEqual(p.returncode, 0)
        print(f"a rank killed with SIGKILL: the job ended {took:.1f} s later")
        self.assertLess(took, 30, out)
        self.assertRegex(out, r"rank 1 .*(signal 9|Killed)", out[-3000:])
        done = len(history(run))
        self.assertGreaterEqual(done, 1)
        train_ranks(2, self.data, run, self.cache, "--epochs", done + 1, "--resume")
        self.assertEqual([int(r["epoch"]) for r in history(run)], list(range(1, done + 2)))


def rank_pid(mpirun_pid, rank):
    """The pid of the etude process of `rank` among mpirun's descendants."""
    for _ in range(100):
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                env = (d / "environ").read_bytes().split(b"\0")
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if (f"OMPI_COMM_WORLD_RANK={rank}".encode() in env and ETUDE.encode() in cmd.split(b"\0")[0]
                    and descends_from(int(d.name), mpirun_pid)):
                return int(d.name)
        time.sleep(0.1)
    raise AssertionError(f"no etude process of rank {rank} under mpirun {mpirun_pid}")


def mapped_shards(pid):
    """(device, inode, path) of every corpus cache shard file the process maps."""
    out = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and ".shard-" in fields[5]:
            out.add((fields[3], fields[4], fields[5]))
    return out


def descends_from(pid, ancestor):
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


if __name__ == "__main__":
    skip_common.main()
