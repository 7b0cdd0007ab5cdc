#!/usr/bin/python3
# `etude train` end to end on six small Chopin preludes with the `small` preset: a few epochs,
# validation loss falls, every file of the run folder exists and is valid (PNG/GIF decoded by their
# headers and sizes, checkpoints load through `etude forward`, the model file carries the tokenizer,
# the n-gram index and the training card), and the copy measure is recorded at checkpoints; without
# gnuplot the run goes on and says so once.
import json
import struct
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

from train_common import FAST, etude, have_inputs, history, make_slice, read_safetensors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402


def png_size(path):
    b = Path(path).read_bytes()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    assert b[12:16] == b"IHDR" and b[-8:-4] == b"IEND", f"{path}: PNG chunks missing"
    return struct.unpack(">II", b[16:24])


def gif_frames(path):
    """Walks the GIF block structure to its trailer; returns ((width, height), image count)."""
    b = Path(path).read_bytes()
    assert b[:6] in (b"GIF87a", b"GIF89a"), f"{path}: not a GIF"
    size, flags = struct.unpack("<HH", b[6:10]), b[10]
    pos, images = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0), 0

    def skip_sub_blocks(p):
        while b[p]:
            p += b[p] + 1
        return p + 1

    while b[pos] != 0x3B:
        if b[pos] == 0x21:  # extension: label, then data sub-blocks
            pos = skip_sub_blocks(pos + 2)
        elif b[pos] == 0x2C:  # image descriptor, optional local color table, LZW code size, data
            local = b[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = skip_sub_blocks(pos + 1)
            images += 1
        else:
            raise AssertionError(f"{path}: bad block 0x{b[pos]:02x} at offset {pos}")
    assert pos == len(b) - 1, f"{path}: data after the trailer"
    return size, images


@unittest.skipUnless(have_inputs(), "ETUDE_BIN or the shared corpus (ETUDE_CORPUS) missing")
class TrainEndToEnd(unittest.TestCase):
    def test_run_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            data = make_slice(tmp)
            run = tmp / "run"
            r = etude("train", data, "--out", run, *FAST, "--epochs", 4, "--checkpoint-every", 2,
                      env_extra={"XDG_CACHE_HOME": str(tmp / "cache")})
            self.assertIn("completed after 4 epochs", r.stdout)
            self.assertNotIn("\r", r.stdout, "no live progress line when stdout is not a terminal")
            rows = history(run)
            self.assertEqual([int(x["epoch"]) for x in rows], [1, 2, 3, 4])
            val = [float(x["val_loss"]) for x in rows]
            self.assertLess(val[-1], val[0] - 0.2, f"validation loss did not fall: {val}")
            self.assertTrue(all(np.isfinite(val)))
            for x in rows:
                self.assertGreater(float(x["tokens_per_second"]), 0)
                self.assertTrue(0 <= float(x["val_accuracy"]) <= 1)
            # The copy measure is recorded at checkpoints (epochs 2 and 4) and only there.
            shares = {int(x["epoch"]): x["copied_share"] for x in rows}
            self.assertEqual(shares[1], "")
            for e in (2, 4):
                self.assertTrue(0.0 <= float(shares[e]) <= 1.0, shares)
                self.assertIn("checkpoint", rows[e - 1]["events"])

            for name in ["state.safetensors", "best.safetensors", "last.safetensors", "summary.json",
                         "checkpoints/epoch-0002.safetensors", "checkpoints/epoch-0004.safetensors"]:
                self.assertTrue((run / name).is_file(), name)
            self.assertEqual(png_size(run / "plots/loss.png"), (900, 560))
            self.assertEqual(png_size(run / "plots/accuracy.png"), (900, 560))
            size, frames = gif_frames(run / "plots/training.gif")
            self.assertEqual(size, (1200, 450))
            self.assertEqual(frames, 2, "one GIF frame per checkpoint")

            summary = json.loads((run / "summary.json").read_text())
            self.assertEqual(summary["stop_reason"], "completed")
            self.assertEqual(summary["epochs_done"], 4)
            self.assertEqual(summary["best"]["epoch"], int(np.argmin(val)) + 1)
            self.assertEqual(summary["corpus"]["files_used"], 6)
            self.assertEqual(summary["corpus"]["train"]["pieces"] + summary["corpus"]["validation"]["pieces"], 6)

            # Each checkpoint is a complete model file: weights finite, tokenizer, n-grams and card inside,
            # and etude's own loader accepts it.
            for f in ["best.safetensors", "last.safetensors", "checkpoints/epoch-0002.safetensors"]:
                meta, tensors = read_safetensors(run / f)
                for key in ["etude.model", "etude.tokenizer", "etude.training", "etude.ngrams"]:
                    self.assertIn(key, meta, f)
                self.assertEqual(json.loads(meta["etude.tokenizer"])["name"], "beats")
                card = json.loads(meta["etude.training"])
                self.assertEqual(card["epoch"], 2 if "0002" in f else summary["best"]["epoch"] if "best" in f else 4)
                self.assertTrue(all(np.isfinite(t).all() for t in tensors.values()))
                out = json.loads(etude("forward", "--model", run / f, "--tokens", "1,5,9", "--json").stdout)
                self.assertEqual(len(out["logits"]), 3)
                self.assertTrue(np.isfinite(out["logits"]).all())
            _, last = read_safetensors(run / "last.safetensors")
            _, ck4 = read_safetensors(run / "checkpoints/epoch-0004.safetensors")
            for k in last:
                self.assertTrue(np.array_equal(last[k], ck4[k]), k)

            # A second plain start into the same folder refuses (it would overwrite the run).
            again = etude("train", data, "--out", run, *FAST, check=False)
            self.assertEqual(again.returncode, 2)
            self.assertIn("--resume", again.stderr)

    def test_runs_on_without_gnuplot(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            data = make_slice(tmp, ["chpn-p7.mid", "chpn-p20.mid", "chpn-p9.mid"])
            run = tmp / "run"
            r = etude("train", data, "--out", run, *FAST, "--epochs", 3, "--checkpoint-every", 1,
                      env_extra={"XDG_CACHE_HOME": str(tmp / "cache"), "PATH": str(tmp / "no-tools")})
            self.assertEqual(r.stdout.count("gnuplot not found"), 1, r.stdout)
            self.assertEqual(len(history(run)), 3)
            self.assertFalse((run / "plots/loss.png").exists())
            self.assertTrue((run / "checkpoints/epoch-0003.safetensors").is_file())


if __name__ == "__main__":
    skip_common.main(verbosity=2)
