# Cross-check against an independent parser: for EVERY corpus file, `etude inspect --json` must give
# the same notes as mido (count; pitch, velocity, channel, tick and start within 1 microsecond).
# mido's own tick->second conversion is used: merged tracks, tick2second with the tempo in force.
# Every 8th file is also written back by `etude convert` and mido must read the same notes from it.
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import mido

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

TOLERANCE = 1e-6


def mido_onsets(path):
    mid = mido.MidiFile(path)
    tempo, tick, seconds, onsets = 500000, 0, 0.0, []
    for msg in mido.merge_tracks(mid.tracks):
        tick += msg.time
        seconds += mido.tick2second(msg.time, mid.ticks_per_beat, tempo)
        if msg.type == "set_tempo":
            tempo = msg.tempo
        elif msg.type == "note_on" and msg.velocity > 0:
            onsets.append((tick, msg.note, msg.channel, msg.velocity, seconds))
    onsets.sort(key=lambda o: o[:4])
    return onsets


def compare(path, ours, theirs, who):
    if len(ours) != len(theirs):
        return f"{path}: {who} has {len(ours)} notes, mido {len(theirs)}"
    worst = 0.0
    for a, b in zip(ours, theirs):
        if a[:4] != b[:4]:
            return f"{path}: note differs: {who} (tick, pitch, channel, velocity) {a[:4]}, mido {b[:4]}"
        worst = max(worst, abs(a[4] - b[4]))
    if worst > TOLERANCE:
        return f"{path}: {who} start times differ from mido's by up to {worst:.3g} s"
    return None


def check_written(path, theirs):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "converted.mid")
        r = subprocess.run([os.environ["ETUDE_BIN"], "convert", path, out], capture_output=True, text=True)
        if r.returncode != 0:
            return f"{path}: etude convert failed: {r.stderr.strip()}"
        return compare(path, mido_onsets(out), theirs, "mido reading etude's output")


def check(index_path):
    index, path = index_path
    out = subprocess.run([os.environ["ETUDE_BIN"], "inspect", "--json", path], capture_output=True, text=True)
    if out.returncode != 0:
        return f"{path}: etude inspect failed: {out.stderr.strip()}"
    ours = json.loads(out.stdout)["notes"]
    ours = sorted(((n["start_tick"], n["pitch"], n["channel"], n["velocity"], n["start"]) for n in ours),
                  key=lambda o: o[:4])
    theirs = mido_onsets(path)
    return compare(path, ours, theirs, "etude") or (check_written(path, theirs) if index % 8 == 0 else None)


def main():
    corpus = os.environ.get("ETUDE_CORPUS", "")
    if not os.path.isdir(corpus):
        skip_common.skip_suite(f"ETUDE_CORPUS ({corpus!r}) is not a folder")
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in fs
                   if f.lower().endswith((".mid", ".midi", ".kar", ".rmi")))
    assert files, "no MIDI files in the corpus"
    with multiprocessing.Pool(os.cpu_count() or 2) as pool:
        failures = [r for r in pool.imap_unordered(check, enumerate(files), chunksize=4) if r]
    for f in failures:
        print("FAIL", f)
    print(f"{len(files) - len(failures)} of {len(files)} files agree with mido")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
