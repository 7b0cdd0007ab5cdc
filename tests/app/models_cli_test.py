# `etude export` and `etude evaluate` end to end on a tiny run trained on a slice of the shared
# corpus: evaluate reproduces the loss training recorded, export stores bf16 weights with the card
# (validation re-measured on the stored weights, compact n-gram index), and bad input is one line
# with exit code 2.
import base64
import json
import sys
import tempfile
import unittest
from pathlib import Path

from train_common import FAST, etude, have_inputs, history, make_slice

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402


def header(path):
    b = Path(path).read_bytes()
    n = int.from_bytes(b[:8], "little")
    return json.loads(b[8:8 + n])


@unittest.skipUnless(have_inputs(), "needs ETUDE_BIN and ETUDE_CORPUS (Chopin preludes)")
class ModelsCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="etude-models-cli-")
        cls.tmp = Path(cls.tmpdir.name)
        cls.slice = make_slice(cls.tmp)
        cls.rundir = cls.tmp / "run"
        etude("train", cls.slice, "--out", cls.rundir, *FAST, "--epochs", "2", "--checkpoint-every", "1",
              "--val-fraction", "0.34", "--transpose", "0", "--device", "cpu")  # evaluate's device: exact

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def evaluate(self, model, *extra):
        return json.loads(etude("evaluate", "--model", model, self.slice, "--json", "--threads", 1, *extra).stdout)

    def test_evaluate_reproduces_training_validation_loss(self):
        rows = history(self.rundir)
        for row in rows:
            ckpt = self.rundir / "checkpoints" / f"epoch-{int(row['epoch']):04d}.safetensors"
            out = self.evaluate(ckpt, "--val-fraction", "0.34")
            self.assertAlmostEqual(out["loss"], float(row["val_loss"]), delta=1e-4)
            self.assertAlmostEqual(out["accuracy"], float(row["val_accuracy"]), delta=1e-4)
        # another split is another number: the fraction is part of what is reproduced
        other = self.evaluate(self.rundir / "best.safetensors", "--val-fraction", "0.1")
        self.assertNotEqual(other["tokens"], self.evaluate(self.rundir / "best.safetensors", "--val-fraction", "0.34")["tokens"])

    def test_export_stores_bf16_with_card_and_measured_loss(self):
        card_in = self.tmp / "card.json"
        card_in.write_text(json.dumps({"name": "slice", "license": "CC BY-SA 3.0 DE", "epoch": 2}))
        out = self.tmp / "models" / "slice.safetensors"
        out.parent.mkdir(exist_ok=True)
        r = etude("export", self.rundir / "checkpoints" / "epoch-0002.safetensors", "--out", out, "--card", card_in,
                  "--corpus", self.slice, "--val-fraction", "0.34", "--threads", 1)
        self.assertIn("BF16", r.stdout)
        h = header(out)
        meta = h.pop("__metadata__")
        self.assertEqual({t["dtype"] for t in h.values()}, {"BF16"})
        card = json.loads(meta["etude.card"])
        self.assertEqual(card["name"], "slice")
        self.assertEqual(card["storage"], "BF16")
        self.assertEqual(card["training_record"]["epoch"], 2)
        grams = base64.b64decode(meta["etude.ngrams"])  # compact form: 32-bit hashes as delta varints
        self.assertEqual(grams[:8], b"ETNGRAM3")
        self.assertEqual(grams[12], 32)  # the hash width
        at = 21
        for _ in range(int.from_bytes(grams[13:21], "little")):
            at += 8 + int.from_bytes(grams[at:at + 8], "little")
        entries = int.from_bytes(grams[at:at + 8], "little")
        self.assertGreater(entries, 300)
        self.assertLess(len(grams) - at - 8, 5 * entries)
        self.assertLess(out.stat().st_size, (self.rundir / "best.safetensors").stat().st_size * 0.6)
        # the card's loss is the stored weights': evaluate gives it back exactly, near the f32 one
        again = self.evaluate(out)
        self.assertEqual(again["fraction"], 0.34)  # taken from the card
        self.assertAlmostEqual(again["loss"], card["validation"]["loss"], delta=1e-6)
        self.assertAlmostEqual(again["difference"], 0.0, delta=1e-6)
        self.assertAlmostEqual(again["loss"], float(history(self.rundir)[1]["val_loss"]), delta=0.02)
        # the shipped file composes and lists with its card
        styles = json.loads(etude("styles", "--models", out.parent, "--json").stdout)
        self.assertEqual(styles[0]["card"]["model_card"]["name"], "slice")
        etude("compose", "--model", out, "--out", self.tmp / "x.mid", "--length", 100, "--threads", 1)

    def test_bad_input_is_one_line_and_exit_2(self):
        bad = self.tmp / "bad.json"
        bad.write_text("{not json")
        cases = [
            ["export", self.rundir / "best.safetensors", "--out", self.tmp / "o.safetensors", "--card", bad],
            ["export", self.tmp / "missing.safetensors", "--out", self.tmp / "o.safetensors"],
            ["export", self.rundir / "best.safetensors", "--out", self.tmp / "o.safetensors", "--dtype", "f8"],
            ["evaluate", "--model", self.rundir / "best.safetensors", self.tmp / "no-such-folder"],
            ["evaluate", "--model", bad, self.slice],
        ]
        for args in cases:
            with self.subTest(args[:2]):
                r = etude(*args, check=False)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        empty = self.tmp / "empty"
        empty.mkdir()
        r = etude("evaluate", "--model", self.rundir / "best.safetensors", empty, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no usable MIDI files", r.stderr)


if __name__ == "__main__":
    skip_common.main()
