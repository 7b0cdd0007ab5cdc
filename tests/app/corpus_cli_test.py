# CLI tests for `etude corpus` and `etude tokenize`: a folder mixing good corpus files (copied at
# test time) with broken ones builds from the good ones and lists the broken ones with reasons;
# the cache is reused; exit codes; `tokenize --roundtrip` writes MIDI that mido reads back.
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import mido

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

ETUDE = os.environ.get("ETUDE_BIN", "build/etude")
CORPUS = os.environ.get("ETUDE_CORPUS", "")


def run(*args, env=None):
    return subprocess.run([ETUDE, *args], capture_output=True, text=True, env=env)


def corpus_files(count):
    """The first two files of each of the first `count` composer folders with two or more."""
    out = []
    for style in sorted(os.listdir(CORPUS)):
        folder = os.path.join(CORPUS, style)
        if os.path.isdir(folder):
            mids = sorted(f for f in os.listdir(folder) if f.endswith(".mid"))
            if len(mids) >= 2:
                out.append((style, os.path.join(folder, mids[0]), os.path.join(folder, mids[1])))
        if len(out) == count:
            break
    return out


@unittest.skipUnless(os.path.isdir(CORPUS), "ETUDE_CORPUS not set")
class CorpusCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = os.path.join(self.tmp.name, "mixed")
        self.good = []
        for style, a, b in corpus_files(3):
            os.makedirs(os.path.join(self.dir, style))
            for src in (a, b):
                shutil.copy(src, os.path.join(self.dir, style))
                self.good.append(f"{style}/{os.path.basename(src)}")
        broken = os.path.join(self.dir, "Broken")
        os.makedirs(broken)
        with open(os.path.join(broken, "empty.mid"), "wb"):
            pass
        with open(os.path.join(broken, "not_midi.mid"), "w") as f:
            f.write("MIDI? no, a shopping list: eggs, milk\n")
        with open(corpus_files(1)[0][1], "rb") as f:
            data = f.read()
        with open(os.path.join(broken, "truncated.mid"), "wb") as f:
            f.write(data[: len(data) // 2])
        self.broken = {"Broken/empty.mid", "Broken/not_midi.mid", "Broken/truncated.mid"}
        self.cache = os.path.join(self.tmp.name, "cache.bin")

    def tearDown(self):
        self.tmp.cleanup()

    def test_mixed_folder_uses_good_files_and_lists_broken_ones(self):
        r = run("corpus", self.dir, "--tokenizer", "events", "--out", self.cache, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        used = {f["path"]: f for f in j["files"] if not f.get("skipped")}
        skipped = {f["path"]: f["reason"] for f in j["files"] if f.get("skipped")}
        self.assertEqual(sorted(used), sorted(self.good))
        self.assertEqual(set(skipped), self.broken)
        for path, reason in skipped.items():
            self.assertTrue(reason, path)
        for f in used.values():
            self.assertIn(f["split"], ("train", "validation"))
            self.assertEqual(f["style"], f["path"].split("/")[0])
            self.assertGreater(f["tokens"], 100)
        self.assertEqual(j["vocab_size"], 391)
        self.assertEqual(j["train"]["tokens"] + j["validation"]["tokens"], sum(f["tokens"] for f in used.values()))
        # Every style of two pieces has one of them held out.
        self.assertEqual(j["validation"]["pieces"], 3)
        self.assertFalse(j["cache"]["reused"])
        self.assertTrue(os.path.exists(self.cache))

        again = run("corpus", self.dir, "--tokenizer", "events", "--out", self.cache, "--json")
        self.assertEqual(again.returncode, 0, again.stderr)
        j2 = json.loads(again.stdout)
        self.assertTrue(j2["cache"]["reused"])
        self.assertEqual(j2["files"], j["files"])

        text = run("corpus", self.dir, "--tokenizer", "beats", "--out", self.cache)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("6 used, 3 skipped", text.stdout)
        self.assertIn("skipped:     Broken/not_midi.mid", text.stdout)
        self.assertIn("(built): tokenizer or options changed", text.stdout)

    def test_folder_of_broken_files_fails_with_one_line(self):
        r = run("corpus", os.path.join(self.dir, "Broken"), "--out", self.cache)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("no usable MIDI file", r.stderr)
        self.assertIn("truncated.mid", r.stdout)

    def test_usage_errors(self):
        self.assertEqual(run("corpus").returncode, 1)
        r = run("corpus", self.dir, "--tokenizer", "words", "--out", self.cache)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown tokenizer", r.stderr)
        r = run("corpus", os.path.join(self.tmp.name, "absent"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a folder", r.stderr)

    def test_default_cache_goes_to_xdg_cache_home(self):
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(self.tmp.name, "xdg"))
        r = run("corpus", self.dir, "--json", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = json.loads(r.stdout)["cache"]["path"]
        self.assertTrue(path.startswith(os.path.join(self.tmp.name, "xdg", "etude") + "/"), path)
        self.assertTrue(os.path.exists(path))

    def test_tokenize_roundtrip_writes_readable_midi(self):
        src = os.path.join(self.dir, self.good[0])
        for name in ("notes", "seed", "events", "beats"):
            out = os.path.join(self.tmp.name, f"{name}.mid")
            r = run("tokenize", src, "--tokenizer", name, "--json", "--roundtrip", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            j = json.loads(r.stdout)
            self.assertEqual(j["names"][0], "BOS")
            self.assertEqual(j["names"][-1], "EOS")
            self.assertEqual(len(j["names"]), len(j["tokens"]))
            self.assertEqual(j["roundtrip"]["repairs"], 0)
            notes = sum(1 for t in mido.MidiFile(out).tracks for m in t if m.type == "note_on" and m.velocity > 0)
            self.assertEqual(notes, j["roundtrip"]["notes"], name)
            self.assertGreater(notes, 0)
        text = run("tokenize", src, "--tokenizer", "beats", "--config", '{"bars": true}')
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("BAR", text.stdout)
        bad = run("tokenize", src, "--config", "{nope")
        self.assertEqual(bad.returncode, 2)


if __name__ == "__main__":
    skip_common.main()
