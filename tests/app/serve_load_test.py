# A small load test of `etude serve` on loopback: 200 compose requests (64 tokens) from 8
# concurrent clients against --workers 2 --queue 4; a client answered 503 waits (a tenth of
# Retry-After, to keep the test short) and asks again. Every answer must be 200 or the documented
# 503 with Retry-After: 1 (no other failure, no pile-up), all 200 pieces arrive, and the server's
# memory stays flat: VmRSS after the run within 8 MiB of VmRSS after a warm-up of 100 requests
# in the same pattern (which fills the piece cache). Then a burst of 8 long requests at once: the
# 2 beyond workers + queue get 503.
import shutil
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from serve_common import Server, have_inputs, make_data, train_model  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

CLIENTS, REQUESTS, RSS_BOUND_KIB = 8, 200, 8 * 1024
BODY = {"style": "chopin", "length": 64, "temperature": 1.0}


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


@unittest.skipUnless(have_inputs(), "needs ETUDE_BIN and the shared corpus (ETUDE_CORPUS)")
class ServeLoad(unittest.TestCase):
    def test_compose_under_load(self):
        tmp = Path(tempfile.mkdtemp(prefix="etude-serve-load-"))
        s = None
        try:
            models = train_model(tmp, make_data(tmp))
            s = Server(tmp, "--state", tmp / "state", "--models", models, "--workers", "2", "--queue", "4")
            lock = threading.Lock()

            def load(requests, first_seed):
                """requests pieces from CLIENTS clients; [(status, retry_after, ms, body)] of every answer."""
                results, todo = [], iter(range(requests))

                def client():
                    while True:
                        with lock:
                            i = next(todo, None)
                        if i is None:
                            return
                        while True:
                            t0 = time.perf_counter()
                            status, headers, body = s.request("POST", "/api/compose", dict(BODY, seed=first_seed + i))
                            ms = 1000 * (time.perf_counter() - t0)
                            with lock:
                                results.append((status, headers.get("retry-after"), ms, body))
                            if status != 503:
                                break
                            time.sleep(0.1)

                threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
                [t.start() for t in threads]
                [t.join() for t in threads]
                return results

            # Warm-up with the same pattern: the model loaded, the piece cache (64) full, every
            # HTTP and worker thread that the load reaches has run.
            warm = load(100, 0)
            self.assertEqual(sum(r[0] == 200 for r in warm), 100)
            rss_warm = s.rss_kib()
            t0 = time.perf_counter()
            results = load(REQUESTS, 1000)
            wall = time.perf_counter() - t0
            rss_after = s.rss_kib()

            ok = [r for r in results if r[0] == 200]
            busy = [r for r in results if r[0] == 503]
            other = [r for r in results if r[0] not in (200, 503)]
            lat = [r[2] for r in ok]
            print(f"\n{REQUESTS} compose requests (64 tokens) from {CLIENTS} clients, --workers 2 --queue 4: "
                  f"{len(ok)} x 200, {len(busy)} x 503, {len(other)} other, {wall:.1f} s "
                  f"({len(ok) / wall:.1f} pieces/s)")
            print(f"latency of the 200s: p50 {percentile(lat, 0.5):.0f} ms, p90 {percentile(lat, 0.9):.0f} ms, "
                  f"p99 {percentile(lat, 0.99):.0f} ms, max {max(lat):.0f} ms")
            print(f"server VmRSS: {rss_warm / 1024:.1f} MiB after warm-up, {rss_after / 1024:.1f} MiB after the run "
                  f"({(rss_after - rss_warm) / 1024:+.1f} MiB; bound +{RSS_BOUND_KIB / 1024:.0f} MiB)")
            self.assertEqual(other, [], [(r[0], r[3][:200]) for r in other])
            self.assertEqual(len(ok), REQUESTS)
            self.assertTrue(all(r[1] == "1" and b"error" in r[3] for r in busy))
            self.assertLessEqual(rss_after - rss_warm, RSS_BOUND_KIB)
            self.assertEqual(s.json("GET", "/api/health")["ok"], True)  # still answering
            pieces = list((tmp / "state" / "pieces").iterdir())
            self.assertLessEqual(len(pieces), 64)  # the piece cache is bounded on disk too

            # A burst of 8 long requests at once: 2 run, 4 wait, the rest are refused at once.
            burst, start = [], threading.Barrier(CLIENTS)

            def long_request():
                start.wait()
                status, headers, _ = s.request("POST", "/api/compose", dict(BODY, length=1000))
                with lock:
                    burst.append((status, headers.get("retry-after")))

            threads = [threading.Thread(target=long_request) for _ in range(CLIENTS)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            print(f"burst of {CLIENTS} x 1000 tokens: {sorted(b[0] for b in burst)}")
            self.assertTrue(all(b == (200, None) or b == (503, "1") for b in burst), burst)
            self.assertGreaterEqual(sum(b[0] == 503 for b in burst), 1)
            self.assertLessEqual(sum(b[0] == 200 for b in burst), 6 + 1)
        finally:
            if s:
                self.assertEqual(s.stop(), 0)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    skip_common.main(verbosity=2)
