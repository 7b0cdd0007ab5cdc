# `etude compose` and `etude styles` end to end: a tiny model trained by `etude train` on the
# shared corpus's Bach folder, composed with MIDI + WAV + PDF + report, --style lookup, batched
# --count equal to single seeds, primer continuation, and bad input (one line, exit code 2).
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import wave
from pathlib import Path

import mido
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

ETUDE = os.environ.get("ETUDE_BIN", "")
CORPUS = Path(os.environ.get("ETUDE_CORPUS", "/nonexistent"))
BACH = CORPUS / "Bach"


def etude(*args, check=True, env_extra=None):
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_extra or {}))
    r = subprocess.run([ETUDE, *map(str, args)], capture_output=True, text=True, timeout=600, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"etude {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}")
    return r


@unittest.skipUnless(ETUDE and Path(ETUDE).exists() and BACH.is_dir(), "needs ETUDE_BIN and ETUDE_CORPUS")
class ComposeCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="etude-compose-cli-"))
        etude("train", BACH, "--out", cls.tmp / "run", "--tokenizer", "beats", "--preset", "small", "--epochs", "1",
              "--seq", "32", "--batch", "16", "--threads", "1", "--val-fraction", "0.34", "--transpose", "0")
        cls.models = cls.tmp / "models"
        cls.models.mkdir()
        cls.model = cls.models / "bach.safetensors"
        shutil.copy(cls.tmp / "run" / "best.safetensors", cls.model)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_compose_with_audio_score_and_report(self):
        out = self.tmp / "piece.mid"
        r = etude("compose", "--model", self.model, "--out", out, "--length", "300", "--seed", "3",
                  "--wav", self.tmp / "piece.wav", "--score", self.tmp / "piece.pdf", "--report", self.tmp / "r.json")
        lines = r.stdout.strip().split("\n")
        self.assertIn("notes", lines[0])
        self.assertIn("longest copied run", lines[0])
        self.assertIn("key", lines[0])
        rep = json.loads((self.tmp / "r.json").read_text())
        piece = rep["pieces"][0]
        self.assertEqual(piece["tokens"], 300)
        self.assertEqual(piece["repairs"], 0)
        self.assertEqual(piece["seed"], 3)
        self.assertEqual(piece["copying"]["ngram"], 8)
        self.assertGreaterEqual(piece["copying"]["copied_ngram_share"], 0.0)
        self.assertLessEqual(piece["copying"]["copied_ngram_share"], 1.0)
        self.assertIn(piece["key"]["name"].split()[1], ("major", "minor"))
        # The MIDI file: mido reads it, as many notes and as long as the report says.
        mid = mido.MidiFile(out)
        notes = sum(1 for t in mid.tracks for m in t if m.type == "note_on" and m.velocity > 0)
        self.assertEqual(notes, piece["notes"])
        self.assertAlmostEqual(mid.length, piece["seconds"], delta=0.05)
        lows = [m.note for t in mid.tracks for m in t if m.type == "note_on" and m.velocity > 0]
        self.assertEqual(min(lows), piece["pitch_range"]["lowest"])
        # The WAV: as long as the piece (plus the 1.5 s release) and not silent.
        with wave.open(str(self.tmp / "piece.wav")) as w:
            self.assertEqual(w.getnchannels(), 2)
            seconds = w.getnframes() / w.getframerate()
            x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
        self.assertAlmostEqual(seconds, piece["seconds"] + 1.5, delta=0.01)
        self.assertGreater(np.sqrt(np.mean(x * x)), 100.0)
        # The score: a PDF LilyPond wrote.
        self.assertEqual((self.tmp / "piece.pdf").read_bytes()[:5], b"%PDF-")

    def test_style_lookup_and_styles_listing(self):
        r = etude("styles", "--models", self.models)
        self.assertIn("bach", r.stdout)
        self.assertIn("tokenizer beats", r.stdout)
        self.assertIn("validation loss", r.stdout)
        listed = json.loads(etude("styles", "--json", env_extra={"ETUDE_MODELS": str(self.models)}).stdout)
        self.assertEqual(listed[0]["name"], "bach")
        self.assertIn("val_loss", listed[0]["card"])
        a, b = self.tmp / "style.mid", self.tmp / "model.mid"
        etude("compose", "--style", "bach", "--models", self.models, "--out", a, "--seed", "9", "--length", "120")
        etude("compose", "--model", self.model, "--out", b, "--seed", "9", "--length", "120")
        self.assertEqual(a.read_bytes(), b.read_bytes())
        c = self.tmp / "other.mid"
        etude("compose", "--model", self.model, "--out", c, "--seed", "10", "--length", "120")
        self.assertNotEqual(a.read_bytes(), c.read_bytes())

    def test_count_equals_single_seeds(self):
        etude("compose", "--model", self.model, "--out", self.tmp / "batch.mid", "--count", "3", "--seed", "20",
              "--length", "200")
        for i in range(3):
            single = self.tmp / f"single{i}.mid"
            etude("compose", "--model", self.model, "--out", single, "--seed", str(20 + i), "--length", "200")
            self.assertEqual((self.tmp / f"batch-{i + 1}.mid").read_bytes(), single.read_bytes(), f"stream {i}")

    def test_primer_is_continued(self):
        primer = sorted(BACH.glob("*.mid"))[0]
        r = etude("compose", "--model", self.model, "--out", self.tmp / "cont.mid", "--primer", primer,
                  "--primer-seconds", "5", "--length", "100", "--report", self.tmp / "cont.json")
        kept = etude("compose", "--model", self.model, "--out", self.tmp / "kept.mid", "--primer", primer,
                     "--primer-seconds", "5", "--length", "100", "--keep-primer")
        cont = mido.MidiFile(self.tmp / "cont.mid")
        whole = mido.MidiFile(self.tmp / "kept.mid")
        n = lambda m: sum(1 for t in m.tracks for e in t if e.type == "note_on" and e.velocity > 0)
        self.assertGreater(n(whole), n(cont))  # the primer's notes come only with --keep-primer
        self.assertGreater(whole.length, cont.length)
        self.assertEqual(json.loads((self.tmp / "cont.json").read_text())["pieces"][0]["tokens"], 100)

    def test_tempo_and_seconds(self):
        out = self.tmp / "timed.mid"
        etude("compose", "--model", self.model, "--out", out, "--seconds", "8", "--tempo", "60", "--program", "19")
        mid = mido.MidiFile(out)
        self.assertLessEqual(abs(mid.length - 8), 1.0)  # 8 s as played at 60 BPM, within a beat
        self.assertEqual({m.tempo for t in mid.tracks for m in t if m.type == "set_tempo"}, {1000000})
        programs = {m.program for t in mid.tracks for m in t if m.type == "program_change"}
        self.assertEqual(programs, {19})

    def test_bad_input_one_line_exit_2(self):
        junk = self.tmp / "junk.safetensors"
        junk.write_bytes(b"\x00" * 64)
        text = self.tmp / "notes.txt"
        text.write_text("not a midi file\n")
        cases = {
            "missing model": ["--model", self.tmp / "nope.safetensors"],
            "corrupt model": ["--model", junk],
            "primer not MIDI": ["--model", self.model, "--primer", text],
            "unknown style": ["--style", "chopin", "--models", self.models],
            "unwritable output": ["--model", self.model, "--out", "/proc/etude-cannot-write/x.mid"],
            "unwritable wav": ["--model", self.model, "--wav", "/proc/etude-cannot-write/x.wav"],
        }
        for what, args in cases.items():
            with self.subTest(what):
                if "--out" not in args:
                    args = args + ["--out", self.tmp / "bad.mid"]
                r = etude("compose", "--length", "20", *args, check=False)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.strip().split("\n")), 1, r.stderr)
                self.assertTrue(r.stderr.startswith("etude: "), r.stderr)
        r = etude("compose", "--model", self.model, "--out", self.tmp / "x.mid", "--top-p", "0", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("top-p", r.stderr)


if __name__ == "__main__":
    skip_common.main(verbosity=2)
