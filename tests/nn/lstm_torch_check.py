# Helper of lstm_torch_test.cpp: loads the test's LSTM weights and data into torch.nn.LSTM
# (float64), runs forward and backward, and writes outputs and gradients back as float64.
# Usage: lstm_torch_check.py IN.bin OUT.bin T B I H   (IN: float32 tensors in the order below)
import sys

import numpy as np
import torch

src, dst = sys.argv[1], sys.argv[2]
T, B, I, H = (int(v) for v in sys.argv[3:7])
shapes = {"w_ih": (4 * H, I), "w_hh": (4 * H, H), "b_ih": (4 * H,), "b_hh": (4 * H,),
          "x": (T, B, I), "h0": (B, H), "c0": (B, H), "dy": (T, B, H), "dhT": (B, H), "dcT": (B, H)}
flat = np.fromfile(src, dtype="<f4")
need = sum(int(np.prod(s)) for s in shapes.values())
if flat.size != need:
    sys.exit(f"{src}: {flat.size} floats, expected {need} for T={T} B={B} I={I} H={H}")
t, at = {}, 0
for name, shape in shapes.items():
    n = int(np.prod(shape))
    t[name] = torch.tensor(flat[at:at + n].reshape(shape), dtype=torch.float64)
    at += n

lstm = torch.nn.LSTM(I, H).double()
with torch.no_grad():
    for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
        getattr(lstm, name.replace("w_", "weight_").replace("b_", "bias_") + "_l0").copy_(t[name])
x = t["x"].clone().requires_grad_()
h0 = t["h0"][None].clone().requires_grad_()
c0 = t["c0"][None].clone().requires_grad_()
y, (hT, cT) = lstm(x, (h0, c0))
loss = (y * t["dy"]).sum() + (hT[0] * t["dhT"]).sum() + (cT[0] * t["dcT"]).sum()
loss.backward()
out = [y, hT, cT, x.grad, h0.grad, c0.grad, lstm.weight_ih_l0.grad, lstm.weight_hh_l0.grad,
       lstm.bias_ih_l0.grad, lstm.bias_hh_l0.grad]
np.concatenate([o.detach().numpy().ravel() for o in out]).astype("<f8").tofile(dst)
