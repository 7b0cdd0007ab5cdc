#!/usr/bin/python3
# The nn commands end to end: `etude bench train --save` writes a model file, `etude forward`
# prints its logits, PyTorch loads the same file (documented name mapping) and agrees; bench JSON
# carries the fields the benchmark script reads; bad input exits 2 with one stderr line.
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import torch

ETUDE = os.environ.get("ETUDE_BIN", "")
SOURCE = Path(os.environ.get("ETUDE_SOURCE", Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(SOURCE / "tests" / "nn"))
import torch_parity  # noqa: E402  (the torch mirror of the model JSON)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402


def etude(*args, check=True):
    r = subprocess.run([ETUDE, *args], capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"etude {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


@unittest.skipUnless(ETUDE and Path(ETUDE).exists(), "ETUDE_BIN not set (ctest sets it)")
class NnCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def saved(self, preset, vocab, dtype, seq):
        path = self.dir / f"{preset}-{dtype}.safetensors"
        out = etude("bench", "train", "--preset", preset, "--vocab", str(vocab), "--batch", "2", "--seq", str(seq),
                    "--steps", "1", "--threads", "1", "--save", str(path), "--dtype", dtype, "--json")
        stats = json.loads(out.stdout)
        for key in ("preset", "tokens_per_second", "ms_per_step", "steps", "batch", "seq", "threads"):
            self.assertIn(key, stats)
        self.assertEqual((stats["batch"], stats["seq"], stats["preset"]), (2, seq, preset))
        self.assertGreater(stats["tokens_per_second"], 0)
        return path

    def check_forward_matches_torch(self, path, tokens):
        got = json.loads(etude("forward", "--model", str(path), "--tokens", ",".join(map(str, tokens)),
                               "--json").stdout)
        net, _ = torch_parity.load_model(path)
        net.eval()
        self.assertEqual(got["tokens"], tokens)
        self.assertEqual(len(got["logits"]), len(tokens))
        with torch.no_grad():
            for t in range(len(tokens)):  # position t sees tokens[:t+1], as a stepping composer does
                out = net(torch.tensor(tokens[: t + 1]).reshape(-1, 1))
                want = (out[-1] if out.dim() == 3 else out)[0]
                rel = float((torch.tensor(got["logits"][t]) - want).abs().max() / want.abs().max())
                self.assertLess(rel, 1e-4, f"{path.name} position {t}")

    def test_default_shape_in_f16_matches_torch(self):
        path = self.saved("small", 388, "f16", 8)
        self.check_forward_matches_torch(path, [3, 17, 9, 387, 0])

    def test_seed_voc_in_bf16_matches_torch(self):
        path = self.saved("seed-voc", 358, "bf16", 6)  # scalar input, batchnorm, seq2one
        self.check_forward_matches_torch(path, [5, 100, 357, 42])

    def test_forward_text_output_has_one_line_per_position(self):
        path = self.saved("small", 50, "f32", 4)
        lines = etude("forward", "--model", str(path), "--tokens", "1,2,3").stdout.strip().splitlines()
        self.assertEqual(len(lines), 3)
        self.assertEqual(len(lines[2].split()), 2 + 50)

    def test_generate_json(self):
        out = json.loads(etude("bench", "generate", "--preset", "small", "--vocab", "64", "--tokens", "20",
                               "--threads", "1", "--json").stdout)
        self.assertEqual((out["preset"], out["tokens"]), ("small", 20))
        self.assertGreater(out["tokens_per_second"], 0)

    def test_bad_input_exits_2_with_one_line(self):
        path = self.saved("small", 50, "f32", 4)
        broken = self.dir / "broken.safetensors"
        broken.write_bytes(path.read_bytes()[:-10])
        cases = [
            (["forward", "--model", str(broken), "--tokens", "1"], "broken.safetensors"),
            (["forward", "--model", str(path), "--tokens", "1,x"], "--tokens"),
            (["forward", "--model", str(path), "--tokens", "1,50"], "outside the vocabulary"),
            (["forward", "--model", str(self.dir / "missing.safetensors"), "--tokens", "1"], "missing.safetensors"),
            (["bench", "train", "--preset", "huge"], "unknown preset"),
        ]
        for args, fragment in cases:
            r = etude(*args, check=False)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn(fragment, r.stderr)
        self.assertEqual(etude("forward", "--tokens", "1", check=False).returncode, 1)  # usage error


if __name__ == "__main__":
    skip_common.main()
