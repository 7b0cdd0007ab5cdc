# MusicXML through a reader no one here wrote: 20 pieces composed with the shipped piano model and
# 5 Chopin preludes converted from the corpus are written as MusicXML (and one as .mxl), validated
# against the MusicXML 4.0 XSD with xmllint, converted to MIDI by Debian's MuseScore 3 (headless,
# one batch job), and MuseScore's notes (pitch, onset and duration on the score's grid) must be
# exactly the notes the MusicXML holds, ties joined (overlapping unisons merged, as one MIDI
# channel must).
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from fractions import Fraction
from pathlib import Path

import mido

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: skip_common
import skip_common  # noqa: E402

ETUDE = os.environ.get("ETUDE_BIN", "")
SOURCE = Path(os.environ.get("ETUDE_SOURCE", Path(__file__).resolve().parents[2]))
CORPUS = Path(os.environ.get("ETUDE_CORPUS", "/nonexistent"))
SCHEMA = SOURCE / ".." / "shared" / "schemas" / "musicxml-4.0"
MODEL = SOURCE / "models" / "piano.safetensors"
MSCORE = shutil.which("mscore3") or shutil.which("musescore3")
PRELUDES = ["chpn-p1.mid", "chpn-p4.mid", "chpn-p7.mid", "chpn-p15.mid", "chpn-p20.mid"]
STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def etude(*args):
    r = subprocess.run([ETUDE, *map(str, args)], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    if r.returncode != 0:
        raise AssertionError(f"etude {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}")
    return r


def musicxml_notes(text):
    """(pitch, onset, duration) in quarter notes of every sounding note, tied values joined."""
    root = ET.fromstring(text)
    notes = []
    for part in root.iter("part"):
        divisions, cursor = 1, Fraction(0)
        open_ties = {}  # (pitch, staff, voice) -> index in notes of the note a tie continues
        for measure in part.iter("measure"):
            last_onset = cursor
            for el in measure:
                if el.tag == "attributes" and el.find("divisions") is not None:
                    divisions = int(el.findtext("divisions"))
                elif el.tag == "backup":
                    cursor -= Fraction(int(el.findtext("duration")), divisions)
                elif el.tag == "forward":
                    cursor += Fraction(int(el.findtext("duration")), divisions)
                elif el.tag == "note":
                    if el.find("grace") is not None:
                        continue
                    duration = Fraction(int(el.findtext("duration")), divisions)
                    onset = last_onset if el.find("chord") is not None else cursor
                    if el.find("chord") is None:
                        cursor += duration
                    last_onset = onset
                    pitch_el = el.find("pitch")
                    if pitch_el is None:
                        continue  # a rest
                    pitch = (12 * (int(pitch_el.findtext("octave")) + 1) + STEPS[pitch_el.findtext("step")] +
                             int(float(pitch_el.findtext("alter") or 0)))
                    ties = {t.get("type") for t in el.findall("tie")}
                    key = (pitch, el.findtext("staff"), el.findtext("voice"))
                    if "stop" in ties and key in open_ties:
                        i = open_ties.pop(key)
                        p, o, d = notes[i]
                        assert o + d == onset, f"tie on {pitch} does not continue at {onset}"
                        notes[i] = (p, o, d + duration)
                    else:
                        notes.append((pitch, onset, duration))
                        i = len(notes) - 1
                    if "start" in ties:
                        open_ties[key] = i
    return notes


def one_channel(notes):
    """What one MIDI channel can play of `notes`: a note struck while the same pitch still sounds
    (the other hand or voice holding it, or a unison of two voices) merges with it into one note
    from the first onset to the last end, as MuseScore plays it. Returns the notes and how many
    were merged away."""
    out = []
    for pitch, onset, duration in sorted(notes):
        if out and out[-1][0] == pitch and onset < out[-1][1] + out[-1][2]:
            p, o, d = out[-1]
            out[-1] = (p, o, max(d, onset + duration - o))
        else:
            out.append((pitch, onset, duration))
    return out, len(notes) - len(out)


def midi_notes(path, divisions):
    """(pitch, onset, duration) in quarter notes, on the grid of 1/divisions quarter (nearest step)."""
    mid = mido.MidiFile(path)
    notes = []
    for track in mid.tracks:
        now, sounding = 0, {}
        for m in track:
            now += m.time
            if m.type == "note_on" and m.velocity > 0:
                sounding.setdefault((m.channel, m.note), []).append(now)
            elif m.type in ("note_off", "note_on") and sounding.get((m.channel, m.note)):
                start = sounding[(m.channel, m.note)].pop(0)
                notes.append((m.note, start, now - start))
    step = Fraction(mid.ticks_per_beat, divisions)
    return [(p, Fraction(round(s / step), divisions), Fraction(round(d / step), divisions)) for p, s, d in notes]


@unittest.skipUnless(ETUDE and Path(ETUDE).exists(), "needs ETUDE_BIN")
class MusicXmlRoundTrip(unittest.TestCase):
    def test_twenty_composed_and_five_corpus_pieces(self):
        if not MSCORE:
            self.skipTest("MuseScore 3 not installed (Debian's musescore3; scripts/setup.sh installs it)")
        if not shutil.which("xmllint"):
            self.skipTest("xmllint not installed (libxml2-utils)")
        if not (SCHEMA / "musicxml.xsd").exists():
            self.skipTest(f"no MusicXML schema at {SCHEMA}")
        if not MODEL.exists() or not (CORPUS / "Chopin").is_dir():
            self.skipTest("needs models/piano.safetensors and the piano-midi corpus")
        tmp = Path(tempfile.mkdtemp(prefix="etude-mxl-roundtrip-"))
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        t0 = time.monotonic()
        # 20 composed pieces: 10 moved to D major (sharps), 10 to F minor (flats), 12 s each.
        for key, name in (("D major", "d"), ("F minor", "f")):
            etude("compose", "--style", "chopin", "--count", 10, "--seed", 11, "--seconds", 12, "--key", key,
                  "--threads", 1, "--out", tmp / f"{name}.mid", "--score", tmp / f"{name}.musicxml")
        for prelude in PRELUDES:
            etude("convert", CORPUS / "Chopin" / prelude, tmp / prelude, "--score", tmp / (Path(prelude).stem + ".musicxml"))
        # One as .mxl too: a zip whose container names the score, the same MusicXML inside.
        etude("convert", CORPUS / "Chopin" / PRELUDES[0], tmp / "p1.mid", "--score", tmp / "p1.mxl")
        with zipfile.ZipFile(tmp / "p1.mxl") as z:
            self.assertEqual(z.namelist()[0], "mimetype")
            self.assertEqual(z.read("mimetype"), b"application/vnd.recordare.musicxml")
            self.assertEqual(z.getinfo("mimetype").compress_type, zipfile.ZIP_STORED)
            root = ET.fromstring(z.read("META-INF/container.xml")).find("rootfiles/rootfile").get("full-path")
            inner = z.read(root).decode()
        self.assertEqual(inner, (tmp / "chpn-p1.musicxml").read_text())
        composed_s = time.monotonic() - t0

        files = sorted(tmp.glob("*.musicxml"))
        self.assertEqual(len(files), 25, [f.name for f in files])
        env = dict(os.environ, XML_CATALOG_FILES=str(SCHEMA / "catalog.xml"))
        r = subprocess.run(["xmllint", "--nonet", "--noout", "--schema", str(SCHEMA / "musicxml.xsd"), *map(str, files)],
                           capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])

        # MuseScore converts all 25 (and the .mxl) in one process: its start-up costs seconds.
        job = [{"in": str(f), "out": str(f.with_suffix(".ms.mid"))} for f in files]
        job.append({"in": str(tmp / "p1.mxl"), "out": str(tmp / "p1-mxl.ms.mid")})
        (tmp / "job.json").write_text(json.dumps(job))
        t1 = time.monotonic()
        r = subprocess.run([MSCORE, "-j", str(tmp / "job.json")], capture_output=True, text=True, timeout=900,
                           env=dict(os.environ, QT_QPA_PLATFORM="offscreen"), stdin=subprocess.DEVNULL)
        mscore_s = time.monotonic() - t1
        if r.returncode != 0 and not all(Path(j["out"]).exists() for j in job):
            self.fail(f"mscore3 exited {r.returncode}: {r.stderr[-2000:]}")

        total = overlapped = 0
        for f in files:
            text = f.read_text()
            divisions = int(ET.fromstring(text).find(".//attributes/divisions").text)
            written, unisons = one_channel(musicxml_notes(text))
            self.assertGreater(len(written), 20, f.name)
            overlapped += unisons
            read = one_channel(midi_notes(f.with_suffix(".ms.mid"), divisions))[0]
            missing, extra = Counter(written) - Counter(read), Counter(read) - Counter(written)
            self.assertFalse(missing or extra, f"{f.name}: {sum(missing.values())} notes MuseScore lost "
                             f"(first {sorted(missing)[:5]}), {sum(extra.values())} it added (first {sorted(extra)[:5]})")
            total += len(written)
        divisions = int(ET.fromstring(inner).find(".//attributes/divisions").text)
        self.assertEqual(Counter(one_channel(midi_notes(tmp / "p1-mxl.ms.mid", divisions))[0]),
                         Counter(one_channel(musicxml_notes(inner))[0]))
        print(f"round trip: {len(files)} MusicXML files, {total} notes equal after MuseScore ({overlapped} struck "
              f"while the same pitch sounded merged with it: one MIDI channel cannot play both) "
              f"(etude {composed_s:.0f} s, mscore3 {mscore_s:.0f} s)")


if __name__ == "__main__":
    skip_common.main(verbosity=2)
