#!/usr/bin/env bash
# Soak test of `etude serve` (outside CI, loopback only, bounded in time): N minutes of mixed
# compose, render (WAV, SVG), primer upload and training requests from 8 clients, with the server's
# RSS, open files and threads sampled every 10 s into OUT/samples.csv and every request into
# OUT/requests.csv. The summary says whether the samples are flat after warm-up and counts 5xx
# answers other than the documented 503s (pool full, Retry-After); exit 1 when either fails.
# Usage: bench/soak.sh [MINUTES (30)] [BUILD_DIR (build)] [OUT (out/soak)]
#   Composes with the shipped models/ (first listed style); trains "small" models for 0.2 minutes
#   on four Chopin preludes of $ETUDE_CORPUS (copied to a temporary folder, uploaded or as --data).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-30}
BUILD=${2:-${BUILD:-build}}
OUT=${3:-out/soak}
CORPUS=${ETUDE_CORPUS:-../shared/corpora/piano-midi}
export OPENBLAS_CORETYPE=SkylakeX
[[ -x "$BUILD/etude" ]] || { echo "soak: no $BUILD/etude; run make build first" >&2; exit 2; }
[[ -d "$CORPUS/Chopin" ]] || { echo "soak: no $CORPUS/Chopin (set ETUDE_CORPUS)" >&2; exit 2; }
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/data/chopin"
for f in chpn-p7.mid chpn-p20.mid chpn-p9.mid chpn-p4.mid; do cp "$CORPUS/Chopin/$f" "$tmp/data/chopin/"; done
"$BUILD/etude" serve --port 0 --models models --state "$tmp/state" --data "$tmp/data" --threads 1 \
  >"$tmp/out" 2>"$OUT/server.log" &
echo $! >"$tmp/pid"
for _ in $(seq 100); do grep -q listening "$tmp/out" && break; sleep 0.1; done
grep -q listening "$tmp/out" || { echo "soak: the server did not start" >&2; cat "$OUT/server.log" >&2; exit 2; }
port=$(sed -E 's/.*:([0-9]+)\/$/\1/' "$tmp/out")

set +e
/usr/bin/python3 - "$port" "$(cat "$tmp/pid")" "$MINUTES" "$OUT" "$tmp/data/chopin" <<'PY'
import http.client, json, os, random, statistics, sys, threading, time, uuid
port, pid, minutes, out, midi_dir = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
CLIENTS, SAMPLE_S = 8, 10
t0 = time.time()
deadline = t0 + minutes * 60
midi = [open(os.path.join(midi_dir, f), "rb").read() for f in sorted(os.listdir(midi_dir))]
lock = threading.Lock()
requests = []  # (t, client, action, status, seconds)

def call(client, action, method, path, body=None, ctype="application/json"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.time()
    try:
        c.request(method, path, body=body, headers={"Content-Type": ctype} if body is not None else {})
        r = c.getresponse()
        data = r.read()
        status = r.status
    except Exception as e:  # a dropped connection counts as a failure
        status, data = 599, str(e).encode()
    with lock:
        requests.append((round(start - t0, 2), client, action, status, round(time.time() - start, 3)))
        if status >= 500 and status != 503:
            print(f"soak: {action} {path} -> {status} {data[:200]!r}", file=sys.stderr)
    return status, data

def multipart(fields, files):
    b, boundary = [], "soak" + uuid.uuid4().hex
    for k, v in fields.items():
        b.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    for name, fname, data in files:
        b.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{fname}"\r\n'
                 f'Content-Type: audio/midi\r\n\r\n'.encode() + data + b"\r\n")
    b.append(f"--{boundary}--\r\n".encode())
    return b"".join(b), "multipart/form-data; boundary=" + boundary

status, data = call(-1, "styles", "GET", "/api/styles")
styles = [s["name"] for s in json.loads(data)["styles"] if s.get("kind") == "style" and "error" not in s]
styles = styles or [s["name"] for s in json.loads(data)["styles"] if "error" not in s]
if not styles:
    sys.exit("soak: no usable style in models/")
runs_started = [0]

