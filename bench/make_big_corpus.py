#!/usr/bin/env python3
# Writes a synthetic corpus of many small, valid MIDI files (format 0, one piano track) for the
# big-corpus benchmark: N files spread over a few style folders, each style with its own scale,
# rhythm and register, every file varied by a seed. Usage: make_big_corpus.py OUT_DIR [N] [NOTES].
import os
import random
import struct
import sys

STYLES = {  # name: (scale degrees, durations in 1/4 beats, register low, high)
    "major_waltz": ([0, 2, 4, 5, 7, 9, 11], [4, 4, 8, 2], 55, 79),
    "minor_etude": ([0, 2, 3, 5, 7, 8, 11], [1, 1, 2, 1, 2], 48, 84),
    "pentatonic": ([0, 2, 4, 7, 9], [2, 4, 6, 2], 60, 88),
    "chromatic_jazz": (list(range(12)), [3, 1, 2, 6, 2], 43, 76),
}
TPQ = 480


def varlen(v):
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.append(0x80 | (v & 0x7F))
        v >>= 7
    return bytes(reversed(out))


def piece(rng, scale, durations, low, high, notes):
    key = rng.randrange(12)
    tempo = rng.randrange(350_000, 800_000)
    events = []  # (tick, order, bytes): note-offs (order 0) before note-ons at the same tick
    t, pitch = 0, rng.randrange(low, high)
    for _ in range(notes):
        step = rng.choice(durations) * TPQ // 4
        pitch = min(high, max(low, pitch + rng.choice([-4, -3, -2, -1, 1, 2, 3, 5])))
        while (pitch - key) % 12 not in scale:
            pitch += 1
        chord = [pitch] + ([pitch - 12] if rng.random() < 0.2 and pitch - 12 >= 21 else [])
        vel = rng.randrange(40, 110)
        length = max(TPQ // 8, step - rng.randrange(0, TPQ // 8))
        for p in chord:
            events.append((t, 1, bytes([0x90, p, vel])))
            events.append((t + length, 0, bytes([0x80, p, 0])))
        t += step
    events.sort(key=lambda e: (e[0], e[1]))
    track = bytearray(b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big"))
    track += b"\x00\xff\x58\x04" + bytes([rng.choice([3, 4]), 2, 24, 8])
    last = 0
    for tick, _, msg in events:
        track += varlen(tick - last) + msg
        last = tick
    track += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, TPQ) + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    notes = int(sys.argv[3]) if len(sys.argv) > 3 else 120
    names = sorted(STYLES)
    for name in names:
        os.makedirs(os.path.join(out, name), exist_ok=True)
    for i in range(count):
        name = names[i % len(names)]
        rng = random.Random(i * 7919 + 13)
        scale, durations, low, high = STYLES[name]
        data = piece(rng, scale, durations, low, high, rng.randrange(notes // 2, notes * 3 // 2))
        with open(os.path.join(out, name, f"piece_{i:06d}.mid"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
