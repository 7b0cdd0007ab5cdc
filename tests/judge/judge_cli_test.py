# CLI tests for `etude judge`: random-pitch pieces written with mido score far below the human
# ceiling against Chopin; the JSON's overlaps agree with an independent numpy kernel density
# overlap of the values it lists; the table; bad input (not MIDI, too few pieces, flags) and exit codes.
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import mido
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

ETUDE = os.environ.get("ETUDE_BIN", "build/etude")
CORPUS = os.environ.get("ETUDE_CORPUS", "")
CHOPIN = os.path.join(CORPUS, "Chopin")


def run(*args):
    return subprocess.run([ETUDE, *args], capture_output=True, text=True)


def write_random_piece(path, seed, notes=140):
    rng = random.Random(seed)
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    events, beat = [], 0.0
    while len(events) < 2 * notes:
        for _ in range(rng.randint(1, 3)):
            pitch, start = rng.randint(36, 95), int(beat * 480)
            events += [(start, 1, pitch), (start + rng.choice([240, 480, 960]), 0, pitch)]
        beat += 0.5 * rng.randint(1, 4)
    events.sort()
    now = 0
    for tick, on, pitch in events:
        track.append(mido.Message("note_on" if on else "note_off", note=pitch, velocity=80, time=tick - now))
        now = tick
    mid.save(path)


def overlap_numpy(a, b):
    """Yang & Lerch's overlapping area, written independently: scipy-style Scott kernels, trapezoids."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ha = a.std(ddof=1) * len(a) ** -0.2 if len(a) > 1 else 0.0
    hb = b.std(ddof=1) * len(b) ** -0.2 if len(b) > 1 else 0.0
    if ha == 0 and hb == 0:
        return 1.0 if abs(a[0] - b[0]) < 1e-9 else 0.0
    ha, hb = ha or hb, hb or ha
    xs = np.linspace(min(a.min() - 6 * ha, b.min() - 6 * hb), max(a.max() + 6 * ha, b.max() + 6 * hb), 20001)

    def kde(v, h):
        z = (xs[:, None] - v[None, :]) / h
        return np.exp(-0.5 * z * z).sum(axis=1) / (len(v) * h * np.sqrt(2 * np.pi))

    return float(np.trapz(np.minimum(kde(a, ha), kde(b, hb)), xs))


@unittest.skipUnless(os.path.isdir(CHOPIN), "ETUDE_CORPUS with Chopin/ not found")
class JudgeCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pieces = []
        for seed in range(1, 6):
            path = os.path.join(cls.tmp.name, f"random-{seed}.mid")
            write_random_piece(path, seed)
            cls.pieces.append(path)
        r = run("judge", *cls.pieces, "--against", CHOPIN, "--json", "--threads", "2")
        assert r.returncode == 0, r.stderr
        cls.report = json.loads(r.stdout)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_random_pitches_score_far_below_the_ceiling(self):
        j = self.report
        self.assertEqual(len(j["pieces"]), 5)
        self.assertEqual(os.path.realpath(j["reference"]["split_root"]), os.path.realpath(CORPUS))
        self.assertGreater(j["ceiling_mean"], 0.5)
        self.assertLess(j["ratio"], 0.5)
        features = {f["name"]: f for f in j["features"]}
        self.assertEqual(len(features), 9)
        entropy = features["pitch_class_entropy"]
        self.assertGreater(entropy["pieces"]["median"], entropy["held_out"]["p90"])
        self.assertIsNone(features["copied_run"]["ceiling_overlap"])
        self.assertFalse(features["copied_run"]["in_mean"])
        in_mean = [f["overlap"] for f in j["features"] if f["in_mean"]]
        self.assertAlmostEqual(j["mean_overlap"], sum(in_mean) / len(in_mean), places=12)

    def test_overlaps_agree_with_numpy(self):
        j = self.report
        held = j["reference"]["held_out_excerpts"]
        self.assertGreaterEqual(len(held), 20)
        for f in j["features"]:
            name = f["name"]
            mine = [p["values"][name] for p in j["pieces"]]
            ref = [e["values"][name] for e in held]
            self.assertAlmostEqual(f["overlap"], overlap_numpy(mine, ref), delta=2e-3, msg=name)
            self.assertAlmostEqual(f["pieces"]["median"], float(np.median(mine)), places=9, msg=name)
            self.assertAlmostEqual(f["held_out"]["p10"], float(np.quantile(ref, 0.1)), places=9, msg=name)

    def test_table(self):
        r = run("judge", *self.pieces, "--against", CHOPIN, "--train-folder-is-the-same")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("of the ceiling", r.stdout)
        self.assertIn("pitch_class_entropy", r.stdout)
        self.assertIn("given: the folder itself", r.stdout)

    def test_bad_input(self):
        junk = os.path.join(self.tmp.name, "junk.mid")
        with open(junk, "w") as f:
            f.write("a shopping list, not MIDI\n")
        r = run("judge", junk, "--against", CHOPIN)
        self.assertEqual(r.returncode, 2)
        self.assertIn("junk.mid", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)

        lonely = os.path.join(self.tmp.name, "lonely")
        os.makedirs(lonely)
        os.link(self.pieces[0], os.path.join(lonely, "one.mid"))
        r = run("judge", self.pieces[1], "--against", lonely)
        self.assertEqual(r.returncode, 2)
        self.assertIn("1 usable MIDI piece", r.stderr)

        r = run("judge", self.pieces[1], "--against", os.path.join(self.tmp.name, "missing"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a folder", r.stderr)

        self.assertEqual(run("judge", self.pieces[1]).returncode, 1)  # --against is required
        self.assertEqual(run("judge", "--against", CHOPIN).returncode, 1)  # no pieces
        r = run("judge", self.pieces[1], "--against", CHOPIN, "--train-folder-is-the-same", "--split-root", CORPUS)
        self.assertEqual(r.returncode, 1)
        r = run("judge", self.pieces[1], "--against", CHOPIN, "--split-root", self.tmp.name)
        self.assertEqual(r.returncode, 2)
        self.assertIn("does not contain", r.stderr)


if __name__ == "__main__":
    skip_common.main()
