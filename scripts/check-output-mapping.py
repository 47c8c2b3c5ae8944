# Checks that docs/model-format.md's `seqcast_outputs` (the first python block of "What the outputs are", run as
# written) gives what `seqcast predict` writes, for models made by `seqcast train`: a next-frame model, a --delta
# model and a class label model with as many classes as inputs (all with a normalizer).
#
#   npm run build && /usr/bin/python3 scripts/check-output-mapping.py      (Debian python3-torch; no safetensors package)

import json, math, os, re, struct, subprocess, sys, tempfile
import torch, torch.nn as nn
from safetensors_f32 import read_safetensors

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
doc = open(os.path.join(ROOT, 'docs', 'model-format.md')).read()
section = doc[doc.index('## What the outputs are'):]
exec(re.search(r'```python\n(.*?)```', section, re.S).group(1))  # defines seqcast_outputs


class Predictor(nn.Module):
    def __init__(self, inputs, hidden, layers, outputs):
        super().__init__()
        self.lstm = nn.LSTM(inputs, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, outputs)

    def forward(self, x, state=None):
        h, state = self.lstm(x, state)
        return self.head(h), state


def seqcast(*args):
    subprocess.run(['node', os.path.join(ROOT, 'bin', 'seqcast.js'), *args], check=True, stdout=subprocess.DEVNULL)


def check(name, rows, train_flags, columns):
    d = tempfile.mkdtemp()
    data, model_path, out = os.path.join(d, 'data.csv'), os.path.join(d, 'm.safetensors'), os.path.join(d, 'out.csv')
    with open(data, 'w') as f:
        f.write(','.join(columns) + '\n' + '\n'.join(','.join(f'{v:.4f}' for v in r) for r in rows) + '\n')
    seqcast('train', '--data', data, '--epochs', '2', '--hidden', '8', '--window', '8', '--quiet', '--out', model_path, *train_flags)
    frames = [r[:2] for r in rows]
    inputs = os.path.join(d, 'in.csv')
    with open(inputs, 'w') as f:
        f.write('\n'.join(','.join(f'{v:.4f}' for v in r) for r in frames) + '\n')
    seqcast('predict', '--model', model_path, '--input', inputs, '--output', out)
    got = [[float(c) for c in line.split(',')[:2]] for line in open(out).read().strip().split('\n')[1:]]
    tensors, meta = read_safetensors(model_path)
    model = Predictor(2, 8, 1, tensors['head.bias'].shape[0])
    model.load_state_dict(tensors)
    x = torch.tensor(frames, dtype=torch.float32).reshape(1, -1, 2)
    norm = meta.get('normalizer')
    fed = (x - torch.tensor(norm['mean'])) / torch.tensor(norm['std']) if norm else x
    with torch.no_grad():
        raw, _ = model(fed)
    expected = seqcast_outputs(raw, x, meta)[0].tolist()
    worst = max(abs(a - b) / (1e-4 + 1e-4 * abs(b)) for ra, rb in zip(got, expected) for a, b in zip(ra, rb))
    print(f'{name}: target {meta.get("target")}, {len(got)} rows, worst |seqcast - PyTorch| / (1e-4 + 1e-4 |PyTorch|) = {worst:.3f}')
    return worst <= 1


rows = [[20 + 5 * math.sin(i / 9), 3 * math.cos(i / 13), 1 if math.cos(i / 9) > 0 else 0] for i in range(400)]
ok = all([
    check('next', [r[:2] for r in rows], [], ['a', 'b']),
    check('delta', [r[:2] for r in rows], ['--delta'], ['a', 'b']),
    check('label', rows, ['--label', 'rising', '--task', 'many-to-one'], ['a', 'b', 'rising']),
])
sys.exit(0 if ok else 1)
