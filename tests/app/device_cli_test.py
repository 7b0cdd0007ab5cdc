#!/usr/bin/python3
# --device and --precision on the command line. Everywhere: bad values exit 2 naming the flag,
# `--device cuda` without a usable GPU exits 2 saying why (before writing anything), f16 is refused
# on the CPU, compose and bench step on the CPU unless told otherwise, `--device auto` trains where
# `etude devices` says and the summary and card record it.
# On a GPU only (skipped elsewhere, saying why): a run trained 2 epochs on cuda resumes on the CPU
# (and the reverse) with its loss continuing, a cuda-trained model composes the same tokens on the
# CPU and on cuda, `etude forward` agrees across devices, and `bench train --json` on cuda reports
# the GPU, FLOPs per token and the share of its peak.
import json
import sys
import tempfile
import unittest
from pathlib import Path

from train_common import ETUDE, FAST, SliceRuns, etude, have_inputs, history, make_slice, read_safetensors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402


def devices():
    return json.loads(etude("devices", "--json").stdout)


def cuda_usable():
    return bool(ETUDE) and Path(ETUDE).exists() and devices()["cuda"]["usable"]


def why_not_cuda():
    return devices()["cuda"]["why"] if ETUDE and Path(ETUDE).exists() else "ETUDE_BIN not set"


