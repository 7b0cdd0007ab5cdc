# The big-corpus path end to end, small (bench/big_corpus.sh is the 100,000-file measurement):
# 400 generated MIDI files in four style folders build a sharded cache (manifest + shard files)
# that a second run reuses, and `etude train` runs one epoch on them, every command's peak
# resident memory loosely bounded (a build that held every file's notes would not notice, but a
# leak per file or a copy of the corpus per piece would).
import os
import resource
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

ETUDE = os.environ.get("ETUDE_BIN", "build/etude")
SOURCE = Path(os.environ.get("ETUDE_SOURCE", Path(__file__).resolve().parents[2]))
PEAK_MIB = 400  # for any one command here; the tiny network and 400 files need far less


def run(*args, env=None):
    r = subprocess.run([ETUDE, *args], capture_output=True, text=True, env=env, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"etude {' '.join(args)} failed ({r.returncode}): {r.stderr[-500:]}")
    return r.stdout


class StreamedCorpus(unittest.TestCase):
    def test_generated_folder_builds_in_shards_and_trains_an_epoch(self):
        with tempfile.TemporaryDirectory() as tmp:
            corpus, cache = os.path.join(tmp, "corpus"), os.path.join(tmp, "cache", "c.bin")
            subprocess.run([sys.executable, str(SOURCE / "bench" / "make_big_corpus.py"), corpus, "400", "40"],
                           check=True)
            built = run("corpus", corpus, "--tokenizer", "beats", "--out", cache)
            self.assertIn("400 used, 0 skipped, 4 styles", built)
            self.assertIn("(built)", built)
            self.assertTrue(os.path.exists(cache))
            shards = [f for f in os.listdir(os.path.dirname(cache)) if f.startswith("c.bin.shard-")]
            self.assertEqual(len(shards), 1, shards)
            self.assertTrue(shards[0].endswith("-0000"), shards)
            self.assertIn("(reused)", run("corpus", corpus, "--tokenizer", "beats", "--out", cache))
            config = os.path.join(tmp, "tiny.json")
            with open(config, "w") as f:
                f.write('{"input": {"type": "embedding", "dim": 16}, "layers": [{"type": "lstm", "units": 32},'
                        ' {"type": "dense", "units": "vocab"}], "mode": "seq2seq", "window": 32, "batch": 32}')
            env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "xdg"))
            run("train", corpus, "--config", config, "--epochs", "1", "--threads", "1", "--device", "cpu",
                "--checkpoint-every", "1", "--out", os.path.join(tmp, "run"), env=env)
            self.assertTrue(os.path.exists(os.path.join(tmp, "run", "state.safetensors")))
            scratch = [f for f in os.listdir(os.path.join(tmp, "xdg", "etude")) if "spill" in f]
            self.assertEqual(scratch, [], "scratch files are unlinked")
            peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            self.assertLess(peak_mib, PEAK_MIB)


if __name__ == "__main__":
    skip_common.main()
