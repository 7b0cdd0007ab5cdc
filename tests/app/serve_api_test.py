# `etude serve` end to end over HTTP: every endpoint of the API with good and bad requests (bad
# JSON, bad names, "../", out-of-range fields, non-MIDI and oversized uploads, unknown ids),
# downloads checked (MIDI parses with mido, WAV samples, PDF/SVG), a primer continuation, a short
# training run from uploads with its event stream, stop and resume from the data root, composing
# from a run and a checkpoint, and SIGTERM while training (state saved, exit 0); styles: the rows of a
# style-conditioned model listed and composed, blends, the 400s naming the known styles, and a run
# fine-tuned from the base model whose own style joins the list.
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mido

sys.path.insert(0, str(Path(__file__).parent))
from serve_common import (CHOPIN, ETUDE, FAST, SLICE, Server, have_inputs, have_styled_inputs, make_data,  # noqa: E402
                          train_model, train_styled_model)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402


def final(events):
    return bool(events) and events[-1][0] == "state" and events[-1][1]["state"] in ("finished", "failed", "stopped")


@unittest.skipUnless(have_inputs(), "needs ETUDE_BIN and the shared corpus (ETUDE_CORPUS)")
class ServeApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="etude-serve-api-"))
        cls.data = make_data(cls.tmp)
        cls.models = train_model(cls.tmp, cls.data)
        (cls.models / "broken.safetensors").write_bytes(b"not a model file")
        # A model stored by `etude export` with a model card (as models/ ships them).
        (cls.tmp / "card.json").write_text(json.dumps({"license": "CC BY-SA (test)", "why": "test"}))
        r = subprocess.run([ETUDE, "export", cls.tmp / "tiny-run" / "best.safetensors", "--out",
                            cls.models / "zcarded.safetensors", "--card", cls.tmp / "card.json"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        (cls.tmp / "runs").mkdir()
        shutil.copytree(cls.tmp / "tiny-run", cls.tmp / "runs" / "cli-run")  # a run made by `etude train`
        cls.s = Server(cls.tmp, "--state", cls.tmp / "state", "--models", cls.models, "--runs", cls.tmp / "runs",
                       "--data", cls.data)
        cls.midi = (CHOPIN / SLICE[0]).read_bytes()

    @classmethod
    def tearDownClass(cls):
        rc = cls.s.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, rc

    def error(self, method, path, body, status, *words):
        status_got, h, data = self.s.request(method, path, body)
        self.assertEqual(status_got, status, (path, body if not isinstance(body, bytes) else len(body), data[:300]))
        message = json.loads(data)["error"]
        for w in words:
            self.assertIn(w, message)
        return message

    def compose(self, **fields):
        return self.s.json("POST", "/api/compose", fields)["pieces"]

    def test_health_page_and_unknown_paths(self):
        self.assertEqual(self.s.json("GET", "/api/health"), {"ok": True, "version": "0.1.0"})
        status, h, body = self.s.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertIn(b"<html", body.lower())
        self.error("GET", "/no-such-file.js", None, 404)
        self.error("GET", "/api/no-such-endpoint", None, 404)
        self.error("POST", "/api/no-such-endpoint", b"", 404)

    def test_styles_lists_models_with_cards_then_runs(self):
        styles = self.s.json("GET", "/api/styles")["styles"]
        broken, chopin, carded, run = styles[:4]
        self.assertEqual(carded["name"], "zcarded")
        self.assertEqual(carded["card"]["model_card"]["license"], "CC BY-SA (test)")  # etude.card reaches the page
        self.assertEqual((broken["name"], broken["source"]), ("broken", "models"))
        self.assertIn("broken.safetensors", broken["error"])
        self.assertNotIn("tokenizer", broken)
        self.assertEqual((chopin["name"], chopin["source"], chopin["tokenizer"]), ("chopin", "models", "beats"))
        self.assertEqual((chopin["kind"], chopin["styles_of_model"]), ("model", []))  # not conditioned: no rows
        self.assertEqual((chopin["card"]["preset"], chopin["card"]["epoch"]), ("small", 1))
        self.assertEqual((run["name"], run["source"], run["tokenizer"]), ("cli-run", "run", "beats"))
        self.error("POST", "/api/compose", {"style": "broken"}, 500, "broken", "could not be loaded")

    def test_a_run_made_by_etude_train_is_listed(self):
        run = self.s.json("GET", "/api/runs/cli-run")
        self.assertEqual((run["state"], run["message"], run["preset"], run["tokenizer"]),
                         ("finished", "completed 1 epoch", "small", "beats"))
        self.assertEqual((run["epoch"], run["best_epoch"], len(run["history"])), (1, 1, 1))
        self.assertIsNone(run["minutes"])
        self.assertRegex(run["started"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertNotIn("progress", run)
        self.assertEqual(self.compose(run="cli-run", checkpoint="epoch-0001", length=16)[0]["tokens"], 16)

    def test_compose_pieces_and_downloads(self):
        pieces = self.compose(style="chopin", length=96, seed=7, count=2, temperature=0.9, top_p=0.9, top_k=40)
        self.assertEqual([p["seed"] for p in pieces], [7, 8])
        p = pieces[0]
        self.assertEqual((p["style"], p["model"], p["tokens"], p["repairs"]), ("chopin", "chopin", 96, 0))
        self.assertNotIn("blend", p)  # a model without style rows
        self.assertNotIn("style_strength", p)
        self.assertEqual(len(p["roll"]), p["notes"])
        self.assertGreater(p["notes"], 0)
        for pitch, start, end, velocity in p["roll"]:
            self.assertTrue(0 <= pitch <= 127 and 0 <= start <= end <= p["seconds"] + 1e-6 and 1 <= velocity <= 127)
        self.assertIn("longest copied run", p["summary"])
        self.assertEqual(p["report"]["notes"], p["notes"])
        self.assertEqual(self.s.json("GET", f"/api/pieces/{p['id']}"), p)
        self.assertEqual(self.s.json("GET", p["files"]["report"]), p["report"])
        # The same seed composes the same piece.
        again = self.compose(style="chopin", length=96, seed=7, temperature=0.9, top_p=0.9, top_k=40)[0]
        self.assertNotEqual(again["id"], p["id"])
        self.assertEqual(again["roll"], p["roll"])
        # MIDI: an attachment named after style and seed, parsed by mido with the same notes.
        status, h, body = self.s.request("GET", p["files"]["midi"])
        self.assertEqual((status, h["content-type"]), (200, "audio/midi"))
        self.assertEqual(h["content-disposition"], 'attachment; filename="etude-chopin-7.mid"')
        path = self.tmp / "piece.mid"
        path.write_bytes(body)
        notes = sum(1 for t in mido.MidiFile(path).tracks for m in t if m.type == "note_on" and m.velocity > 0)
        self.assertEqual(notes, p["notes"])
        # WAV: RIFF/WAVE, stereo 16-bit, as long as the piece, not silent.
        status, h, body = self.s.request("GET", p["files"]["wav"])
        self.assertEqual((status, h["content-type"]), (200, "audio/wav"))
        self.assertEqual((body[:4], body[8:12]), (b"RIFF", b"WAVE"))
        (self.tmp / "piece.wav").write_bytes(body)
        with wave.open(str(self.tmp / "piece.wav")) as w:
            self.assertEqual((w.getnchannels(), w.getsampwidth()), (2, 2))
            self.assertGreaterEqual(w.getnframes() / w.getframerate(), p["seconds"])
            frames = w.readframes(w.getnframes())
        self.assertTrue(any(frames[i] for i in range(0, len(frames), 7)))
        # Score: PDF and SVG engraved by LilyPond, cached after the first request.
        status, h, body = self.s.request("GET", p["files"]["pdf"])
        self.assertEqual((status, h["content-type"], body[:5]), (200, "application/pdf", b"%PDF-"))
        status, h, body = self.s.request("GET", p["files"]["svg"])
        self.assertEqual((status, h["content-type"]), (200, "image/svg+xml"))
        self.assertIn(b"<svg", body[:1000])
        self.error("GET", f"/api/pieces/{p['id']}/other.txt", None, 404)

    def test_compose_by_seconds(self):
        p = self.compose(style="chopin", seconds=5, seed=3)[0]
        self.assertLessEqual(p["seconds"], 5.0 + 1e-6)
        self.assertGreater(p["notes"], 0)
        # Key, length and tempo as the page asks: a piece in D major of 6 s at 90 BPM, ending on a beat.
        p = self.compose(style="chopin", seconds=6, seed=3, key="D major", tempo=90)[0]
        self.assertLessEqual(abs(p["seconds"] - 6), 60 / 90 + 1e-6)
        self.assertEqual((p["key_asked"], p["tempo"]), ("D major", 90))
        self.assertIn(p["ending"]["kind"], ("cadence", "let ring"))
        beats = p["ending"]["final_onset"] * 90 / 60
        self.assertAlmostEqual(beats, round(beats), delta=0.01)
        status, h, body = self.s.request("GET", p["files"]["musicxml"])
        self.assertEqual((status, h["content-type"]), (200, "application/vnd.recordare.musicxml+xml"))
        self.assertIn(b"<score-partwise", body[:2000])
        self.assertIn(b"<key><fifths>2</fifths><mode>major</mode></key>", body)

    def test_compose_bad_requests(self):
        post = lambda body, status, *words: self.error("POST", "/api/compose", body, status, *words)  # noqa: E731
        post(b"{not json", 400, "JSON")
        post(b"[1, 2]", 400, "object")
        post({}, 400, "style")
        post({"style": "chopin", "run": "x"}, 404, "x")  # a style of a run: the run must exist
        post({"model": "chopin", "run": "cli-run"}, 400, "model", "run")
        post({"style": "../models/chopin"}, 400, "style", "not a valid name")
        post({"style": "a/b"}, 400, "style")
        post({"style": 7}, 400, "style")
        post({"model": "../chopin"}, 400, "model")
        post({"model": "nobody"}, 404, "nobody", "chopin")
        post({"style": "nobody"}, 400, "unknown style", "chopin")
        post({"model": "chopin", "style": "Chopin"}, 400, "without style rows")
        post({"run": "../runs"}, 400, "run")
        post({"run": "nobody"}, 404, "nobody")
        for field, value in [("length", 15), ("length", 2001), ("length", 1.5), ("length", "400"), ("seconds", 4),
                             ("seconds", 301), ("temperature", 0.05), ("temperature", 2.5), ("top_p", 0),
                             ("top_p", 1.5), ("top_k", -1), ("top_k", 513), ("seed", -1), ("count", 0), ("count", 5),
                             ("primer_seconds", -1), ("tempo", 5), ("tempo", 401), ("key", "H minor")]:
            post({"style": "chopin", field: value}, 400, field)
        post({"style": "chopin", "length": 64, "seconds": 10}, 400, "length", "seconds")
        post({"style": "chopin", "primer": "../../etc/passwd"}, 400, "primer")
        post({"style": "chopin", "primer": "pr-0123456789abcdef"}, 404, "primer")
        post(json.dumps({"style": "chopin", "pad": "x" * 70000}).encode(), 413)
        self.error("GET", "/api/pieces/pc-0123456789abcdef", None, 404)
        self.error("GET", "/api/pieces/..%2F..%2Fetc", None, 404)
        self.error("GET", "/api/pieces/pc-0123456789abcdef/piece.mid", None, 404)

    def test_max_tokens_bounds_every_piece(self):
        # --max-tokens: the page is told the lower length maximum, a longer length is refused, and a
        # seconds-mode piece stops there.
        root = self.tmp / "capped"
        root.mkdir()
        s = Server(root, "--state", root / "state", "--models", self.models, "--max-tokens", "40")
        try:
            self.assertEqual(s.json("GET", "/api/compose")["fields"]["length"]["max"], 40)
            status, _, data = s.request("POST", "/api/compose", {"style": "chopin", "length": 41})
            self.assertEqual(status, 400, data[:300])
            self.assertIn("at most 40 tokens", json.loads(data)["error"])
            self.assertEqual(s.json("POST", "/api/compose", {"style": "chopin", "length": 40})["pieces"][0]["tokens"], 40)
            p = s.json("POST", "/api/compose", {"style": "chopin", "seconds": 60, "seed": 2})["pieces"][0]
            self.assertEqual(p["tokens"], 40)
            self.assertLess(p["seconds"], 60)
        finally:
            self.assertEqual(s.stop(), 0)
        self.assertEqual(self.s.json("GET", "/api/compose")["fields"]["length"]["max"], 2000)

    def test_primer_upload_and_continuation(self):
        status, primer = self.s.upload("/api/primers", files=[("file", "prelude.mid", self.midi)], expect=201)
        self.assertTrue(primer["id"].startswith("pr-"))
        self.assertGreater(primer["notes"], 0)
        self.assertGreater(primer["seconds"], 0)
        p = self.compose(style="chopin", length=64, seed=5, primer=primer["id"], primer_seconds=4)[0]
        self.assertEqual(p["tokens"], 64)
        self.assertGreater(p["notes"], 0)
        stored = list((self.tmp / "state" / "primers").iterdir())
        self.assertIn(primer["id"] + ".mid", [f.name for f in stored])  # a server-chosen name
        status, body = self.s.upload("/api/primers", files=[("file", "notes.txt", b"this is not a MIDI file")])
        self.assertEqual(status, 400)
        self.assertIn("not a MIDI file", body["error"])
        status, body = self.s.upload("/api/primers", files=[("file", "big.mid", b"MThd" + b"\0" * (1 << 20))])
        self.assertEqual(status, 413)
        status, body = self.s.upload("/api/primers", fields=[("name", "x")])
        self.assertEqual(status, 400)

    def test_a_second_render_of_the_same_piece_gets_503_not_a_queue(self):
        piece = self.compose(style="chopin", length=200, seed=11)[0]
        path = piece["files"]["pdf"]
        with ThreadPoolExecutor(2) as pool:  # LilyPond takes seconds: the two overlap
            answers = list(pool.map(lambda _: self.s.request("GET", path), range(2)))
        self.assertEqual(sorted(a[0] for a in answers), [200, 503])
        busy = next(a for a in answers if a[0] == 503)
        self.assertEqual(busy[1].get("retry-after"), "1")
        self.assertIn(b"being rendered", busy[2])
        status, _, body = self.s.request("GET", path)  # rendered once, now served from the file
        self.assertEqual(status, 200)
        self.assertTrue(body.startswith(b"%PDF"))

    def test_a_long_primer_is_continued_from_its_first_120_seconds(self):
        long_piece = CHOPIN / "chpn_op23.mid"  # about nine minutes
        if not long_piece.exists():
            self.skipTest(f"{long_piece} missing")
        _, primer = self.s.upload("/api/primers", files=[("file", "ballade.mid", long_piece.read_bytes())], expect=201)
        self.assertGreater(primer["seconds"], 240)
        used = {secs: self.compose(style="chopin", length=16, seed=1, primer=primer["id"], primer_seconds=secs)[0]
                ["primer_tokens"] for secs in (60, 120)}
        default = self.compose(style="chopin", length=16, seed=1, primer=primer["id"])[0]["primer_tokens"]
        self.assertGreater(used[60], 0)
        self.assertGreater(used[120], used[60])
        self.assertEqual(default, used[120])  # not the whole piece

    def test_a_long_rest_in_a_tiny_midi_is_refused(self):
        # 37 bytes of MIDI holding a rest of about four years: its tokens would fill the memory.
        track = bytes([0x00, 0x90, 60, 64, 0x8F, 0xFF, 0xFF, 0x7F, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00])
        midi = b"MThd" + bytes([0, 0, 0, 6, 0, 0, 0, 1, 0, 1]) + b"MTrk" + len(track).to_bytes(4, "big") + track
        status, body = self.s.upload("/api/primers", files=[("file", "rest.mid", midi)])
        self.assertEqual(status, 400)
        self.assertIn("uploads are at most 3600 s", body["error"])

    def test_foreign_hosts_origins_and_oversized_bodies_are_refused_before_reading(self):
        status, _, data = self.s.request("GET", "/api/health", headers={"Host": "evil.example"})
        self.assertEqual(status, 403, data)  # DNS rebinding: another host name pointing at 127.0.0.1
        status, _, data = self.s.request("POST", "/api/compose", {"style": "chopin", "length": 16},
                                         headers={"Origin": "http://evil.example"})
        self.assertEqual(status, 403, data)  # a cross-site POST from another page
        ok = self.s.json("POST", "/api/compose", {"style": "chopin", "length": 16},
                         headers={"Origin": f"http://127.0.0.1:{self.s.port}"})
        self.assertEqual(len(ok["pieces"]), 1)
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        try:  # only the headers are sent: the 413 must come before any body is read
            c.putrequest("POST", "/api/compose")
            c.putheader("Content-Type", "application/json")
            c.putheader("Content-Length", str(10 << 20))
            c.endheaders()
            r = c.getresponse()
            self.assertEqual(r.status, 413)
        finally:
            c.close()

    def test_data_folders(self):
        self.assertEqual(self.s.json("GET", "/api/data"),
                         {"folders": [{"name": "Chopin", "files": len(SLICE)}], "base": None})

    def test_runs_bad_requests(self):
        up = lambda fields, files, status, *words: self.assertTrue(  # noqa: E731
            all(w in self.s.upload("/api/runs", fields, files, expect=status)[1]["error"] for w in words))
        up([("folder", "Chopin")], [], 400, "name")
        up([("name", "big"), ("folder", "Chopin"), ("batch", "256"), ("seq", "512")], [], 400, "batch x seq")
        up([("name", "../evil"), ("folder", "Chopin")], [], 400, "name")
        up([("name", "x" * 65), ("folder", "Chopin")], [], 400, "name")
        up([("name", "ok"), ("folder", "Chopin"), ("preset", "huge")], [], 400, "preset", "small")
        up([("name", "ok"), ("folder", "Chopin"), ("tokenizer", "words")], [], 400, "tokenizer")
        up([("name", "ok"), ("folder", "Chopin"), ("minutes", "0")], [], 400, "minutes")
        up([("name", "ok"), ("folder", "Chopin"), ("minutes", "lots")], [], 400, "minutes")
        up([("name", "ok"), ("folder", "../data")], [], 400, "folder")
        up([("name", "ok")], [], 400, "folder", "files")
        up([("name", "ok"), ("folder", "Chopin")], [("files", "a.mid", self.midi)], 400, "folder", "files")
        up([("name", "ok")], [("files", "a.mid", self.midi), ("files", "b.txt", b"hello")], 400, "b.txt", "not a MIDI")
        up([("name", "ok")], [("files", f"{i}.mid", b"x") for i in range(65)], 400, "64")
        up([("name", "ok")], [("files", "big.mid", b"MThd" + b"\0" * (2 << 20))], 413)
        status, _, _ = self.s.request("POST", "/api/runs", b"\0" * (41 << 20),
                                      {"Content-Type": "multipart/form-data; boundary=x"})
        self.assertEqual(status, 413)
        self.error("GET", "/api/runs/nobody", None, 404)
        self.error("POST", "/api/runs/nobody/stop", b"", 404)
        self.error("POST", "/api/runs/nobody/resume", b"", 404)
        self.error("GET", "/api/runs/nobody/events", None, 404)
        self.error("GET", "/api/runs/..%2Fstate/plots/loss.png", None, 404)
        self.assertFalse((self.tmp / "runs" / "ok").exists())

    def test_training_runs_stream_stop_resume_and_compose(self):
        # From uploads: a short run of two epochs, followed on its event stream.
        files = [("files", f, (CHOPIN / f).read_bytes()) for f in SLICE]
        fields = [("name", "mine"), ("minutes", "2"), ("epochs", "2")] + list(FAST.items())
        status, body = self.s.upload("/api/runs", fields, files, expect=202)
        run = body["run"]
        self.assertEqual((run["name"], run["preset"], run["minutes"]), ("mine", "small", 2))
        self.assertIn(run["state"], ("queued", "running"))
        status, busy = self.s.upload("/api/runs", [("name", "other"), ("folder", "Chopin")], [], expect=409)
        self.assertEqual(busy["error"], "a run is already training: mine; stop it or wait")
        events = self.s.events("/api/runs/mine/events", final)
        kinds = [e for e, _ in events]
        self.assertEqual(events[0], ("state", events[0][1]))
        self.assertEqual([d["epoch"] for e, d in events if e == "epoch"], [1, 2])
        self.assertIn("progress", kinds)
        progress = next(d for e, d in events if e == "progress")
        self.assertTrue({"batch", "batches", "loss", "tokens_per_second", "eta_seconds"} <= set(progress))
        self.assertEqual(events[-1][1]["state"], "finished")
        run = self.s.json("GET", "/api/runs/mine")
        self.assertEqual((run["state"], run["epoch"], len(run["history"])), ("finished", 2, 2))
        self.assertEqual(run["checkpoints"][:2], ["best", "last"])
        self.assertIn("epoch-0002", run["checkpoints"])
        self.assertTrue(run["best_epoch"] in (1, 2) and run["best_val_loss"] > 0)
        self.assertTrue({"train_loss", "val_loss", "train_accuracy", "val_accuracy", "copied_share"} <= set(run["history"][0]))
        uploads = list((self.tmp / "state" / "uploads").rglob("*.mid"))
        self.assertEqual(sorted(f.name for f in uploads), ["001.mid", "002.mid", "003.mid", "004.mid"])
        if "loss" in run["plots"]:
            status, h, png = self.s.request("GET", run["plots"]["loss"])
            self.assertEqual((status, h["content-type"], png[:4]), (200, "image/png", b"\x89PNG"))
        # A finished run's stream replays its history and ends at once.
        replay = self.s.events("/api/runs/mine/events", lambda e: False, timeout=20)
        self.assertEqual([e for e, _ in replay], ["epoch", "epoch", "state"])
        # The new style appears after the models folder's and composes, from best and a checkpoint.
        styles = self.s.json("GET", "/api/styles")["styles"]
        self.assertEqual([(s["name"], s["source"]) for s in styles],
                         [("broken", "models"), ("chopin", "models"), ("zcarded", "models"), ("cli-run", "run"),
                          ("mine", "run")])
        self.assertEqual(self.compose(run="mine", length=32, seed=1)[0]["style"], "mine")
        p = self.compose(run="mine", checkpoint="epoch-0002", length=32, seed=1)[0]
        self.assertEqual(p["checkpoint"], "epoch-0002")
        self.error("POST", "/api/compose", {"run": "mine", "checkpoint": "epoch-0099"}, 404, "epoch-0002")
        self.error("POST", "/api/compose", {"run": "mine", "checkpoint": "../best"}, 400, "checkpoint")
        status, _ = self.s.upload("/api/runs", [("name", "mine"), ("folder", "Chopin")], [], expect=409)
        self.error("POST", "/api/runs/mine/stop", b"", 409, "not training")

        # A run that cannot train (one piece: nothing to hold out for validation) fails with the reason.
        fields = [("name", "tiny"), ("epochs", "1")]
        self.s.upload("/api/runs", fields, [("files", "one.mid", self.midi)], expect=202)
        events = self.s.events("/api/runs/tiny/events", final)
        self.assertEqual(events[-1][1]["state"], "failed")
        run = self.s.json("GET", "/api/runs/tiny")
        self.assertEqual((run["state"], run["epoch"], run["checkpoints"]), ("failed", 0, []))
        self.assertIn("only 1 usable piece", run["message"])

        # From the data root: stop after the first epoch, resume, stop again.
        fields = [("name", "long"), ("folder", "Chopin"), ("minutes", "5")] + list(FAST.items())
        self.s.upload("/api/runs", fields, [], expect=202)
        self.s.events("/api/runs/long/events", lambda ev: any(e == "epoch" for e, _ in ev))
        stopped = self.s.json("POST", "/api/runs/long/stop", b"")
        self.assertEqual(stopped["name"], "long")
        events = self.s.events("/api/runs/long/events", final)
        self.assertEqual(events[-1][1]["state"], "stopped")
        run = self.s.json("GET", "/api/runs/long")
        self.assertEqual(run["state"], "stopped")
        done = run["epoch"]
        self.assertGreaterEqual(done, 1)
        resumed = self.s.json("POST", "/api/runs/long/resume", b"", expect=202)
        self.assertIn(resumed["state"], ("queued", "running"))
        self.assertEqual(len(resumed["history"]), done)
        self.error("POST", "/api/runs/mine/resume", b"", 409, "already training: long")
        self.s.events("/api/runs/long/events", lambda ev: any(e == "epoch" and d["epoch"] > done for e, d in ev))
        self.s.json("POST", "/api/runs/long/stop", b"")
        self.s.events("/api/runs/long/events", final)
        run = self.s.json("GET", "/api/runs/long")
        self.assertEqual(run["state"], "stopped")
        self.assertGreater(run["epoch"], done)
        self.assertEqual([r["epoch"] for r in run["history"]], list(range(1, run["epoch"] + 1)))
        self.assertEqual(self.compose(run="long", checkpoint="last", length=32)[0]["run"], "long")
        names = [r["name"] for r in self.s.json("GET", "/api/runs")["runs"]]
        self.assertEqual(names, ["cli-run", "long", "mine", "tiny"])


@unittest.skipUnless(have_styled_inputs(), "needs ETUDE_BIN and the shared corpus (ETUDE_CORPUS: Chopin, Mozart)")
class ServeStyles(unittest.TestCase):
    """A tiny style-conditioned model installed as the base model `piano` (rows Chopin and Mozart)
    beside a model without rows (`chopin`)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="etude-serve-styles-"))
        cls.data = make_data(cls.tmp)
        cls.models = train_model(cls.tmp, cls.data)
        train_styled_model(cls.tmp, cls.models, "piano")
        (cls.models / "broken.safetensors").write_bytes(b"not a model file")
        cls.s = Server(cls.tmp, "--state", cls.tmp / "state", "--models", cls.models, "--runs", cls.tmp / "runs",
                       "--data", cls.data)

    @classmethod
    def tearDownClass(cls):
        rc = cls.s.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, rc

    def compose(self, **fields):
        return self.s.json("POST", "/api/compose", fields)["pieces"]

    def error(self, body, status, *words):
        status_got, _, data = self.s.request("POST", "/api/compose", body)
        self.assertEqual(status_got, status, (body, data[:300]))
        message = json.loads(data)["error"]
        for w in words:
            self.assertIn(w, message)
        return message

    def test_styles_lists_every_row_of_a_conditioned_model(self):
        styles = [s for s in self.s.json("GET", "/api/styles")["styles"] if s["source"] == "models"]  # runs: below
        self.assertEqual([(s["name"], s["kind"], s.get("model")) for s in styles],
                         [("broken", "model", None), ("chopin", "model", None), ("piano", "model", None),
                          ("Chopin", "style", "piano"), ("Mozart", "style", "piano")])
        piano, row = styles[2], styles[3]
        self.assertEqual((piano["source"], piano["styles_of_model"], piano["tokenizer"]),
                         ("models", ["Chopin", "Mozart"], "beats"))
        self.assertEqual(piano["card"]["styles"], ["Chopin", "Mozart"])
        self.assertEqual((row["source"], row["styles_of_model"], row["tokenizer"]), ("models", ["Chopin", "Mozart"], "beats"))
        self.assertNotIn("card", row)  # the card is the model's (its entry has it)
        self.assertEqual(self.s.json("GET", "/api/data")["base"], {"name": "piano", "styles": ["Chopin", "Mozart"]})

    def test_compose_a_style_row(self):
        p = self.compose(style="Chopin", length=64, seed=3)[0]
        self.assertEqual((p["style"], p["model"], p["blend"], p["tokens"]), ("Chopin", "piano", "Chopin", 64))
        self.assertGreater(p["notes"], 0)
        # The same row asked with the model named, and without regard to case: the same piece.
        same = self.compose(model="piano", style="chopin", length=64, seed=3)[0]
        self.assertEqual((same["blend"], same["roll"]), ("Chopin", p["roll"]))
        self.assertEqual(self.compose(style="Mozart", length=32, seed=3)[0]["blend"], "Mozart")
        # Style strength: 2 unless asked (guidance against the all-styles blend), 1 = as trained.
        self.assertEqual(p["style_strength"], 2)
        weak = self.compose(style="Chopin", length=64, seed=3, style_strength=1)[0]
        self.assertEqual(weak["style_strength"], 1)
        self.assertEqual(self.compose(style="Chopin", length=64, seed=3, style_strength=2)[0]["roll"], p["roll"])
        # A model file named by its name still wins (as `etude compose --style chopin`); piano alone: every row equally.
        self.assertEqual(self.compose(style="chopin", length=16)[0]["model"], "chopin")
        self.assertEqual(self.compose(model="piano", length=16)[0]["blend"], "Chopin 0.50 + Mozart 0.50")
        self.assertEqual(self.compose(style="piano", length=16)[0]["blend"], "Chopin 0.50 + Mozart 0.50")

    def test_compose_a_blend(self):
        p = self.compose(style="Chopin:0.7,Mozart:0.3", length=64, seed=5)[0]
        self.assertEqual((p["style"], p["model"], p["blend"]), ("Chopin:0.7,Mozart:0.3", "piano", "Chopin 0.70 + Mozart 0.30"))
        self.assertGreater(p["notes"], 0)
        status, h, _ = self.s.request("GET", p["files"]["midi"])
        self.assertEqual((status, h["content-disposition"]),
                         (200, 'attachment; filename="etude-Chopin-0.70-Mozart-0.30-5.mid"'))
        # Weights are normalized: 7:3 is 0.7:0.3, and all of one style is that style alone.
        self.assertEqual(self.compose(style="chopin:7, mozart:3", length=64, seed=5)[0]["roll"], p["roll"])
        alone = self.compose(style="Chopin", length=64, seed=5)[0]
        self.assertEqual(self.compose(style="Chopin:1,Mozart:0", length=64, seed=5)[0]["roll"], alone["roll"])

    def test_bad_styles_and_blends_are_400s_naming_the_known_styles(self):
        self.error({"style": "Liszt"}, 400, "unknown style Liszt", "Chopin, Mozart (in piano)", "chopin")
        self.error({"style": "Chopin:0.5,Liszt:0.5"}, 400, "Liszt", "Chopin, Mozart")
        self.error({"style": "Chopin:lots,Mozart:0.3"}, 400, "weight", "lots", "Chopin, Mozart")
        self.error({"style": "Chopin:-1,Mozart:2"}, 400, "weight", "Chopin, Mozart")
        self.error({"style": "Chopin:,Mozart:1"}, 400, "weight", "Chopin, Mozart")
        self.error({"style": "Chopin:0,Mozart:0"}, 400, "sum to zero", "Chopin, Mozart")
        self.error({"style": "Chopin,,Mozart"}, 400, "empty style name", "Chopin, Mozart")
        self.error({"model": "piano", "style": "Liszt"}, 400, "Liszt", "piano knows: Chopin, Mozart")
        self.error({"model": "piano", "style": "Chopin:0,Mozart:0"}, 400, "sum to zero", "piano knows: Chopin, Mozart")
        self.error({"model": "chopin", "style": "Chopin"}, 400, "without style rows", "Chopin, Mozart (in piano)")
        self.error({"style": "Chopin\n"}, 400, "style", "not a valid name")
        self.error({"style": "x" * 600}, 400, "style")
        self.error({"style": "Chopin", "style_strength": 9}, 400, "style_strength")
        self.error({"style": "Chopin", "style_strength": "2"}, 400, "style_strength")
        self.error({"model": "broken"}, 500, "broken", "could not be loaded")

    def test_fine_tuning_from_the_base_model(self):
        files = [("files", f, (CHOPIN / f).read_bytes()) for f in SLICE]
        up = lambda fields, status, *words: self.assertTrue(  # noqa: E731
            all(w in self.s.upload("/api/runs", fields, files, expect=status)[1]["error"] for w in words))
        up([("name", "x"), ("from", "nobody")], 404, "nobody", "piano")
        up([("name", "x"), ("from", "../piano")], 400, "from")
        up([("name", "x"), ("from", "piano"), ("preset", "small")], 400, "preset", "piano")
        up([("name", "x"), ("from", "broken")], 400, "broken", "cannot be read")
        self.assertFalse((self.tmp / "runs" / "x").exists())
        fields = [("name", "mine"), ("from", "piano"), ("minutes", "2"), ("epochs", "1"), ("seq", "32"), ("batch", "8")]
        _, body = self.s.upload("/api/runs", fields, files, expect=202)
        self.assertEqual(body["run"]["from"], "piano")
        events = self.s.events("/api/runs/mine/events", final)
        self.assertEqual(events[-1][1]["state"], "finished", events[-1])
        run = self.s.json("GET", "/api/runs/mine")
        self.assertEqual((run["from"], run["tokenizer"], run["epoch"]), ("piano", "beats", 1))
        # The run's model holds the base's rows and its own: each listed, each composes.
        styles = self.s.json("GET", "/api/styles")["styles"]
        model = next(s for s in styles if s["name"] == "mine" and s["kind"] == "model")
        self.assertEqual(model["source"], "run")
        self.assertEqual(sorted(model["styles_of_model"]), ["Chopin", "Mozart", "mine"])
        rows = [s for s in styles if s.get("run") == "mine"]
        self.assertEqual(sorted(r["name"] for r in rows), ["Chopin", "Mozart", "mine"])
        self.assertTrue(all((r["kind"], r["model"], r["source"]) == ("style", "mine", "run") for r in rows))
        p = self.compose(run="mine", style="mine", length=32, seed=1)[0]
        self.assertEqual((p["run"], p["checkpoint"], p["model"], p["blend"]), ("mine", "best", "mine", "mine"))
        p = self.compose(run="mine", checkpoint="last", style="mine:0.5,Chopin:0.5", length=32, seed=1)[0]
        self.assertIn(p["blend"], ("Chopin 0.50 + mine 0.50", "mine 0.50 + Chopin 0.50"))
        self.error({"run": "mine", "style": "Liszt"}, 400, "Liszt", "mine knows:")
        # The base model is unchanged.
        self.assertEqual(self.compose(style="Chopin", length=16)[0]["model"], "piano")


@unittest.skipUnless(have_inputs(), "needs ETUDE_BIN and the shared corpus (ETUDE_CORPUS)")
class ServeProcess(unittest.TestCase):
    def folder(self):
        tmp = Path(tempfile.mkdtemp(prefix="etude-serve-process-"))
        self.addCleanup(shutil.rmtree, tmp, True)
        return tmp

    def start(self, tmp, *args):
        s = Server(tmp, "--state", tmp / "state", *args)
        self.addCleanup(s.stop)  # runs before the folder's removal
        return s

    def test_bad_flags_and_a_busy_port(self):
        tmp = self.folder()
        run = lambda *a: subprocess.run([ETUDE, "serve", *map(str, a)],  # noqa: E731
                                        capture_output=True, text=True, timeout=20)
        r = run("--state", tmp / "state", "--data", tmp / "missing")
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertIn("--data", r.stderr)
        self.assertEqual(len(r.stderr.strip().split("\n")), 1)
        self.assertEqual(run("--state", tmp / "state", "--port", "70000").returncode, 1)
        r = run("--state", tmp / "state4", "--max-tokens", "5")  # below the shortest length (16): a flag error
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("--max-tokens", r.stderr)
        self.assertEqual(len(r.stderr.strip().split("\n")), 1)
        self.assertFalse((tmp / "state4").exists())
        r = run("--state", tmp / "state3", "--device", "gpu")
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertIn("--device", r.stderr)
        self.assertEqual(len(r.stderr.strip().split("\n")), 1)
        self.assertFalse((tmp / "state3").exists(), "serve made its state folder before refusing --device")
        cuda = json.loads(subprocess.run([ETUDE, "devices", "--json"], capture_output=True, text=True).stdout)["cuda"]
        if not cuda["usable"]:  # training runs asked to use a GPU that is not there: refused at startup
            r = run("--state", tmp / "state3", "--device", "cuda")
            self.assertEqual((r.returncode, r.stdout), (2, ""))
            self.assertIn(cuda["why"], r.stderr)
            self.assertIn("--device cpu", r.stderr)
        s = self.start(tmp, "--models", tmp / "none")
        r = run("--port", s.port, "--state", tmp / "state2")
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"cannot listen on 127.0.0.1:{s.port}", r.stderr)
        self.assertEqual(s.stop(), 0)
        # A --models folder that does not exist starts the server (it is read once made) with a warning.
        self.assertIn(f"--models {tmp / 'none'}: no such folder", (tmp / "serve.err").read_text())

    def test_page_from_a_web_folder(self):
        tmp = self.folder()
        (tmp / "web" / "sub").mkdir(parents=True)
        (tmp / "web" / "index.html").write_text("<html>hello</html>")
        (tmp / "web" / "sub" / "x.css").write_text("body {}")
        (tmp / "secret.txt").write_text("secret")
        s = self.start(tmp, "--web", tmp / "web", "--models", tmp / "none")
        self.assertEqual(s.request("GET", "/")[2], b"<html>hello</html>")
        status, h, body = s.request("GET", "/sub/x.css")
        self.assertEqual((status, h["content-type"], body), (200, "text/css; charset=utf-8", b"body {}"))
        for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt", "/app.js"]:
            self.assertIn(s.request("GET", path)[0], (400, 404), path)
        self.assertEqual(s.stop(), 0)

    def test_sigterm_while_training_saves_the_run_and_exits_0(self):
        tmp = self.folder()
        s = self.start(tmp, "--data", make_data(tmp), "--models", tmp / "none")
        self.assertEqual(s.json("GET", "/api/styles"), {"styles": []})
        fields = [("name", "bg"), ("folder", "Chopin"), ("minutes", "5")] + list(FAST.items())
        s.upload("/api/runs", fields, [], expect=202)
        s.events("/api/runs/bg/events", lambda ev: any(e == "progress" for e, _ in ev))
        self.assertEqual(s.stop(), 0)
        serve = json.loads((tmp / "state" / "runs" / "bg" / "serve.json").read_text())
        self.assertEqual(serve["state"], "stopped")
        self.assertIn("shut down", serve["message"])
        self.assertTrue((tmp / "state" / "runs" / "bg" / "state.safetensors").exists())


if __name__ == "__main__":
    skip_common.main(verbosity=2)
