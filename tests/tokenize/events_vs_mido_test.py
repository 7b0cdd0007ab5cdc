# Cross-check of the `events` tokenizer against mido: for corpus files of several composers, the
# token names printed by `etude tokenize --json` are decoded here (independently of the C++
# decoder) and compared with the notes mido reads, in seconds through the file's tempo map
# (pedal off, so the comparison is about timing, tempo maps and velocity bins).
import json
import os
import subprocess
import sys
import unittest
from collections import defaultdict
from pathlib import Path

import mido

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

ETUDE = os.environ.get("ETUDE_BIN", "build/etude")
CORPUS = os.environ.get("ETUDE_CORPUS", "")


def mido_notes(path):
    """(pitch, start, end, velocity) in seconds: note on/off paired first in, first out per track,
    channel and key (as etude's reader does); ticks to seconds through the tempo events of all
    tracks. A key sounds once: a note cut by a re-strike of its key ends there, and of two notes
    struck together on one key the longer stays."""
    mid = mido.MidiFile(path)
    tempos = sorted((tick, msg.tempo) for track in mid.tracks
                    for tick, msg in zip(_ticks(track), track) if msg.type == "set_tempo")

    def seconds(tick):
        out, last_tick, tempo = 0.0, 0, 500000
        for t, new_tempo in tempos:
            if t >= tick:
                break
            out += (t - last_tick) * tempo / mid.ticks_per_beat / 1e6
            last_tick, tempo = t, new_tempo
        return out + (tick - last_tick) * tempo / mid.ticks_per_beat / 1e6

    notes = []
    for track in mid.tracks:
        open_notes = defaultdict(list)
        for tick, msg in zip(_ticks(track), track):
            if msg.type == "note_on" and msg.velocity > 0:
                open_notes[(msg.channel, msg.note)].append((tick, msg.velocity))
            elif msg.type in ("note_on", "note_off") and open_notes[(msg.channel, msg.note)]:
                start, velocity = open_notes[(msg.channel, msg.note)].pop(0)
                notes.append([msg.note, seconds(start), seconds(tick), velocity])
    notes.sort(key=lambda n: (n[0], n[1], -n[2]))
    notes = [n for i, n in enumerate(notes) if i == 0 or notes[i - 1][:2] != n[:2]]  # the longer of twins
    for a, b in zip(notes, notes[1:]):
        if a[0] == b[0] and b[1] < a[2]:
            a[2] = b[1]
    return notes


def _ticks(track):
    tick = 0
    for msg in track:
        tick += msg.time
        yield tick


def decode_names(names):
    """Performance-event names -> (pitch, start, end, velocity bin)."""
    now, velocity, sounding, notes = 0, 15, {}, []
    for name in names:
        kind, _, value = name.rpartition("_")
        if name.startswith("TIME_SHIFT_"):
            now += int(name[len("TIME_SHIFT_"):-2]) // 10
        elif kind == "VELOCITY":
            velocity = int(value)
        elif kind == "NOTE_ON":
            sounding[int(value)] = (now, velocity)
        elif kind == "NOTE_OFF":
            start, v = sounding.pop(int(value))
            notes.append((int(value), start / 100, now / 100, v))
    assert not sounding, "notes left sounding at EOS"
    return notes


@unittest.skipUnless(os.path.isdir(CORPUS), "ETUDE_CORPUS not set")
class EventsVsMido(unittest.TestCase):
    def test_onsets_ends_and_velocities_match_mido(self):
        files = []
        for composer in ("Bach", "Chopin", "Debussy", "Mozart", "Schumann"):
            folder = os.path.join(CORPUS, composer)
            files.append(os.path.join(folder, sorted(os.listdir(folder))[0]))
        for path in files:
            r = subprocess.run([ETUDE, "tokenize", path, "--tokenizer", "events", "--config", '{"sustain": false}',
                                "--json"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            names = json.loads(r.stdout)["names"]
            self.assertEqual((names[0], names[-1]), ("BOS", "EOS"))
            ours = decode_names(names[1:-1])
            by_key = defaultdict(list)
            for pitch, start, end, vbin in ours:
                by_key[pitch].append((start, end, vbin))
            theirs = mido_notes(path)
            onsets = ends = velocities = 0
            for pitch, start, end, velocity in theirs:
                best = min(by_key[pitch], key=lambda n: abs(n[0] - start), default=None)
                if best is None or abs(best[0] - start) > 0.010 + 1e-9:
                    continue
                onsets += 1
                ends += abs(best[1] - end) <= 0.010 + 1e-9
                velocities += best[2] == (velocity - 1) // 4
            n = len(theirs)
            with self.subTest(file=os.path.basename(path)):
                self.assertEqual(onsets, n)
                self.assertGreaterEqual(ends / n, 0.99)
                self.assertGreaterEqual(velocities / n, 0.999)


if __name__ == "__main__":
    skip_common.main()
