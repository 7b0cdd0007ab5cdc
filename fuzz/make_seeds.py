# Writes the small synthetic seed files in fuzz/seeds/ (no corpus data): one per reader feature
# and a few broken ones. Run with /usr/bin/python3 fuzz/make_seeds.py; the output is committed.
import os

NOTE = bytes([0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0])
EOT = bytes([0x00, 0xFF, 0x2F, 0x00])


def chunk(tag, body):
    return tag + len(body).to_bytes(4, "big") + body


def smf(fmt, division, *tracks, count=None):
    head = chunk(b"MThd", bytes([0, fmt]) + (count if count is not None else len(tracks)).to_bytes(2, "big") + division.to_bytes(2, "big"))
    return head + b"".join(chunk(b"MTrk", t) for t in tracks)


conductor = (bytes([0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, 0x00, 0xFF, 0x58, 0x04, 3, 2, 24, 8,
                    0x00, 0xFF, 0x59, 0x02, 0xFE, 0x00, 0x00, 0xFF, 0x03, 0x04]) + b"Cond" +
             bytes([0x83, 0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40]) + EOT)
piano = bytes([0x00, 0xC0, 0x00, 0x00, 0xB0, 64, 127, 0x00, 0x90, 60, 90, 0x10, 64, 80, 0x00, 0xFF, 0x01, 0x01, 0x41,
               0x10, 60, 0, 0x00, 0xF0, 0x03, 0x7E, 0x7F, 0xF7, 0x10, 64, 0, 0x00, 0xB0, 64, 0,
               0x00, 0x99, 36, 100, 0x08, 0x89, 36, 0x40, 0x00, 0xE0, 0x00, 0x40, 0x00, 0xF7, 0x01, 0xFA]) + EOT
seeds = {
    "format0.mid": smf(0, 96, NOTE + EOT),
    "format1.mid": smf(1, 480, conductor, piano),
    "format2.mid": smf(2, 96, NOTE + EOT, conductor),
    "smpte.mid": smf(0, 0xE728, NOTE + EOT),
    "smpte2997.mid": smf(0, 0xE302, piano),
    "open_notes.mid": smf(0, 96, bytes([0x00, 0x90, 60, 100, 0x00, 60, 100, 0x10, 0x80, 60, 0]) + EOT),
    "truncated.mid": smf(1, 96, conductor, piano)[:-9],
    "wrong_length.mid": smf(1, 96, NOTE + EOT, NOTE + EOT).replace(bytes([0, 0, 0, 12]), bytes([0, 0, 0, 7]), 1),
    "junk.mid": smf(0, 96, NOTE + EOT) + b"\x00\x01junk",
    "missing_track.mid": smf(1, 96, NOTE + EOT, count=3),
    "bad_vlq.mid": smf(0, 96, bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x7F]) + NOTE + EOT),
    "undefined_status.mid": smf(0, 96, bytes([0x00, 0xF4]) + EOT),
}
inner = smf(1, 96, conductor, piano)
seeds["riff.rmi"] = b"RIFF" + (len(inner) + 12).to_bytes(4, "little") + b"RMID" + b"data" + len(inner).to_bytes(4, "little") + inner

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
