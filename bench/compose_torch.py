# The PyTorch side of bench/compose_vs_torch.sh: loads an Etude model file (`default` or `small`
# preset: embedding, two LSTMs, dense) into bench/nn_torch.py's module, checks its logits against
# `etude forward`, then composes N tokens the way `etude compose` does by default (temperature 1,
# top-p 0.95, one token per step with the LSTM state carried) and prints one JSON line.
# Usage: compose_torch.py MODEL.safetensors --etude BIN [--tokens 500] [--threads N]
import argparse
import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nn_torch import Default  # noqa: E402


def load(path):
    b = Path(path).read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__")
    spec = json.loads(meta["etude.model"])
    dt = {"F32": np.float32, "F16": np.float16}
    t = {k: torch.from_numpy(np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                                           dtype=dt[v["dtype"]]).astype(np.float32).reshape(v["shape"]).copy())
         for k, v in header.items()}
    kinds = [l["type"] for l in spec["layers"]]
    if kinds != ["lstm", "lstm", "dropout", "dense"] or spec["input"]["type"] != "embedding":
        raise SystemExit(f"compose_torch: {path}: only the default/small stack is supported, not {kinds}")
    units, dim, vocab = spec["layers"][0]["units"], spec["input"]["dim"], spec["vocab"]
    model = Default(vocab)
    model.emb = torch.nn.Embedding(vocab, dim)
    model.lstm = torch.nn.LSTM(dim, units, num_layers=2)
    model.out = torch.nn.Linear(units, vocab)
    state = {"emb.weight": t["embedding.weight"], "out.weight": t["dense.3.weight"], "out.bias": t["dense.3.bias"]}
    for i in range(2):
        for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            state[f"lstm.{w}_l{i}"] = t[f"lstm.{i}.{w}_l0"]
    model.load_state_dict(state)
    return model.eval(), vocab


def check_against_etude(model, vocab, path, etude):
    tokens = [1] + [int(x) for x in np.random.default_rng(0).integers(3, vocab, 15)]
    r = subprocess.run([etude, "forward", "--model", str(path), "--tokens", ",".join(map(str, tokens)), "--json"],
                       capture_output=True, text=True, check=True)
    ours = np.array(json.loads(r.stdout)["logits"], dtype=np.float64).reshape(len(tokens), vocab)
    with torch.no_grad():
        theirs = model(torch.tensor(tokens).view(-1, 1))[0][:, 0].double().numpy()
    return float(np.abs(ours - theirs).max())


def compose(model, n_tokens, top_p=0.95):
    """Seconds to compose n_tokens from BOS: top-p sampling over the softmax, state carried."""
    token, state = torch.ones(1, 1, dtype=torch.long), None  # BOS
    gen = torch.Generator().manual_seed(1)
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(n_tokens):
            logits, state = model(token, state)
            p = torch.softmax(logits[0, 0], -1)
            sp, idx = torch.sort(p, descending=True)
            keep = torch.cumsum(sp, 0) - sp < top_p
            q = torch.zeros_like(p).scatter(0, idx[keep], sp[keep])
            token = torch.multinomial(q, 1, generator=gen).view(1, 1)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--etude", required=True)
    ap.add_argument("--tokens", type=int, default=500)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    model, vocab = load(a.model)
    diff = check_against_etude(model, vocab, a.model, a.etude)
    compose(model, 20)  # warm-up
    sec = min(compose(model, a.tokens) for _ in range(3))
    print(json.dumps({"engine": "torch", "tokens": a.tokens, "seconds": sec, "tokens_per_second": a.tokens / sec,
                      "threads": torch.get_num_threads(), "max_abs_logit_diff_vs_etude": diff}))


if __name__ == "__main__":
    main()
