#!/usr/bin/python3
# PyTorch side of tests/nn/torch_parity_test.cpp: loads each <case>.model.safetensors written by
# the C++ engine into an equivalent torch module (the documented tensor-name mapping), and checks
# logits, loss, all gradients and the parameters after 3 Adam / 3 RMSprop steps (1e-4 relative).
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch

TOL = 1e-4


def read_safetensors(path):
    """The safetensors format by hand: u64 header length, JSON header, raw little-endian data."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        buf = data[b:e]
        if t["dtype"] == "F32":
            a = np.frombuffer(buf, dtype="<f4")
        elif t["dtype"] == "F16":
            a = np.frombuffer(buf, dtype="<f2").astype(np.float32)
        elif t["dtype"] == "BF16":
            a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: {name}: dtype {t['dtype']}")
        tensors[name] = torch.from_numpy(a.copy().reshape(t["shape"]))
    return meta, tensors


class EtudeNet(torch.nn.Module):
    """The model JSON as torch modules; state_dict names match Etude's tensor names."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        vocab, inp = spec["vocab"], spec["input"]
        feat = {"embedding": inp.get("dim", 0), "scalar": 1, "onehot": vocab}[inp["type"]]
        if inp["type"] == "embedding":
            self.embedding = torch.nn.Embedding(vocab, feat)
            if inp.get("styles", 0) > 0:  # x = embedding(token) + style_embedding(style)
                self.style_embedding = torch.nn.Embedding(inp["styles"], feat)
        self.lstm, self.dense, self.batchnorm = (torch.nn.ModuleDict() for _ in range(3))
        for i, l in enumerate(spec["layers"]):
            if l["type"] == "lstm":
                self.lstm[str(i)] = torch.nn.LSTM(feat, l["units"])
                feat = l["units"]
            elif l["type"] == "dense":
                units = vocab if l["units"] == "vocab" else l["units"]
                self.dense[str(i)] = torch.nn.Linear(feat, units)
                feat = units
            elif l["type"] == "batchnorm":
                self.batchnorm[str(i)] = torch.nn.BatchNorm1d(feat, eps=l["eps"], momentum=l["momentum"])

    def forward(self, tokens, styles=None):  # tokens, styles [T][B] (time-major, like nn.LSTM's default)
        spec, kind = self.spec, self.spec["input"]["type"]
        if kind == "embedding":
            x = self.embedding(tokens)
            if styles is not None:
                x = x + self.style_embedding(styles)
        elif kind == "scalar":
            x = (tokens.float() / float(spec["vocab"])).unsqueeze(-1)
        else:
            x = torch.nn.functional.one_hot(tokens, spec["vocab"]).float()
        for i, l in enumerate(spec["layers"]):
            if l["type"] == "lstm":
                y, (h, _) = self.lstm[str(i)](x)
                x = y if l["return_sequences"] else h[0]
            elif l["type"] == "dropout":
                x = torch.nn.functional.dropout(x, l["rate"], self.training)
            elif l["type"] == "batchnorm":
                x = self.batchnorm[str(i)](x.reshape(-1, x.shape[-1])).reshape(x.shape)
            elif l["type"] == "activation":
                x = {"relu": torch.relu, "tanh": torch.tanh}[l["activation"]](x)
            else:
                x = self.dense[str(i)](x)
                x = {"none": x, "relu": torch.relu(x), "tanh": torch.tanh(x)}[l["activation"]]
        return x  # [T][B][V], or [B][V] after a non-sequence lstm


def load_model(path):
    """Loading an Etude model file into torch: the dozen lines the README promises."""
    meta, tensors = read_safetensors(path)
    net = EtudeNet(json.loads(meta["etude.model"]))
    missing, unexpected = net.load_state_dict(tensors, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return net, meta


def loss_of(net, logits, targets, B, T):
    V = net.spec["vocab"]
    if net.spec["mode"] == "seq2seq":
        tgt = torch.tensor(targets, dtype=torch.long).reshape(B, T).t().reshape(-1)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, V), tgt)
    last = logits[-1] if logits.dim() == 3 else logits
    return torch.nn.functional.cross_entropy(last, torch.tensor(targets, dtype=torch.long))


def rel(a, b, tiny=1e-12):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), tiny))


def check_case(prefix):
    net, meta = load_model(f"{prefix}.model.safetensors")
    _, want = read_safetensors(f"{prefix}.expected.safetensors")
    data = json.loads(meta["test.data"])
    B, T = data["batch"], data["time"]
    tokens = torch.tensor(data["tokens"], dtype=torch.long).reshape(B, T).t().contiguous()
    styles = None
    if "styles" in data:
        styles = torch.tensor(data["styles"], dtype=torch.long).reshape(B, T).t().contiguous()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    failures = []

    def expect(what, ours, theirs, tiny=1e-12):
        r = rel(ours, theirs, tiny)
        status = "ok" if r <= TOL else "MISMATCH"
        print(f"  {status:8s} {what}: rel {r:.2e}")
        if r > TOL:
            failures.append(what)

    net.train()
    logits = net(tokens, styles)
    loss = loss_of(net, logits, data["targets"], B, T)
    loss.backward()
    expect("logits", want["logits"].reshape(-1), logits.detach().reshape(-1))
    expect("loss", want["loss"], loss.detach().reshape(1))
    grads = {k: p.grad for k, p in net.named_parameters()}
    tiny = 1e-3 * max(float(g.abs().max()) for g in grads.values())
    for name, g in grads.items():
        expect(f"grad {name}", want[f"grad.{name}"], g, tiny)

    spec = net.spec
    # A dense bias feeding a batchnorm has an (almost exactly) zero true gradient, so Adam's and
    # RMSprop's normalised steps follow round-off: torch float32 and torch float64 disagree by
    # 3e-3 (Adam) and 3e-2 (RMSprop) there. Batchnorm cases therefore check 3 SGD-momentum steps
    # (linear in the gradient: running statistics and all parameters through 3 training steps);
    # Adam and RMSprop are checked exactly on the cases without batchnorm.
    has_bn = any(l["type"] == "batchnorm" for l in spec["layers"])
    for opt_name in ("sgd",) if has_bn else ("adam", "rmsprop", "sgd"):
        net.load_state_dict(init)
        o = spec["optimizer"]
        if opt_name == "adam":
            opt = torch.optim.Adam(net.parameters(), lr=o["lr"], eps=o["eps"], foreach=False)
        elif opt_name == "rmsprop":
            opt = torch.optim.RMSprop(net.parameters(), lr=o["lr"], alpha=0.99, eps=o["eps"], foreach=False)
        else:
            opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9, foreach=False)
        for _ in range(3):
            opt.zero_grad()
            loss_of(net, net(tokens, styles), data["targets"], B, T).backward()
            if spec["clip"] > 0:
                torch.nn.utils.clip_grad_norm_(net.parameters(), spec["clip"])
            opt.step()
        for name, v in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            expect(f"{opt_name} x3 {name}", want[f"{opt_name}3.{name}"], v)
    return failures


def main():
    folder = Path(sys.argv[1])
    torch.set_num_threads(2)
    failed = []
    for model in sorted(folder.glob("*.model.safetensors")):
        prefix = str(model)[: -len(".model.safetensors")]
        print(Path(prefix).name)
        failed += [f"{Path(prefix).name}: {f}" for f in check_case(prefix)]
    if failed:
        print("torch parity FAILED:\n  " + "\n  ".join(failed))
        return 1
    print("torch parity: all cases within", TOL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
