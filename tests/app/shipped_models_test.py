# The models shipped in models/: `piano`, the style-conditioned base model (the piano-midi composers
# and Pop from POP909 as style rows), and `all-composers`, its unconditioned ancestor. Each loads, is
# stored in bf16/f16, carries a complete model card, composes 500 tokens with no repairs (piano: a
# few of its styles and a blend), and `etude evaluate` on the shared corpus reproduces the
# validation losses its card states (piano: per style, for two styles). Every figure compared comes
# from the card: the piano file is replaced by longer-trained ones with the same card fields, and
# this test must hold for each of them.
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
try:
    import skip_common  # noqa: E402  (skips show as CTest skips, saying why)
except ImportError:  # pragma: no cover
    skip_common = None

ETUDE = os.environ.get("ETUDE_BIN", "")
CORPUS = Path(os.environ.get("ETUDE_CORPUS", "/nonexistent"))  # the shared piano-midi corpus
POP909 = CORPUS.parent / "pop909"  # its sibling: ../shared/corpora/pop909
MODELS = Path(os.environ.get("ETUDE_SOURCE", Path(__file__).resolve().parents[2])) / "models"
BASE, ANCESTOR = "piano", "all-composers"
NAMES = [BASE, ANCESTOR]
# The single-style models the judge showed worse than piano's rows (models/README.md); gone, so
# that `--style chopin` composes piano's Chopin row.
REMOVED = ["chopin", "mozart", "beethoven", "schubert"]
# Rows the README and `make demo` promise, and the styles composed here (a name as typed, and a blend).
PROMISED = ["Chopin", "Mozart", "Beethoven", "Schubert", "Pop"]
COMPOSED = ["chopin", "Mozart", "Pop", "chopin:0.7,pop:0.3"]
PIECES_PER_STYLE = 10
# Per-style losses re-measured for the base model, on copies of just these folders under a folder
# named like the corpus (the split of a style depends only on its own pieces' paths relative to the
# root, so these are the card's held-out pieces): 3 s of CPU, where re-measuring the whole card
# (both corpora: models/README.md has the command) took 33 s of CPU and 11 minutes on the shared
# 2 cores.
REMEASURED = ["Chopin", "Mozart"]
LOSS_TOLERANCE = 1e-3  # nats/token: the same weights and windows; only summation order may differ
MAX_BYTES = 22_000_000 // 2  # the original shipped 22 MB per model; ours stay under half (piano: 9.3 MB,
# of which 2.4 MB are weights and the rest the n-gram index of its 1,100+ training pieces in 32-bit form)


