# Style conditioning end to end: a tiny conditioned model trained on two composers of the shared
# corpus (Chopin, Mozart), composing a style and a blend, the refusals (unknown style, bad blend),
# and fine-tuning a third composer (Grieg) from it with --from, in both --tune modes.
import json
import shutil
import struct
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import skip_common  # noqa: E402  (skips show as CTest skips)
except ImportError:  # pragma: no cover
    skip_common = None
from train_common import CORPUS, ETUDE, etude, history  # noqa: E402

PIECES = {"Chopin": ["chpn-p7.mid", "chpn-p20.mid", "chpn-p9.mid"],
          "Mozart": ["mz_311_1.mid", "mz_330_1.mid"],
          "Grieg": ["grieg_walzer.mid", "grieg_waechter.mid"]}
FAST = ["--seq", "32", "--batch", "16", "--threads", "1", "--transpose", "0"]


def header(path):
    b = Path(path).read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def tensor(path, name):
    h, data = header(path)
    lo, hi = h[name]["data_offsets"]
    return np.frombuffer(data[lo:hi], dtype=np.float32).reshape(h[name]["shape"])


@unittest.skipUnless(ETUDE and all((CORPUS / s / f).exists() for s, fs in PIECES.items() for f in fs),
                     "needs ETUDE_BIN and the shared corpus")
