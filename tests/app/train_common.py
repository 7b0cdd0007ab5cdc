# Shared helpers for the `etude train` CLI tests: running etude, a small slice of the shared corpus
# copied into a temporary folder, and a safetensors reader (numpy) to check saved weights.
import json
import os
import shutil
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

import numpy as np

ETUDE = os.environ.get("ETUDE_BIN", "")
CORPUS = Path(os.environ.get("ETUDE_CORPUS", "/nonexistent"))
# Small Chopin preludes: a few seconds per epoch with the `small` preset and short windows.
SLICE = ["chpn-p7.mid", "chpn-p20.mid", "chpn-p9.mid", "chpn-p4.mid", "chpn-p6.mid", "chpn-p2.mid"]
# What every test run uses: the small preset, short windows, one thread (deterministic).
FAST = ["--preset", "small", "--seq", "32", "--batch", "16", "--threads", "1"]


def have_inputs():
    return bool(ETUDE) and Path(ETUDE).exists() and all((CORPUS / "Chopin" / f).exists() for f in SLICE)


def etude(*args, env_extra=None, check=True, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_extra or {}))
    r = subprocess.run([ETUDE, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"etude {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}")
    return r


def make_slice(root: Path, files=SLICE) -> Path:
    d = root / "slice"
    d.mkdir()
    for f in files:
        shutil.copy(CORPUS / "Chopin" / f, d / f)
    return d


def read_safetensors(path: Path):
    """Returns (metadata, {name: float32 array}); F32 files only (what train writes)."""
    b = Path(path).read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = b[8 + n:]
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", (path, name, t["dtype"])
        lo, hi = t["data_offsets"]
        tensors[name] = np.frombuffer(data[lo:hi], dtype=np.float32).reshape(t["shape"])
    return meta, tensors


def history(run: Path):
    lines = (run / "history.csv").read_text().strip().split("\n")
    head = lines[0].split(",")
    rows = []
    for line in lines[1:]:
        cells = line.split(",", len(head) - 1)
        rows.append(dict(zip(head, cells)))
    return rows


class SliceRuns(unittest.TestCase):
    """Tests that train several runs on one slice: a temporary folder with the slice and a corpus cache."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.data = make_slice(cls.dir)
        cls.env = {"XDG_CACHE_HOME": str(cls.dir / "cache")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