def etude(*args):
    r = subprocess.run([ETUDE, *map(str, args)], capture_output=True, text=True, timeout=600)
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

    def card(self, name):
        return self.styles[name]["card"]["model_card"]

    def test_every_model_is_shipped_small_and_in_half_precision(self):
        for name in NAMES:
            with self.subTest(name):
                path = MODELS / f"{name}.safetensors"
                self.assertTrue(path.is_file(), path)
                self.assertLess(path.stat().st_size, MAX_BYTES)
                tensors = {k: t for k, t in header(path).items() if k != "__metadata__"}
                self.assertTrue({t["dtype"] for t in tensors.values()} <= {"BF16", "F16"})
                weights = sum(t["data_offsets"][1] - t["data_offsets"][0] for t in tensors.values())
                self.assertLess(weights, MAX_BYTES)
                self.assertNotIn("error", self.styles[name])

    def test_the_base_model_carries_calibrated_pitch_temperatures(self):
        meta = header(MODELS / f"{BASE}.safetensors")["__metadata__"]
        temps = json.loads(meta["etude.pitch_temperatures"])
        card = self.card(BASE)["pitch_temperatures"]["styles"]
        for style in PROMISED:
            with self.subTest(style):
                self.assertTrue(0.5 <= temps[style] <= 1.0, temps[style])
                self.assertAlmostEqual(card[style]["pitch_temperature"], temps[style], places=3)
                self.assertEqual(len(card[style]["tries"]), 6)
        with tempfile.TemporaryDirectory() as tmp:
            out = etude("compose", "--models", MODELS, "--style", "Pop", "--length", "40", "--out", Path(tmp) / "pop.mid")
        self.assertIn(f"pitch temperature {temps['Pop']:.3g} (the style's)", out)

    def test_the_single_style_models_are_gone(self):
        for name in REMOVED:
            self.assertFalse((MODELS / f"{name}.safetensors").exists(), name)
            self.assertNotIn(name, self.styles)

    def test_the_base_model_is_conditioned_on_the_promised_styles(self):
        rows = self.styles[BASE]["styles"]
        for style in PROMISED:
            self.assertIn(style, rows)
        self.assertEqual(rows, self.card(BASE)["training_record"]["styles"])
        self.assertEqual(header(MODELS / f"{BASE}.safetensors")["style_embedding.weight"]["shape"][0], len(rows))
        self.assertEqual(self.styles[ANCESTOR]["styles"], [])  # the ancestor is unconditioned

    def test_styles_prints_each_card(self):
        text = etude("styles", "--models", MODELS)
        blocks, name = {}, None
        for line in text.splitlines():  # a model's line, then its indented lines
            if line and not line[0].isspace():
                name = line.split()[0]
            blocks.setdefault(name, []).append(line)
        for name in NAMES:
            with self.subTest(name):
                card_line = next(l for l in blocks[name] if "card:" in l)
                self.assertIn("card: preset small, BF16 weights, epoch", card_line)
                self.assertIn("CC BY-SA", card_line)
        rows_line = next(l for l in blocks[BASE] if "--style NAME" in l)
        for style in PROMISED:
            self.assertIn(style, rows_line)

    def test_cards_are_complete(self):
        for name in NAMES:
            with self.subTest(name):
                card = self.card(name)
                self.assertIn("CC BY-SA", card["license"])
                self.assertIn("Bernd Krueger", card["attribution"])
                self.assertIn("piano-midi.de", card["attribution"])
                self.assertTrue(card["why"])
                self.assertIn(card["storage"], ("BF16", "F16"))
                self.assertIn("etude train", card["reproduce"])
                record = card["training_record"]
                self.assertEqual(record["tokenizer"], self.styles[name]["tokenizer"])
                self.assertLessEqual(card["epoch"], record["epoch"])
        base = self.card(BASE)
        self.assertIn("POP909", base["attribution"])
        self.assertIn("POP909", base["license"])
        self.assertTrue(base["how"])
        for root in ("piano-midi", "pop909", "--from"):  # trained on both corpora, fine-tuned from the ancestor
            self.assertIn(root, base["reproduce"])
        self.assertGreater(base["training_record"]["seconds"], 0)
        # per-style validation: every promised style, the names of its held-out pieces, all counted
        v = base["validation"]
        by_style = {s["style"]: s for s in v["styles"]}
        for style in PROMISED:
            self.assertIn(style, by_style)
            self.assertTrue(all(p.startswith(style + "/") for p in by_style[style]["pieces"]), style)
        self.assertTrue(set(by_style) <= set(self.styles[BASE]["styles"]))
        self.assertEqual(sum(len(s["pieces"]) for s in v["styles"]), v["pieces"])
        ancestor = self.card(ANCESTOR)
        self.assertIn(f"--epochs {ancestor['epoch']}", ancestor["reproduce"])
        self.assertLessEqual(ancestor["epoch"], ancestor["epochs_trained"])
        self.assertGreater(ancestor["training"]["seconds"], 0)
        self.assertEqual(ancestor["samples"]["pieces"], 20)
        self.assertLessEqual(ancestor["samples"]["longest_repeat"]["mean"], 8)

    def check_pieces(self, pieces, count):
        self.assertEqual(len(pieces), count)
        for p in pieces:
            self.assertEqual(p["repairs"], 0)
            self.assertEqual(p["tokens"], 500)
            self.assertGreater(p["notes"], 50)
        repeats = [p["longest_repeated_token"]["length"] for p in pieces]
        self.assertLessEqual(sum(repeats) / len(repeats), 8, repeats)
        copies = sorted(p["copying"]["longest_copied_run"] for p in pieces)
        self.assertLessEqual(copies[len(copies) // 2], 16, copies)  # median copy stays short
        return repeats, copies

    def test_base_composes_styles_and_a_blend_without_repairs(self):
        # 500 tokens at default sampling (T 1, top-p 0.95, the style's pitch temperature); a style name
        # finds piano's row (no file has it)
        with tempfile.TemporaryDirectory() as tmp:
            for i, style in enumerate(COMPOSED):
                with self.subTest(style):
                    report = Path(tmp) / f"{i}.json"
                    etude("compose", "--style", style, "--models", MODELS, "--out", Path(tmp) / f"{i}.mid",
                          "--count", PIECES_PER_STYLE, "--seed", 1, "--threads", 1, "--length", 500, "--report", report)
                    r = json.loads(report.read_text())
                    self.assertEqual(Path(r["model"]).name, f"{BASE}.safetensors")
                    names = [part.split(":")[0].lower() for part in style.split(",")]
                    self.assertEqual([w.split()[0].lower() for w in r["style"].split(" + ")], names, r["style"])
                    self.check_pieces(r["pieces"], PIECES_PER_STYLE)

    def test_ancestor_composes_500_tokens_as_its_card_says(self):
        # the acceptance run of its card: 20 seeds of 500 tokens at default sampling
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "r.json"
            etude("compose", "--style", ANCESTOR, "--models", MODELS, "--out", Path(tmp) / "a.mid",
                  "--count", 20, "--seed", 1, "--threads", 1, "--length", 500, "--report", report)
            repeats, copies = self.check_pieces(json.loads(report.read_text())["pieces"], 20)
            card = self.card(ANCESTOR)["samples"]  # what the card reports is what etude composes today
            self.assertEqual(max(copies), card["longest_copy"]["max"])
            self.assertAlmostEqual(sum(repeats) / len(repeats), card["longest_repeat"]["mean"], delta=0.5)

    @unittest.skipUnless(CORPUS.is_dir(), "needs ETUDE_CORPUS (the shared piano-midi corpus)")
    def test_evaluate_reproduces_the_ancestors_validation_loss(self):
        card = self.card(ANCESTOR)
        folder = CORPUS / card["source"]["folder"]
        out = json.loads(etude("evaluate", "--model", MODELS / f"{ANCESTOR}.safetensors", folder, "--json",
                               "--threads", 1))
        self.assertEqual(out["pieces"], card["validation"]["pieces"])
        self.assertEqual(out["tokens"], card["validation"]["tokens"])
        self.assertAlmostEqual(out["loss"], card["validation"]["loss"], delta=LOSS_TOLERANCE)
        self.assertAlmostEqual(out["accuracy"], card["validation"]["accuracy"], delta=1e-3)
        # and the card is honest about the training run: bf16 storage moves the loss only a little
        self.assertAlmostEqual(out["loss"], card["training_val_loss"], delta=0.02)

    @unittest.skipUnless(CORPUS.is_dir(), "needs ETUDE_CORPUS (the shared piano-midi corpus)")
    def test_evaluate_reproduces_the_base_models_per_style_validation_loss(self):
        card = self.card(BASE)
        by_style = {s["style"]: s for s in card["validation"]["styles"]}
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / CORPUS.name  # piano-midi/STYLE/x.mid: the card's relative paths, so its split
            for style in REMEASURED:
                shutil.copytree(CORPUS / style, root / style)
            out = json.loads(etude("evaluate", "--model", MODELS / f"{BASE}.safetensors", root, "--json",
                                   "--threads", 1))
        measured = {s["style"]: s for s in out["styles"]}
        self.assertEqual(sorted(measured), sorted(REMEASURED))
        for style in REMEASURED:
            with self.subTest(style):
                self.assertEqual(measured[style]["pieces"], by_style[style]["pieces"])
                self.assertAlmostEqual(measured[style]["loss"], by_style[style]["loss"], delta=LOSS_TOLERANCE)
                self.assertAlmostEqual(measured[style]["accuracy"], by_style[style]["accuracy"], delta=1e-3)
        # the card's total, measured on the stored weights, is the training run's within bf16 rounding
        self.assertAlmostEqual(card["validation"]["loss"], card["training_record"]["val_loss"], delta=0.02)

    @unittest.skipUnless(CORPUS.is_dir(), "needs ETUDE_CORPUS (the shared piano-midi corpus)")
    def test_the_base_models_held_out_pieces_are_files_of_both_corpora(self):
        # the card names every held-out piece, relative to its corpus root: piano-midi's, or POP909's
        if not POP909.is_dir():
            self.skipTest(f"needs the POP909 corpus beside ETUDE_CORPUS ({POP909}): the base model was trained "
                          "and its card measured on both")
        for s in self.card(BASE)["validation"]["styles"]:
            for piece in s["pieces"]:
                self.assertTrue((CORPUS / piece).is_file() or (POP909 / piece).is_file(), piece)

if __name__ == "__main__":
    if skip_common:
        skip_common.main()
    else:
        unittest.main()