def client(k):
    rng = random.Random(k)
    pieces, primers = [], []
    while time.time() < deadline:
        x, status = rng.random(), 0
        if k == 0 and x < 0.15:  # training: one client, one run at a time (409 while one trains)
            n = runs_started[0]; runs_started[0] += 1
            if n % 2:
                body, ctype = multipart({"name": f"soak{n}", "folder": "chopin", "minutes": "0.2", "preset": "small",
                                         "batch": "8", "seq": "32", "epochs": "1"}, [])
            else:
                body, ctype = multipart({"name": f"soak{n}", "minutes": "0.2", "preset": "small", "batch": "8",
                                         "seq": "32", "epochs": "1"}, [("files", f"p{i}.mid", m) for i, m in enumerate(midi[:2])])
            call(k, "train", "POST", "/api/runs", body, ctype)
            time.sleep(rng.uniform(20, 40))
        elif x < 0.50:
            req = {"style": rng.choice(styles), "length": rng.randint(48, 160), "seed": rng.randint(0, 10**6)}
            if primers and rng.random() < 0.3:
                req["primer"] = rng.choice(primers)
                req["primer_seconds"] = 4
            status, data = call(k, "compose", "POST", "/api/compose", json.dumps(req))
            if status == 200:
                pieces += [p["id"] for p in json.loads(data)["pieces"]]
                pieces = pieces[-8:]
        elif x < 0.75 and pieces:
            name = rng.choice(["piece.wav", "piece.wav", "score.svg", "piece.mid", "report.json"])
            call(k, "render", "GET", f"/api/pieces/{rng.choice(pieces)}/{name}")
        elif x < 0.90:
            body, ctype = multipart({}, [("file", "primer.mid", rng.choice(midi))])
            status, data = call(k, "upload", "POST", "/api/primers", body, ctype)
            if status == 201:
                primers = (primers + [json.loads(data)["id"]])[-4:]
        else:
            call(k, "list", "GET", rng.choice(["/api/styles", "/api/runs", "/api/data", "/api/health", "/"]))
        if status == 503:
            time.sleep(1)  # Retry-After

samples = []  # (t, rss_mib, fds, threads, requests)
def sampler():
    while True:
        try:
            st = open(f"/proc/{pid}/status").read().split("\n")
            rss = next(int(l.split()[1]) for l in st if l.startswith("VmRSS:")) / 1024
            thr = next(int(l.split()[1]) for l in st if l.startswith("Threads:"))
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, StopIteration):
            return
        with lock:
            samples.append((round(time.time() - t0), round(rss, 1), fds, thr, len(requests)))
        if time.time() >= deadline:
            return
        time.sleep(SAMPLE_S)

threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
sam = threading.Thread(target=sampler)
for t in threads + [sam]: t.start()
for t in threads + [sam]: t.join()

with open(os.path.join(out, "samples.csv"), "w") as f:
    f.write("seconds,rss_mib,open_files,threads,requests\n")
    f.writelines(",".join(map(str, s)) + "\n" for s in samples)
with open(os.path.join(out, "requests.csv"), "w") as f:
    f.write("seconds,client,action,status,duration_s\n")
    f.writelines(",".join(map(str, r)) + "\n" for r in requests)

# Flat after warm-up: the first 20% (at least 60 s) is warm-up; the rest is halved and the medians
# of the halves compared (RSS within 10% or 32 MiB, open files within 8, threads within 4).
warm = max(60, 0.2 * minutes * 60)
rest = [s for s in samples if s[0] >= warm]
verdict, ok = "too short to judge (fewer than 4 samples after warm-up)", len(rest) >= 4
if ok:
    a, b = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    drss, dfd, dthr = med(b, 1) - med(a, 1), med(b, 2) - med(a, 2), med(b, 3) - med(a, 3)
    ok = drss <= max(32, 0.1 * med(a, 1)) and dfd <= 8 and dthr <= 4
    verdict = (f"{'flat' if ok else 'NOT flat'} after {warm:.0f} s of warm-up: median RSS {med(a,1):.0f} -> {med(b,1):.0f} MiB, "
               f"open files {med(a,2):.0f} -> {med(b,2):.0f}, threads {med(a,3):.0f} -> {med(b,3):.0f} "
               f"(ranges after warm-up: RSS {min(s[1] for s in rest):.0f}..{max(s[1] for s in rest):.0f} MiB, "
               f"files {min(s[2] for s in rest)}..{max(s[2] for s in rest)}, threads {min(s[3] for s in rest)}..{max(s[3] for s in rest)})")
by = {}
for r in requests:
    by.setdefault(r[2], []).append(r)
bad5xx = [r for r in requests if r[3] >= 500 and r[3] != 503]
print(f"soak: {minutes:g} min, {CLIENTS} clients, {len(requests)} requests, {len(samples)} samples "
      f"(load average {open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} cores)")
for action, rs in sorted(by.items()):
    codes = {}
    for r in rs: codes[r[3]] = codes.get(r[3], 0) + 1
    print(f"  {action:8s} {len(rs):5d} requests, median {statistics.median(r[4] for r in rs):.2f} s, status {dict(sorted(codes.items()))}")
print(f"  {verdict}")
print(f"  5xx other than 503: {len(bad5xx)}; 503 (busy, Retry-After): {sum(r[3] == 503 for r in requests)}")
sys.exit(0 if ok and not bad5xx else 1)
PY
status=$?
set -e
kill -TERM "$(cat "$tmp/pid")"
if wait "$(cat "$tmp/pid")"; then echo "  server stopped cleanly (exit 0) on SIGTERM"
else echo "  server exit status $? on SIGTERM" >&2; status=1; fi
rm -f "$tmp/pid"
echo "  samples: $OUT/samples.csv, requests: $OUT/requests.csv, server log: $OUT/server.log"
exit $status