class Styles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory()
        cls.tmp = Path(cls.tmpdir.name)
        cls.env = {"XDG_CACHE_HOME": str(cls.tmp / "cache")}
        for style in ("Chopin", "Mozart", "Grieg"):
            d = (cls.tmp / ("two" if style != "Grieg" else "new") / style)
            d.mkdir(parents=True)
            for f in PIECES[style]:
                shutil.copy(CORPUS / style / f, d / f)
        cls.base = cls.tmp / "base"
        etude("train", cls.tmp / "two", "--out", cls.base, "--preset", "small", "--epochs", "2", *FAST,
              env_extra=cls.env)
        cls.model = cls.base / "best.safetensors"

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def test_conditioned_model_file(self):
        h, _ = header(self.model)
        self.assertEqual(h["style_embedding.weight"]["shape"], [2, 256])
        self.assertEqual(json.loads(h["__metadata__"]["etude.styles"]), ["Chopin", "Mozart"])
        self.assertEqual(json.loads(h["__metadata__"]["etude.model"])["input"]["styles"], 2)
        rows = tensor(self.model, "style_embedding.weight")
        self.assertGreater(float(np.abs(rows).max()), 0.0)  # the rows learned (they start at zero)
        hist = (self.base / "history.csv").read_text().splitlines()
        self.assertIn("val_pitch_loss", hist[0])
        cols = hist[0].split(",")
        last = hist[-1].rsplit(",", 4)
        self.assertTrue(all(float(v) > 0 for v in last[1:]), hist[-1])  # pitch, duration, velocity, time
        self.assertEqual(len(cols), 15)

    def test_compose_style_and_blend(self):
        outs = {}
        for style in ("Chopin", "mozart", "chopin:0.7,Mozart:0.3"):
            out = self.tmp / f"{style.replace(':', '_').replace(',', '_')}.mid"
            r = etude("compose", "--model", self.model, "--style", style, "--length", "120", "--seed", "3",
                      "--out", out, "--report", out.with_suffix(".json"))
            self.assertIn("style:", r.stdout)
            outs[style] = out.read_bytes()
            self.assertIn("style", json.loads(out.with_suffix(".json").read_text()))
        self.assertNotEqual(outs["Chopin"], outs["mozart"])  # the style changes the piece (same seed)

    def test_style_strength(self):
        outs = {}
        for strength in ("1", "2", "3"):
            out = self.tmp / f"strength-{strength}.mid"
            etude("compose", "--model", self.model, "--style", "Mozart", "--style-strength", strength,
                  "--length", "120", "--seed", "5", "--out", out)
            outs[strength] = out.read_bytes()
        default = self.tmp / "strength-default.mid"
        etude("compose", "--model", self.model, "--style", "Mozart", "--length", "120", "--seed", "5", "--out", default)
        self.assertEqual(default.read_bytes(), outs["2"])  # the default is 2
        self.assertNotEqual(outs["1"], outs["3"])
        r = etude("compose", "--model", self.model, "--style-strength", "9", "--out", self.tmp / "bad.mid", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)  # outside 0..8: a usage error

    def test_calibrated_pitch_temperatures(self):
        # export --calibrate: each style gets the pitch temperature at which its pieces' pitch-class
        # entropy meets its training pieces' (a line fitted over a grid); compose uses it unless
        # --pitch-temperature is given, and a blend the weighted mean.
        cal = self.tmp / "calibrated.safetensors"
        r = etude("export", self.model, "--out", cal, "--dtype", "f32", "--corpus", self.tmp / "two", "--calibrate",
                  "--threads", "1", env_extra=self.env)
        self.assertIn("calibrate Chopin", r.stdout)
        meta = header(cal)[0]["__metadata__"]
        temps = json.loads(meta["etude.pitch_temperatures"])
        self.assertEqual(sorted(temps), ["Chopin", "Mozart"])
        card = json.loads(meta["etude.card"])
        for style, t in temps.items():
            self.assertTrue(0.5 <= t <= 1.0, (style, t))
            d = card["pitch_temperatures"]["styles"][style]
            xs = [x["pitch_temperature"] for x in d["tries"]]
            ys = [x["entropy"] for x in d["tries"]]
            self.assertEqual(len(xs), 6)
            self.assertAlmostEqual(xs[0], 0.5, places=5)
            self.assertAlmostEqual(xs[-1], 1.0, places=5)
            slope, icept = np.polyfit(xs, ys, 1)
            self.assertAlmostEqual(slope, d["slope"], places=4)
            if slope > 0:
                expect = min(max((d["target_entropy"] - icept) / slope, 0.5), 1.0)
            else:
                expect = min(xs, key=lambda x: abs(ys[xs.index(x)] - d["target_entropy"]))
            self.assertAlmostEqual(t, expect, places=2)
        for style, expect in (("Chopin", temps["Chopin"]), ("chopin:0.25,mozart:0.75",
                                                            0.25 * temps["Chopin"] + 0.75 * temps["Mozart"])):
            r = etude("compose", "--model", cal, "--style", style, "--length", "40", "--out", self.tmp / "cal.mid")
            self.assertIn(f"pitch temperature {expect:.3g} (the style's)", r.stdout)
        r = etude("compose", "--model", cal, "--style", "Chopin", "--pitch-temperature", "0.7", "--length", "40",
                  "--out", self.tmp / "cal.mid")
        self.assertRegex(r.stdout, r"pitch temperature 0.7\n")
        r = etude("compose", "--model", cal, "--style", "Chopin", "--pitch-temperature", "0", "--out", self.tmp / "x.mid",
                  check=False)
        self.assertEqual(r.returncode, 1)

    def test_bad_styles_are_refused_in_one_line(self):
        cases = {"unknown": ("Grieg", "Chopin, Mozart"), "bad weight": ("chopin:x", "not a number"),
                 "negative": ("chopin:-1", "not a number"), "zero sum": ("chopin:0,mozart:0", "sum to zero"),
                 "empty name": ("chopin:1,", "empty style name")}
        for what, (style, says) in cases.items():
            with self.subTest(what):
                r = etude("compose", "--model", self.model, "--style", style, "--out", self.tmp / "bad.mid",
                          check=False)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.strip().split("\n")), 1, r.stderr)
                self.assertIn(says, r.stderr)
        r = etude("compose", "--style", "Grieg", "--models", self.base, "--out", self.tmp / "bad.mid", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown style", r.stderr)

    def test_fine_tune_adds_a_style_and_keeps_the_old(self):
        for tune in ("all", "styles"):
            with self.subTest(tune):
                run = self.tmp / f"ft-{tune}"
                etude("train", self.tmp / "new", "--from", self.model, "--out", run, "--epochs", "1", "--tune", tune,
                      *FAST, env_extra=self.env)
                ft = run / "best.safetensors"
                h, _ = header(ft)
                self.assertEqual(json.loads(h["__metadata__"]["etude.styles"]), ["Chopin", "Mozart", "Grieg"])
                old, new = tensor(self.model, "style_embedding.weight"), tensor(ft, "style_embedding.weight")
                if tune == "styles":  # only Grieg's row moved; every other weight is the base's
                    np.testing.assert_array_equal(new[:2], old)
                    np.testing.assert_array_equal(tensor(ft, "lstm.0.weight_ih_l0"), tensor(self.model, "lstm.0.weight_ih_l0"))
                    self.assertFalse(np.array_equal(new[2], old.mean(axis=0)))
                for style in ("Grieg", "Chopin"):
                    etude("compose", "--model", ft, "--style", style, "--length", "60", "--out", run / f"{style}.mid")

    def test_fine_tuning_beats_scratch_on_the_same_budget(self):
        # The small version of the Grieg experiment (README "Fine-tuning your own style"): on two
        # Grieg pieces, one epoch from the base reaches a lower held-out loss, pitch loss included,
        # than one epoch of the same network from scratch.
        runs = {}
        for name, args in (("ft", ["--from", self.model]), ("scratch", ["--preset", "small"])):
            runs[name] = self.tmp / f"budget-{name}"
            etude("train", self.tmp / "new", "--out", runs[name], "--epochs", "1", *args, *FAST, env_extra=self.env)
        ft, scratch = (history(runs[k])[-1] for k in ("ft", "scratch"))
        for column in ("val_loss", "val_pitch_loss"):
            self.assertLess(float(ft[column]), float(scratch[column]) - 0.1, column)

    def test_from_refuses_before_writing(self):
        bad = self.tmp / "corrupt.safetensors"
        data = bytearray(self.model.read_bytes())
        data[10:40] = b"x" * 30
        bad.write_bytes(bytes(data))
        cases = {"corrupt base": ["--from", bad], "missing base": ["--from", self.tmp / "nope.safetensors"],
                 "another tokenizer": ["--from", self.model, "--tokenizer", "events"]}
        for what, args in cases.items():
            with self.subTest(what):
                run = self.tmp / f"refused-{what.replace(' ', '-')}"
                r = etude("train", self.tmp / "new", "--out", run, *args, *FAST, check=False, env_extra=self.env)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.strip().split("\n")), 1, r.stderr)
                self.assertFalse(run.exists(), f"{what}: {run} was written")


if __name__ == "__main__":
    if skip_common:
        skip_common.main(verbosity=2)
    else:
        unittest.main(verbosity=2)
