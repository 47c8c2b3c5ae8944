# Makes the PyTorch-made fixtures of tests/fixtures/pytorch/: plain PyTorch models (state_dict only, no seqcast
# metadata, or only the keys named) trained for a few steps on values in raw units, saved as safetensors, with
# PyTorch's own outputs for a test stream (float64, computed from the exact float32 weights and inputs).
#
#   /usr/bin/python3 scripts/make-pytorch-fixtures.py      (Debian python3-torch 1.13.1; no safetensors package needed)
#
# Deterministic: seeded, CPU. The tests read the files; they never need torch.

import json, math, os, struct
import torch, torch.nn as nn
from safetensors_f32 import save_safetensors

OUT = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'pytorch')


def tensor_json(t):
    return {'shape': list(t.shape), 'data': [float(v) for v in t.reshape(-1).tolist()]}


class Predictor(nn.Module):
    """docs/model-format.md's module: lstm then head."""
    def __init__(self, inputs, hidden, outputs):
        super().__init__()
        self.lstm = nn.LSTM(inputs, hidden, batch_first=True)
        self.head = nn.Linear(hidden, outputs)

    def forward(self, x, state=None):
        h, state = self.lstm(x, state)
        return self.head(h), state


def sensor(n, phase=0.0):
    """Two channels in raw units: a temperature around 20 and a flow around 3 (float32)."""
    i = torch.arange(n, dtype=torch.float64) + phase
    x = torch.stack([20 + 5 * torch.sin(i / 4) + 0.1 * torch.sin(i * 1.7), 3 + torch.cos(i / 7)], dim=1)
    return x.to(torch.float32)


def train(model, series, target_of, steps=300, lr=1e-2, window=32):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        starts = torch.randint(0, series.shape[0] - window - 1, (16,), generator=g)
        xb = torch.stack([series[s:s + window] for s in starts])
        yb = torch.stack([target_of(series, s, window) for s in starts])
        loss = ((model(xb)[0] - yb) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss)


def reference(model, x):
    """PyTorch's outputs for one stream x [T, X] from zero state, in float64 from the float32 weights."""
    m64 = Predictor(model.lstm.input_size, model.lstm.hidden_size, model.head.out_features).double()
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    with torch.no_grad():
        return m64(x.double().unsqueeze(0))[0][0]


def make(name, model, x_test, metadata, description):
    save_safetensors(os.path.join(OUT, f'{name}.safetensors'), model.state_dict(), {'format': 'pt', **metadata})
    y = reference(model, x_test)
    case = {
        'name': name,
        'description': description,
        'generator': {'torch': torch.__version__, 'script': 'scripts/make-pytorch-fixtures.py'},
        'inputs': tensor_json(x_test),
        'outputs': tensor_json(y),
        'tolerance': {'abs': 1e-5, 'rel': 1e-4, 'rule': '|actual - expected| <= abs + rel * |expected|'},
    }
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(case, f, indent=1)
        f.write('\n')


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    series = sensor(2000)
    x_test = sensor(64, phase=5000.0)

    # 1. a next-value predictor trained on raw units, saved with no seqcast metadata at all
    raw = Predictor(2, 16, 2)
    loss = train(raw, series, lambda s, a, w: s[a + 1:a + w + 1])
    make('lstm_raw_units', raw, x_test, {},
         f'nn.LSTM(2, 16) + nn.Linear(16, 2) trained 300 Adam steps (final MSE {loss:.4g}) to predict the next frame '
         'in raw units (no normalizer); outputs[t] = head(lstm(inputs[0..t])) from zero state')

    # 2. a delta predictor: trained on x[t+1] - x[t] in raw units, metadata {"target": "delta"}
    torch.manual_seed(1)
    delta = Predictor(2, 16, 2)
    loss = train(delta, series, lambda s, a, w: s[a + 1:a + w + 1] - s[a:a + w])
    make('lstm_delta', delta, x_test, {'seqcast': json.dumps({'target': 'delta'})},
         f'nn.LSTM(2, 16) + nn.Linear(16, 2) trained 300 Adam steps (final MSE {loss:.4g}) to predict the change '
         'x[t+1] - x[t] in raw units, metadata target "delta"; outputs[t] is the raw head output (the change), '
         'so the next value is inputs[t] + outputs[t]')


if __name__ == '__main__':
    main()
