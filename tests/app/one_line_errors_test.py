#!/usr/bin/python3
# Every parser of input JSON and the model loader, end to end: input that used to produce a 60 KB
# to 320 KB message (nlohmann quoting a whole damaged file, raw bytes included) now exits 2 with one
# stderr line under 300 bytes, escaped; a model file without checksums loads with a one-line warning.
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

ETUDE = os.environ.get("ETUDE_BIN", "")
# 100 KB inside a JSON string, then a byte that is not UTF-8 and a raw control byte.
LONG_BAD = b'{"name": "' + b"q" * 100000 + b'\xff\n\x01"}'


def etude(*args, check=True):
    r = subprocess.run([ETUDE, *map(str, args)], capture_output=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"etude {' '.join(map(str, args))} exited {r.returncode}: {r.stderr[:500]!r}")
    return r


def split_file(path):
    b = Path(path).read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def join_file(path, header: bytes, data: bytes):
    header += b" " * ((8 - len(header) % 8) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(header)) + header + data)


@unittest.skipUnless(ETUDE and Path(ETUDE).exists(), "ETUDE_BIN not set (ctest sets it)")
class OneLineErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="etude-1l-")
        cls.dir = Path(cls.tmp.name)
        cls.model = cls.dir / "m.safetensors"
        etude("bench", "train", "--preset", "small", "--vocab", 40, "--batch", 2, "--seq", 8, "--steps", 1,
              "--threads", 1, "--save", cls.model)
        cls.bad = cls.dir / "bad.json"
        cls.bad.write_bytes(LONG_BAD)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def refused_in_one_line(self, *args):
        r = etude(*args, check=False)
        self.assertEqual(r.returncode, 2, r.stderr[:500])
        err = r.stderr
        self.assertLess(len(err), 300, err[:500])
        self.assertEqual(err.count(b"\n"), 1, err[:500])
        text = err.decode("utf-8")  # valid UTF-8: raw bytes are escaped
        self.assertTrue(all(c >= " " for c in text.rstrip("\n")), text)
        return text

    def test_config_and_card_files(self):
        err = self.refused_in_one_line("train", self.dir, "--out", self.dir / "run", "--config", self.bad)
        self.assertIn("bad.json: not valid JSON (at byte ", err)
        err = self.refused_in_one_line("bench", "train", "--model-json", self.bad, "--steps", 1)
        self.assertIn("bad.json: not valid JSON (at byte ", err)
        err = self.refused_in_one_line("export", self.model, "--out", self.dir / "x.safetensors", "--card", self.bad)
        self.assertIn("bad.json: not valid JSON (at byte ", err)
        err = self.refused_in_one_line("corpus", self.dir, "--config", LONG_BAD.decode("latin-1"))
        self.assertIn("--config: not JSON (at byte ", err)

    def test_damaged_model_header(self):
        header, data = split_file(self.model)
        text = json.dumps(header).encode()
        cut = text.index(b'"etude.model"')
        damaged = self.dir / "damaged.safetensors"
        join_file(damaged, text[:cut] + b'"x": "' + b"w" * 100000 + b'\xfe\x02' + text[cut:], data)
        err = self.refused_in_one_line("forward", "--model", damaged, "--tokens", "1,2")
        self.assertIn("header JSON does not parse (at byte ", err)
        err = self.refused_in_one_line("compose", "--model", damaged, "--length", 4, "--out", self.dir / "c.mid")
        self.assertIn("damaged.safetensors", err)

    def test_changed_tensor_byte_is_refused_and_a_file_without_checksums_warns(self):
        header, data = split_file(self.model)
        flipped = self.dir / "flipped.safetensors"
        join_file(flipped, json.dumps(header).encode(), data[:100] + bytes([data[100] ^ 4]) + data[101:])
        self.assertIn("bytes do not match their checksum", self.refused_in_one_line("forward", "--model", flipped,
                                                                                    "--tokens", "1,2"))
        del header["__metadata__"]["etude.checksums"]
        old = self.dir / "old.safetensors"
        join_file(old, json.dumps(header).encode(), data)
        r = etude("forward", "--model", old, "--tokens", "1,2")
        self.assertEqual(r.stderr.decode().count("\n"), 1, r.stderr)
        self.assertTrue(r.stderr.startswith(b"etude: warning: "), r.stderr)
        self.assertIn(b"no checksums", r.stderr)
        self.assertEqual(etude("forward", "--model", self.model, "--tokens", "1,2").stderr, b"")


if __name__ == "__main__":
    skip_common.main()
