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
from train_common import CORPUS, ETUDE, etude  # noqa: E402

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
