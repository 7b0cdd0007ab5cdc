# CLI tests for `etude inspect`, `scan` and `convert`: help text, exit codes (0 ok, 1 usage, 2 bad
# input with one stderr line), JSON fields, lenient reading, and a convert round trip on the corpus.
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

ETUDE = os.environ.get("ETUDE_BIN", "build/etude")
CORPUS = os.environ.get("ETUDE_CORPUS", "")

NOTE = bytes([0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0])
EOT = bytes([0x00, 0xFF, 0x2F, 0x00])


def smf(*tracks, fmt=1, division=96):
    out = b"MThd" + (6).to_bytes(4, "big") + bytes([0, fmt]) + len(tracks).to_bytes(2, "big") + division.to_bytes(2, "big")
    for t in tracks:
        out += b"MTrk" + len(t).to_bytes(4, "big") + t
    return out


def run(*args):
    return subprocess.run([ETUDE, *args], capture_output=True, text=True)


def corpus_file():
    if not os.path.isdir(CORPUS):
        return None
    for d, _, files in sorted(os.walk(CORPUS)):
        for f in sorted(files):
            if f.endswith(".mid"):
                return os.path.join(d, f)
    return None


class MidiCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_help_is_complete(self):
        top = run("--help")
        self.assertEqual(top.returncode, 0)
        for cmd in ("inspect", "scan", "convert"):
            self.assertIn(cmd, top.stdout)
        for cmd, flags in {"inspect": ["--json", "--lenient", "file"], "scan": ["--json", "--lenient", "--threads", "dir"],
                           "convert": ["--piano", "--lenient", "in", "out"]}.items():
            r = run(cmd, "--help")
            self.assertEqual(r.returncode, 0, cmd)
            for flag in flags:
                self.assertIn(flag, r.stdout, f"{cmd} --help lacks {flag}")

    def test_usage_errors_exit_1(self):
        for args in ([], ["inspect"], ["inspect", "--bogus", "x.mid"], ["convert", "a.mid"], ["nosuchcommand"]):
            r = run(*args)
            self.assertEqual(r.returncode, 1, args)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_bad_input_exits_2_with_one_line(self):
        text = self.write("notes.mid", b"hello, not midi")
        truncated = self.write("cut.mid", smf(NOTE + EOT)[:-3])
        for path, expected in ((text, "byte offset 0: not a MIDI file"), (truncated, "track 0, byte offset 18: truncated chunk"),
                               (os.path.join(self.dir, "missing.mid"), "cannot open")):
            r = run("inspect", path)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn(expected, r.stderr)
            self.assertIn(path, r.stderr)

    def test_inspect_json_and_lenient(self):
        path = self.write("cut.mid", smf(NOTE + EOT, NOTE + NOTE + EOT)[:-7])
        r = run("inspect", "--json", "--lenient", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual(j["format"], 1)
        self.assertEqual(j["division"], {"ticks_per_beat": 96})
        self.assertEqual(len(j["tracks"]), 2)
        self.assertEqual(j["note_count"], 3)
        self.assertTrue(j["warnings"])
        note = j["notes"][0]
        for key in ("pitch", "velocity", "start", "end", "channel", "program", "track"):
            self.assertIn(key, note)
        self.assertEqual((note["pitch"], note["velocity"], note["start"], note["end"]), (60, 100, 0.0, 0.5))
        text = run("inspect", "--lenient", path)
        self.assertEqual(text.returncode, 0)
        self.assertIn("warning:", text.stdout)

    def test_scan_reports_each_file_and_fails_on_bad_ones(self):
        self.write("good.mid", smf(NOTE + EOT))
        os.makedirs(os.path.join(self.dir, "sub"))
        self.write("sub/other.MIDI", smf(NOTE + NOTE + EOT))
        self.write("ignored.txt", b"not scanned")
        ok = run("scan", "--json", self.dir)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        j = json.loads(ok.stdout)
        self.assertEqual((j["files"], j["ok"], j["failed"], j["notes"]), (2, 2, 0, 3))
        bad = self.write("bad.kar", smf(NOTE + EOT)[:-2])
        r = run("scan", self.dir)
        self.assertEqual(r.returncode, 2)
        self.assertIn("FAIL  " + bad, r.stdout)
        self.assertIn("3 files, 2 ok, 1 failed", r.stdout)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        lenient = run("scan", "--lenient", self.dir)
        self.assertEqual(lenient.returncode, 0, lenient.stdout)
        self.assertIn("warn  " + bad, lenient.stdout)
        self.assertEqual(run("scan", os.path.join(self.dir, "good.mid")).returncode, 2)

    def test_convert_round_trip_on_a_corpus_file(self):
        src = corpus_file()
        if src is None:
            self.skipTest("ETUDE_CORPUS is not set")
        out = os.path.join(self.dir, "out.mid")
        r = run("convert", src, out)
        self.assertEqual(r.returncode, 0, r.stderr)
        a, b = (json.loads(run("inspect", "--json", p).stdout) for p in (src, out))
        self.assertEqual(a["notes"], b["notes"])
        self.assertEqual(a["tempo_map"], b["tempo_map"])
        self.assertEqual(a["duration"], b["duration"])
        piano = os.path.join(self.dir, "piano.mid")
        self.assertEqual(run("convert", "--piano", src, piano).returncode, 0)
        p = json.loads(run("inspect", "--json", piano).stdout)
        self.assertEqual(p["format"], 0)
        self.assertEqual(len(p["notes"]), len(a["notes"]))
        self.assertEqual({(n["channel"], n["program"], n["track"]) for n in p["notes"]}, {(0, 0, 0)})

    def test_convert_score_keeps_the_files_key_and_time_signature(self):
        src = os.path.join(CORPUS, "Chopin", "chpn-p7.mid")  # A major, 3/4
        if not os.path.isfile(src):
            self.skipTest("ETUDE_CORPUS is not set")
        xml = os.path.join(self.dir, "p7.musicxml")
        r = run("convert", src, os.path.join(self.dir, "p7.mid"), "--score", xml)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(xml) as f:
            text = f.read()
        self.assertIn("<key><fifths>3</fifths><mode>major</mode></key>", text)
        self.assertIn("<time><beats>3</beats><beat-type>4</beat-type></time>", text)
        self.assertNotIn("<step>G</step><alter>-1</alter>", text)  # F# is never Gb in A major
        out = os.path.join(self.dir, "never.mid")
        r = run("convert", src, out, "--score", os.path.join(self.dir, "p7.doc"))
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertFalse(os.path.exists(out))  # refused before anything is written


if __name__ == "__main__":
    skip_common.main()
