# The style models shipped in models/: each loads, is stored in bf16/f16 and stays small, carries a
# complete model card (source, license and attribution, epoch and why, reproduce command), composes
# 500 tokens with no repairs (20 seeds: short repeated-token runs and verbatim copies, as the card
# says), and `etude evaluate` on the shared corpus reproduces the validation loss its card states.
import json
import os
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

ETUDE = os.environ.get("ETUDE_BIN", "")
CORPUS = Path(os.environ.get("ETUDE_CORPUS", "/nonexistent"))
MODELS = Path(os.environ.get("ETUDE_SOURCE", Path(__file__).resolve().parents[2])) / "models"
NAMES = ["chopin", "mozart", "beethoven", "schubert", "all-composers"]
LOSS_TOLERANCE = 1e-3  # nats/token: the same weights and windows; only summation order may differ
MAX_BYTES = 22_000_000 // 2  # the original shipped 22 MB per model; ours stay under half of that


def etude(*args):
    r = subprocess.run([ETUDE, *map(str, args)], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"etude {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}")
    return r.stdout


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


@unittest.skipUnless(ETUDE and Path(ETUDE).exists(), "needs ETUDE_BIN")
class ShippedModels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.styles = {s["name"]: s for s in json.loads(etude("styles", "--models", MODELS, "--json"))}

    def test_every_style_is_shipped_small_and_in_half_precision(self):
        for name in NAMES:
            with self.subTest(name):
                path = MODELS / f"{name}.safetensors"
                self.assertTrue(path.is_file(), path)
                self.assertLess(path.stat().st_size, MAX_BYTES)
                dtypes = {t["dtype"] for k, t in header(path).items() if k != "__metadata__"}
                self.assertTrue(dtypes <= {"BF16", "F16"}, dtypes)
                self.assertNotIn("error", self.styles[name])

    def test_styles_prints_each_card(self):
        text = etude("styles", "--models", MODELS)
        for name in NAMES:
            with self.subTest(name):
                line = text.split(name, 1)[1].split("\n")[1]  # the card line follows the style's line
                self.assertIn("card: preset small, BF16 weights, epoch", line)
                self.assertIn("CC BY-SA", line)

    def test_cards_are_complete(self):
        for name in NAMES:
            with self.subTest(name):
                card = self.styles[name]["card"]["model_card"]
                self.assertIn("CC BY-SA", card["license"])
                self.assertIn("Bernd Krueger", card["attribution"])
                self.assertIn("piano-midi.de", card["attribution"])
                self.assertEqual(card["tokenizer"], self.styles[name]["tokenizer"])
                self.assertLessEqual(card["epoch"], card["epochs_trained"])
                self.assertTrue(card["why"])
                self.assertIn(f"--epochs {card['epoch']}", card["reproduce"])
                self.assertGreater(card["training"]["seconds"], 0)
                self.assertIn(card["storage"], ("BF16", "F16"))
                self.assertEqual(card["samples"]["pieces"], 20)
                self.assertLessEqual(card["samples"]["longest_repeat"]["mean"], 8)

    def test_compose_500_tokens_without_repairs_or_long_repeats(self):
        # the acceptance run: 20 seeds per style at default settings (500 tokens, T 1, top-p 0.95)
        with tempfile.TemporaryDirectory() as tmp:
            for name in NAMES:
                with self.subTest(name):
                    report = Path(tmp) / f"{name}.json"
                    etude("compose", "--style", name, "--models", MODELS, "--out", Path(tmp) / f"{name}.mid",
                          "--count", 20, "--seed", 1, "--threads", 1, "--report", report)
                    pieces = json.loads(report.read_text())["pieces"]
                    self.assertEqual(len(pieces), 20)
                    for p in pieces:
                        self.assertEqual(p["repairs"], 0)
                        self.assertEqual(p["tokens"], 500)
                        self.assertGreater(p["notes"], 50)
                    repeats = [p["longest_repeated_token"]["length"] for p in pieces]
                    self.assertLessEqual(sum(repeats) / len(repeats), 8, repeats)
                    copies = sorted(p["copying"]["longest_copied_run"] for p in pieces)
                    self.assertLessEqual(copies[len(copies) // 2], 16, copies)  # median copy stays short
                    # what the card reports is what etude composes today (same seeds and settings)
                    card = self.styles[name]["card"]["model_card"]["samples"]
                    self.assertEqual(max(copies), card["longest_copy"]["max"])
                    self.assertAlmostEqual(sum(repeats) / len(repeats), card["longest_repeat"]["mean"], delta=0.5)

    @unittest.skipUnless(CORPUS.is_dir(), "needs ETUDE_CORPUS (the shared piano-midi corpus)")
    def test_evaluate_reproduces_the_cards_validation_loss(self):
        for name in NAMES:
            with self.subTest(name):
                card = self.styles[name]["card"]["model_card"]
                folder = CORPUS / card["source"]["folder"]
                out = json.loads(etude("evaluate", "--model", MODELS / f"{name}.safetensors", folder, "--json", "--threads", 1))
                self.assertEqual(out["pieces"], card["validation"]["pieces"])
                self.assertEqual(out["tokens"], card["validation"]["tokens"])
                self.assertAlmostEqual(out["loss"], card["validation"]["loss"], delta=LOSS_TOLERANCE)
                self.assertAlmostEqual(out["accuracy"], card["validation"]["accuracy"], delta=1e-3)
                # and the card is honest about the training run: bf16 storage moves the loss only a little
                self.assertAlmostEqual(out["loss"], card["training_val_loss"], delta=0.02)


if __name__ == "__main__":
    unittest.main()