@unittest.skipUnless(ETUDE and Path(ETUDE).exists(), "ETUDE_BIN not set (ctest sets it)")
class DeviceFlags(unittest.TestCase):
    def test_devices_reports_cuda_state(self):
        d = devices()
        for key in ("usable", "why", "name", "sm", "sms", "clock_mhz", "memory_gib"):
            self.assertIn(key, d["cuda"])
        self.assertGreaterEqual(d["cpu"]["cores"], 1)
        self.assertTrue(d["cuda"]["usable"] or d["cuda"]["why"], "not usable must say why")
        text = etude("devices").stdout
        self.assertTrue(text.startswith("cuda: "), text)

    def test_bad_values_exit_2_naming_the_flag(self):
        for args in (["bench", "train", "--preset", "small", "--device", "gpu"],
                     ["bench", "generate", "--preset", "small", "--precision", "fp8"],
                     ["train", "/nonexistent", "--out", "/nonexistent/run", "--device", "tpu"]):
            r = etude(*args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("--device" if "--device" in args else "--precision", r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_f16_is_refused_on_the_cpu(self):
        r = etude("bench", "train", "--preset", "small", "--vocab", "20", "--batch", "2", "--seq", "4",
                  "--device", "cpu", "--precision", "f16", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("f16 is the CUDA mixed precision", r.stderr)
        # compose's device is the CPU unless asked: f16 alone is refused there too, GPU or not
        r = etude("compose", "--style", "chopin", "--out", "/nonexistent/x.mid", "--precision", "f16", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("f16 is the CUDA mixed precision", r.stderr)

    def test_bench_defaults_to_the_cpu(self):
        # the CPU benchmarks against PyTorch must not move to a GPU by themselves
        small = ["--preset", "small", "--vocab", "20", "--threads", "1", "--json"]
        j = json.loads(etude("bench", "train", *small, "--batch", "2", "--seq", "4", "--steps", "1").stdout)
        self.assertEqual(j["device"], "cpu")
        self.assertEqual(json.loads(etude("bench", "generate", *small, "--tokens", "5").stdout)["device"], "cpu")

    def test_bench_train_json_reports_device_and_flops(self):
        j = json.loads(etude("bench", "train", "--preset", "small", "--vocab", "20", "--batch", "2", "--seq", "4",
                             "--steps", "1", "--threads", "1", "--device", "cpu", "--json").stdout)
        self.assertEqual(j["device"], "cpu")
        # small: embedding 256 -> lstm 256 -> lstm 256 -> dense vocab; 6 x MACs per token
        macs = 2 * 4 * 256 * (256 + 256) + 256 * 20
        self.assertAlmostEqual(j["flops_per_token"], 6 * macs, delta=1)
        self.assertNotIn("peak_share", j)

    @unittest.skipIf(cuda_usable(), "CUDA is usable here: the refusal is checked on machines without it")
    def test_cuda_without_a_gpu_exits_2_saying_why(self):
        why = why_not_cuda()
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            out = str(Path(tmp) / "x.mid")
            for args, hint in ((["bench", "train", "--preset", "small", "--device", "cuda"], "--device cpu"),
                               (["bench", "generate", "--preset", "small", "--device", "cuda"], "--device cpu"),
                               (["train", tmp, "--out", str(run), "--device", "cuda"], "--device cpu"),
                               (["compose", "--style", "chopin", "--out", out, "--device", "cuda"], "--device cpu"),
                               (["compose", "--style", "chopin", "--out", out, "--device", "auto", "--precision", "f16"],
                                "--precision f32 or bf16"),
                               (["train", tmp, "--out", str(run), "--precision", "f16"], "--precision f32 or bf16")):
                r = etude(*args, check=False)
                self.assertEqual(r.returncode, 2, (args, r.stderr))
                self.assertIn(why, r.stderr, args)
                self.assertIn(hint, r.stderr, args)
            self.assertFalse(run.exists(), "train wrote its run folder before refusing the device")


@unittest.skipUnless(have_inputs(), "ETUDE_BIN or the shared corpus (ETUDE_CORPUS) missing")
class AutoDevice(unittest.TestCase):
    def test_auto_trains_where_devices_says_and_records_it(self):
        want = "cuda" if cuda_usable() else "cpu"
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            data, run = make_slice(tmp, ["chpn-p7.mid", "chpn-p20.mid", "chpn-p9.mid"]), tmp / "run"
            r = etude("train", data, "--out", run, *FAST, "--epochs", 1, env_extra={"XDG_CACHE_HOME": str(tmp / "c")})
            self.assertIn(f"training on {want}", r.stdout)
            if want == "cpu":
                self.assertIn("CUDA not used: " + why_not_cuda(), r.stdout)
            summary = json.loads((run / "summary.json").read_text())
            self.assertEqual(summary["device"]["device"], want)
            self.assertEqual(summary["device"]["precision"], "f32")
            self.assertNotIn("device", summary["config"], "the device must not be pinned by resume")
            meta, _ = read_safetensors(run / "best.safetensors")
            self.assertTrue(json.loads(meta["etude.training"])["device"].startswith(want))
            # Device and precision are the session's: the run resumes under other flags.
            r = etude("train", data, "--out", run, "--resume", "--epochs", 2, "--device", "cpu",
                      env_extra={"XDG_CACHE_HOME": str(tmp / "c")})
            self.assertIn("completed after 2 epochs", r.stdout)
            self.assertEqual(json.loads((run / "summary.json").read_text())["device"]["device"], "cpu")
            # compose steps on the CPU unless told otherwise, GPU or not
            report = tmp / "report.json"
            etude("compose", "--model", run / "best.safetensors", "--out", tmp / "x.mid", "--length", 20,
                  "--report", report)
            self.assertEqual(json.loads(report.read_text())["settings"]["device"], "cpu")


@unittest.skipUnless(have_inputs(), "ETUDE_BIN or the shared corpus (ETUDE_CORPUS) missing")
@unittest.skipUnless(cuda_usable(), f"no usable CUDA here ({why_not_cuda()})")
class CudaRuns(SliceRuns):
    ARGS = [*FAST, "--checkpoint-every", 1, "--seed", 5, "--patience", 0]

    def train_then_resume(self, first, then, name):
        run = self.dir / name
        etude("train", self.data, "--out", run, *self.ARGS, "--epochs", 2, "--device", first, env_extra=self.env)
        r = etude("train", self.data, "--out", run, "--resume", "--epochs", 3, "--device", then, env_extra=self.env)
        self.assertIn("completed after 3 epochs", r.stdout)
        rows = history(run)
        self.assertEqual([int(x["epoch"]) for x in rows], [1, 2, 3])
        for col in ("train_loss", "val_loss"):
            before, after = float(rows[1][col]), float(rows[2][col])
            self.assertLess(after, 1.1 * before, f"{first} -> {then}: {col} jumped from {before} to {after}")
        self.assertIn("on cuda", rows[0 if first == "cuda" else 2]["events"])
        self.assertEqual(json.loads((run / "summary.json").read_text())["device"]["device"], then)
        return run

    def test_cuda_run_resumes_on_cpu(self):
        self.train_then_resume("cuda", "cpu", "cuda-cpu")

    def test_cpu_run_resumes_on_cuda(self):
        self.train_then_resume("cpu", "cuda", "cpu-cuda")

    def test_cuda_model_composes_the_same_tokens_on_both_devices(self):
        run = self.dir / "composing"
        etude("train", self.data, "--out", run, *self.ARGS, "--epochs", 2, "--device", "cuda", env_extra=self.env)
        model = run / "best.safetensors"
        # f32 on both devices: exact token equality for greedy and for sampled seeds 1..3 (logits
        # agree within 1e-4 relative, so only a near-tie could flip a choice; none is expected here).
        for extra in (["--greedy"], ["--seed", "1", "--count", "3"]):
            files = {}
            for device in ("cpu", "cuda"):
                out = self.dir / f"{device}{len(extra)}.mid"
                report = self.dir / f"{device}{len(extra)}.json"
                etude("compose", "--model", model, "--out", out, "--length", 200, "--device", device,
                      "--report", report, *extra)
                self.assertEqual(json.loads(report.read_text())["settings"]["device"], device)
                files[device] = sorted(p.read_bytes() for p in self.dir.glob(f"{device}{len(extra)}*.mid"))
            self.assertEqual(files["cpu"], files["cuda"], f"compose {extra}: cuda tokens differ from cpu")
        tokens = "1,5,9,33,2,7"
        a = json.loads(etude("forward", "--model", model, "--tokens", tokens, "--json", "--device", "cpu").stdout)
        b = json.loads(etude("forward", "--model", model, "--tokens", tokens, "--json", "--device", "cuda").stdout)
        for ra, rb in zip(a["logits"], b["logits"]):
            scale = max(abs(x) for x in ra)
            self.assertLess(max(abs(x - y) for x, y in zip(ra, rb)) / scale, 1e-4)

    def test_bench_train_on_cuda_reports_the_gpu(self):
        for precision in ("f32", "f16"):
            j = json.loads(etude("bench", "train", "--preset", "small", "--device", "cuda", "--precision", precision,
                                 "--steps", 3, "--json").stdout)
            self.assertEqual((j["device"], j["precision"]), ("cuda", precision))
            for key in ("tokens_per_second", "flops_per_token", "gflops", "gpu"):
                self.assertIn(key, j)
            self.assertTrue(j["gpu"]["name"])
            if j["gpu"]["sm"] in (80, 90):
                self.assertGreater(j["peak_share"], 0)
                self.assertLess(j["peak_share"], 1)
            self.assertLess(j["last_loss"], j["first_loss"] * 1.05)


if __name__ == "__main__":
    skip_common.main()
