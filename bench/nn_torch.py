# The PyTorch side of bench/nn_vs_torch.sh: the same model shapes as `etude bench`, timed on this
# machine, one JSON line per measurement. Run with Debian's /usr/bin/python3 (torch 1.13).
# Usage: nn_torch.py train default|seed-voc [--steps N] | generate [--tokens N] | lstm | sgemm
import argparse
import json
import time

import numpy as np
import torch
from torch import nn


class Default(nn.Module):
    """`default`: Embedding(V,256) -> LSTM(256,512) x2 -> dropout .2 -> Linear(512,V); seq2seq."""

    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, 256)
        self.lstm = nn.LSTM(256, 512, num_layers=2)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(512, vocab)

    def forward(self, tokens, state=None):  # tokens [T][B]
        y, state = self.lstm(self.emb(tokens), state)
        return self.out(self.drop(y)), state


class SeedVoc(nn.Module):
    """`seed-voc`: scalar input -> LSTM 512 (sequences) -> dropout .2 -> batchnorm -> LSTM 256 (last
    step) -> dropout .2 -> batchnorm -> dense 128 relu -> dropout .2 -> batchnorm -> dense V."""

    def __init__(self, vocab):
        super().__init__()
        self.lstm1 = nn.LSTM(1, 512)
        self.bn1 = nn.BatchNorm1d(512)
        self.lstm2 = nn.LSTM(512, 256)
        self.bn2 = nn.BatchNorm1d(256)
        self.dense = nn.Linear(256, 128)
        self.bn3 = nn.BatchNorm1d(128)
        self.out = nn.Linear(128, vocab)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):  # x [T][B][1]
        y, _ = self.lstm1(x)
        y = self.bn1(self.drop(y).permute(1, 2, 0)).permute(2, 0, 1)  # batch and time statistics
        y, _ = self.lstm2(y)
        y = self.bn2(self.drop(y[-1]))
        y = self.bn3(self.drop(torch.relu(self.dense(y))))
        return self.out(y)


PRESETS = {"default": (Default, 388, 128, 64, True), "seed-voc": (SeedVoc, 358, 100, 64, False)}


def median(xs):
    return sorted(xs)[len(xs) // 2]


def train(preset, steps, vocab=None):
    cls, default_vocab, T, B, seq2seq = PRESETS[preset]
    vocab = vocab or default_vocab
    torch.manual_seed(0)
    model = cls(vocab)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    tokens = torch.randint(0, vocab, (T + 1, B))
    inputs = tokens[:-1] if seq2seq else (tokens[:-1].float() / vocab)[..., None]
    targets = tokens[1:] if seq2seq else tokens[-1]
    times = []
    for step in range(steps + 1):  # the first step warms up and is not timed
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(inputs)[0] if seq2seq else model(inputs)
        loss = loss_fn(logits.reshape(-1, vocab), targets.reshape(-1))
        loss.backward()
        if seq2seq:
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step:
            times.append(time.perf_counter() - t0)
    sec = median(times)
    per_step = T * B if seq2seq else B  # tokens with a loss per step (seq2one: one per window)
    return {"engine": "torch", "what": "train", "preset": preset, "vocab": vocab, "steps": steps,
            "batch": B, "seq": T, "ms_per_step": sec * 1e3, "tokens_per_second": per_step / sec,
            "threads": torch.get_num_threads()}


def generate(n_tokens, vocab=388):
    torch.manual_seed(0)
    model = Default(vocab).eval()
    token, state, out = torch.zeros(1, 1, dtype=torch.long), None, []
    with torch.no_grad():
        for _ in range(20):  # warm-up
            model(token, state)
        t0 = time.perf_counter()
        for _ in range(n_tokens):
            logits, state = model(token, state)
            token = torch.multinomial(torch.softmax(logits[0, 0], -1), 1).view(1, 1)
            out.append(int(token))
        sec = time.perf_counter() - t0
    return {"engine": "torch", "what": "generate", "preset": "default", "tokens": n_tokens,
            "tokens_per_second": n_tokens / sec, "threads": torch.get_num_threads()}


def lstm_only(steps):
    """The 2-layer LSTM of `default` alone (T=128, B=64), forward and backward: the kernel bench."""
    lstm = nn.LSTM(256, 512, num_layers=2)
    x = torch.randn(128, 64, 256)
    times = []
    for step in range(steps + 1):
        t0 = time.perf_counter()
        y, _ = lstm(x)
        y.sum().backward()
        if step:
            times.append(time.perf_counter() - t0)
    sec = median(times)
    return {"engine": "torch", "what": "lstm_train", "ms_per_step": sec * 1e3,
            "tokens_per_second": 128 * 64 / sec, "threads": torch.get_num_threads()}


def sgemm(n=2048, reps=10):
    """Single-precision GEMM n^3 in GFLOP/s through numpy (OpenBLAS) and torch; the best of each."""
    out = {"engine": "torch", "what": "sgemm", "n": n}
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for name, f in (("numpy", lambda: a @ b), ("torch", lambda: torch.mm(ta, tb))):
        f()
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - t0)
        out[name + "_gflops"] = 2 * n**3 / best / 1e9
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["train", "generate", "lstm", "sgemm"])
    ap.add_argument("preset", nargs="?", default="default", choices=list(PRESETS))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--vocab", type=int, default=None)
    ap.add_argument("--tokens", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.what == "train":
        result = train(args.preset, args.steps, args.vocab)
    elif args.what == "generate":
        result = generate(args.tokens, args.vocab or 388)
    elif args.what == "lstm":
        result = lstm_only(args.steps)
    else:
        result = sgemm()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
