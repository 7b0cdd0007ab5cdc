#!/usr/bin/python3
# `etude train` on bad input: an empty folder, a folder of non-MIDI files, an unwritable --out, a
# --resume with nothing to resume and a bad --transpose each give one clear stderr line and exit 2.
import sys
import tempfile
import unittest
from pathlib import Path

from train_common import ETUDE, FAST, etude

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402


@unittest.skipUnless(ETUDE and Path(ETUDE).exists(), "ETUDE_BIN not set (ctest sets it)")
class TrainBadInput(unittest.TestCase):
    def fails(self, *args, expect):
        with tempfile.TemporaryDirectory() as cache:
            r = etude("train", *args, *FAST, env_extra={"XDG_CACHE_HOME": cache}, check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = r.stderr.strip().split("\n")
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("etude: "), lines[0])
        for word in expect:
            self.assertIn(word, lines[0])
        return lines[0]

    def test_bad_inputs(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            empty = tmp / "empty"
            empty.mkdir()
            self.fails(empty, "--out", tmp / "r1", expect=["nothing to train on", "no MIDI files"])

            junk = tmp / "junk"
            junk.mkdir()
            (junk / "notes.txt").write_text("not music\n")
            (junk / "fake.mid").write_bytes(b"RIFF\x00\x00\x00\x04WAVE" * 4)
            (junk / "empty.midi").write_bytes(b"")
            self.fails(junk, "--out", tmp / "r2", expect=["nothing to train on", "none usable"])

            blocker = tmp / "a-file"
            blocker.write_text("x")
            self.fails(empty, "--out", blocker / "run", expect=["--out", "cannot create"])

            self.fails(empty, "--out", tmp / "r3", "--resume", expect=["--resume", "no state"])
            self.fails(tmp / "missing", "--out", tmp / "r4", expect=["not a folder"])
            self.fails(empty, "--out", tmp / "r5", "--transpose", "7..2", expect=["--transpose"])


if __name__ == "__main__":
    skip_common.main(verbosity=2)
