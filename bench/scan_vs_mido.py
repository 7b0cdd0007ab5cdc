# Benchmark driver for bench/scan_vs_mido.sh: times `etude scan FOLDER` (best of RUNS) and a mido
# script doing the same work (parse every file, pair notes, ticks -> seconds; totals) on all cores.
import multiprocessing
import os
import subprocess
import sys
import time

import mido


def scan_one(path):
    try:
        mid = mido.MidiFile(path)
    except Exception as e:  # a bad file is reported, as etude scan does
        return path, False, 0, 0.0, str(e)
    tempo, seconds, notes, open_notes = 500000, 0.0, 0, {}
    for msg in mido.merge_tracks(mid.tracks):
        seconds += mido.tick2second(msg.time, mid.ticks_per_beat, tempo)
        if msg.type == "set_tempo":
            tempo = msg.tempo
        elif msg.type == "note_on" and msg.velocity > 0:
            open_notes.setdefault((msg.channel, msg.note), []).append(seconds)
            notes += 1
        elif msg.type in ("note_off", "note_on"):
            started = open_notes.get((msg.channel, msg.note))
            if started:
                started.pop(0)
    return path, True, notes, seconds, ""


def mido_scan(folder):
    procs = int(os.environ.get("MIDO_PROCS", os.cpu_count() or 1))
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs
                   if f.lower().endswith((".mid", ".midi", ".kar", ".rmi")))
    with multiprocessing.Pool(procs) as pool:
        results = pool.map(scan_one, files, chunksize=4)
    ok = sum(r[1] for r in results)
    notes = sum(r[2] for r in results)
    hours = sum(r[3] for r in results) / 3600
    return f"total: {len(files)} files, {ok} ok, {len(files) - ok} failed, {notes} notes, {hours:.2f} hours"


def main():
    etude, folder = sys.argv[1], sys.argv[2]
    runs = int(os.environ.get("RUNS", 5))
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run([etude, "scan", folder], capture_output=True, text=True)
        best = min(best, time.perf_counter() - t0)
    etude_total = out.stdout.strip().splitlines()[-1]
    t0 = time.perf_counter()
    mido_total = mido_scan(folder)
    mido_time = time.perf_counter() - t0
    print(f"etude scan: {etude_total}")
    print(f"mido:       {mido_total}")
    print(f"etude scan: {best:.3f} s (best of {runs})   mido ({os.environ.get('MIDO_PROCS', os.cpu_count())} processes): "
          f"{mido_time:.2f} s   ratio: {mido_time / best:.0f}x (goal >= 50x)")
    if etude_total != mido_total:
        print("WARNING: the totals differ, the comparison is not like for like")


if __name__ == "__main__":
    main()
