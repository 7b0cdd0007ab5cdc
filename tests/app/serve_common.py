# Shared helpers for the `etude serve` tests: a tiny style model trained by `etude train` on a few
# corpus files, the server started on a free loopback port (its listening line parsed), and small
# HTTP clients for JSON, multipart uploads and Server-Sent Events (standard library only).
import http.client
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

ETUDE = os.environ.get("ETUDE_BIN", "")
CORPUS = Path(os.environ.get("ETUDE_CORPUS", "/nonexistent"))
CHOPIN = CORPUS / "Chopin"
# Small Chopin preludes: about a second per epoch with the small preset and short windows.
SLICE = ["chpn-p7.mid", "chpn-p20.mid", "chpn-p9.mid", "chpn-p4.mid"]
FAST = {"preset": "small", "seq": "32", "batch": "16"}
# Two styles of two small pieces each: a tiny style-conditioned model (one style row per folder).
STYLED = {"Chopin": ["chpn-p7.mid", "chpn-p20.mid"], "Mozart": ["mz_545_3.mid", "mz_332_2.mid"]}


def have_inputs():
    return bool(ETUDE) and Path(ETUDE).exists() and all((CHOPIN / f).exists() for f in SLICE)


def have_styled_inputs():
    return have_inputs() and all((CORPUS / style / f).exists() for style, files in STYLED.items() for f in files)


def make_data(root: Path) -> Path:
    """root/data/Chopin with the slice (a data root for --data)."""
    d = root / "data" / "Chopin"
    d.mkdir(parents=True)
    for f in SLICE:
        shutil.copy(CHOPIN / f, d / f)
    return root / "data"


def train_model(root: Path, data: Path, name="chopin") -> Path:
    """A one-epoch small model installed as root/models/NAME.safetensors; returns the models folder."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([ETUDE, "train", str(data), "--out", str(root / "tiny-run"), "--preset", "small", "--epochs", "1",
                        "--seq", "32", "--batch", "16", "--threads", "1"], capture_output=True, text=True, timeout=300,
                       env=env)
    assert r.returncode == 0, r.stderr
    models = root / "models"
    models.mkdir(exist_ok=True)
    shutil.copy(root / "tiny-run" / "best.safetensors", models / f"{name}.safetensors")
    return models


def train_styled_model(root: Path, models: Path, name="piano") -> Path:
    """A one-epoch small model with the style rows Chopin and Mozart, installed as MODELS/NAME.safetensors."""
    data = root / "styled"
    for style, files in STYLED.items():
        (data / style).mkdir(parents=True)
        for f in files:
            shutil.copy(CORPUS / style / f, data / style / f)
    env = dict(os.environ, OMP_NUM_THREADS="1", XDG_CACHE_HOME=str(root / "cache"))
    r = subprocess.run([ETUDE, "train", str(data), "--out", str(root / "styled-run"), "--preset", "small", "--epochs",
                        "1", "--seq", "32", "--batch", "8", "--threads", "1"], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    models.mkdir(exist_ok=True)
    shutil.copy(root / "styled-run" / "best.safetensors", models / f"{name}.safetensors")
    return models / f"{name}.safetensors"


class Server:
    """`etude serve --port 0 ...` in the background; .port, .request(), .stop()."""

    def __init__(self, root: Path, *args):
        self.root = root
        self.err = open(root / "serve.err", "w")
        self.proc = subprocess.Popen([ETUDE, "serve", "--port", "0", *map(str, args)], stdout=subprocess.PIPE,
                                     stderr=self.err, text=True,
                                     env=dict(os.environ, OMP_NUM_THREADS="1"))
        line = self.proc.stdout.readline()
        assert line.startswith("etude serve: listening on http://127.0.0.1:"), repr(line)
        self.port = int(line.strip().rstrip("/").rsplit(":", 1)[1])

    def request(self, method, path, body=None, headers=None, timeout=120):
        """(status, headers dict with lower-case names, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            if method == "POST" and body is None:
                body = b""
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def json(self, method, path, body=None, expect=200, headers=None):
        status, h, data = self.request(method, path, body, headers)
        assert status == expect, (method, path, status, data[:500])
        assert h.get("content-type", "").startswith("application/json"), (path, h)
        return json.loads(data)

    def upload(self, path, fields=(), files=(), expect=None):
        """Multipart POST: fields [(name, value)], files [(field, filename, bytes)]; (status, json)."""
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for field, filename, data in files:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                         f'Content-Type: audio/midi\r\n\r\n'.encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        status, h, data = self.request("POST", path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        if expect is not None:
            assert status == expect, (path, status, data[:500])
        return status, json.loads(data) if data else None

    def events(self, path, until, timeout=120):
        """Reads Server-Sent Events [(event, data)] until until(events) is true or the stream ends."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.request("GET", path)
        r = c.getresponse()
        assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream"), r.status
        events, event, deadline = [], None, time.time() + timeout
        try:
            while time.time() < deadline:
                line = r.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    events.append((event, json.loads(line[6:])))
                    if until(events):
                        break
        finally:
            c.close()
        return events

    def rss_kib(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().split("\n"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self, sig=15, timeout=60):
        """Ends the server (SIGTERM) and returns its exit code; again: the same code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc.stdout.close()
        self.err.close()
        return rc
