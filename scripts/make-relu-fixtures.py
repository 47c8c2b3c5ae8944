# Makes the relu RNN fixtures of tests/fixtures/pytorch/ with a real PyTorch, and checks the other way round: a relu
# RNN trained by `seqcast train --nonlinearity relu` loads into PyTorch's nn.RNN(nonlinearity="relu") and agrees.
#
#   /usr/bin/python3 scripts/make-relu-fixtures.py            (Debian python3-torch 1.13.1; no safetensors package)
#   npm run build && /usr/bin/python3 scripts/make-relu-fixtures.py --check-seqcast
#
# Fixtures (golden format, tests/golden/README.md: float32 params and inputs, float64 references, a tolerance at
# least 10 times PyTorch's own float32 deviation), deterministic (seeded, CPU):
#   rnn_relu_forward.json           a bare nn.RNN(3, 5, nonlinearity="relu"), 11 steps from a given h0
#   rnn_relu_dense_mse_grad.json    rnn (1 layer, relu) + head: forward, MSE loss, BPTT gradients of everything
#   rnn_relu_2layer_mse_grad.json   the same with 2 stacked relu layers at odd sizes (X 5, H 7, O 3, T 9)
#   token_rnn_relu_ce_grad.json     embed (V 7, E 16: the kernel's token-table path) + relu rnn + head, cross-entropy
#   rnn_relu_bare.safetensors       a plain state_dict of nn.RNN(3, 5, nonlinearity="relu") with no seqcast metadata,
#                                   as a PyTorch user saves one (its tensors are rnn_relu_forward's)
#   lstm_bidirectional_head.safetensors, gru_bidirectional_bare.safetensors, rnn_bidirectional_2layer.safetensors
#                                   bidirectional PyTorch models (`*_reverse` tensors), which seqcast refuses by name
# Every pre-activation of every case is at least MARGIN away from 0, so float32 rounding cannot flip a relu.

import json, math, os, re, struct, subprocess, sys, tempfile
import torch, torch.nn as nn, torch.nn.functional as F
from safetensors_f32 import save_safetensors, read_safetensors

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'pytorch')
MARGIN = 1e-3
RULE = 'pass iff |actual - expected| <= abs + rel * |expected| for every element of every output'


def shortest_f32(v):
    """The shortest decimal that rounds back to the same float32."""
    for digits in range(6, 10):
        text = float(f'{v:.{digits}g}')
        if struct.unpack('<f', struct.pack('<f', text))[0] == v:
            return text
    return float(v)


def tensor32(t):
    return {'shape': list(t.shape), 'dtype': 'float32', 'data': [shortest_f32(v) for v in t.reshape(-1).tolist()]}


def tensor64(t):
    return {'shape': list(t.shape), 'dtype': 'float64', 'data': [float(f'{v:.12g}') for v in t.reshape(-1).tolist()]}


def tokens32(t):
    return {'shape': list(t.shape), 'dtype': 'int32', 'data': [int(v) for v in t.reshape(-1).tolist()]}


class Predictor(nn.Module):
    """docs/model-format.md's module with a relu rnn: [embed] → rnn → head."""
    def __init__(self, inputs, hidden, layers, outputs, vocab=0):
        super().__init__()
        if vocab:
            self.embed = nn.Embedding(vocab, inputs)
        self.rnn = nn.RNN(inputs, hidden, num_layers=layers, nonlinearity='relu', batch_first=True)
        self.head = nn.Linear(hidden, outputs)

    def forward(self, x, h0=None):
        if hasattr(self, 'embed'):
            x = self.embed(x)
        h, hn = self.rnn(x, h0)
        return self.head(h), hn, h


def pre_activations(rnn, x, h0):
    """Every layer's z = W_ih x + b_ih + W_hh h + b_hh at every step (float64), to keep them away from relu's kink."""
    zs, inp = [], x
    for l in range(rnn.num_layers):
        w_ih, w_hh = getattr(rnn, f'weight_ih_l{l}'), getattr(rnn, f'weight_hh_l{l}')
        b_ih, b_hh = getattr(rnn, f'bias_ih_l{l}'), getattr(rnn, f'bias_hh_l{l}')
        h, out = h0[l], []
        for t in range(inp.shape[0]):
            z = w_ih @ inp[t] + b_ih + w_hh @ h + b_hh
            zs.append(z)
            h = torch.relu(z)
            out.append(h)
        inp = torch.stack(out)
    return torch.cat(zs)


def tolerance(pairs):
    """abs on a 1-2-5 scale, at least 1e-6, so every element's allowance is ≥ 10× float32 PyTorch's deviation."""
    rel = 1e-4
    worst_dev, worst_name = 0.0, None
    for abs_tol in [m * 10.0 ** e for e in range(-6, 0) for m in (1, 2, 5)]:
        margin = math.inf
        for name, (ref, f32) in pairs.items():
            dev = (f32.double() - ref).abs()
            allow = abs_tol + rel * ref.abs()
            if dev.max() > worst_dev:
                worst_dev, worst_name = float(dev.max()), name
            nz = dev > 0
            if nz.any():
                margin = min(margin, float((allow[nz] / dev[nz]).min()))
        if margin >= 10:
            return {'abs': abs_tol, 'rel': rel, 'rule': RULE, 'float32_torch_max_abs_dev': float(f'{worst_dev:.3g}'),
                    'float32_torch_worst_output': worst_name, 'float32_torch_min_margin': float(f'{margin:.3g}')}
    raise RuntimeError('no tolerance on the 1-2-5 scale up to 0.5 gives a margin of 10')


def generator(seed):
    return {'tool': 'PyTorch', 'torch_version': torch.__version__, 'seed': seed, 'reference_dtype': 'float64',
            'param_dtype': 'float32', 'script': 'scripts/make-relu-fixtures.py'}


def write_case(case):
    with open(os.path.join(OUT, f"{case['name']}.json"), 'w') as f:
        json.dump(case, f, indent=1)
        f.write('\n')


def seeded_until_clear(seed, build):
    """build(seed) → (module, x, h0, rnn); the first seed from `seed` whose pre-activations all clear MARGIN."""
    while True:
        torch.manual_seed(seed)
        module, x, h0, rnn, embedded = build()
        with torch.no_grad():
            z = pre_activations(rnn.double(), embedded.double(), h0.double())
        rnn.float()
        if float(z.abs().min()) >= MARGIN:
            return seed, module, x, h0, float(z.abs().min())
        seed += 1


def forward_case():
    def build():
        rnn = nn.RNN(3, 5, nonlinearity='relu')
        x = torch.randn(11, 3)
        h0 = torch.rand(1, 5) * 0.5
        return rnn, x, h0, rnn, x
    seed, rnn, x, h0, clear = seeded_until_clear(1300, build)
    params = {k: v.detach().clone() for k, v in rnn.state_dict().items()}
    r64 = nn.RNN(3, 5, nonlinearity='relu').double()
    r64.load_state_dict({k: v.double() for k, v in params.items()})
    with torch.no_grad():
        seq64, hn64 = r64(x.double(), h0.double())
        seq32, hn32 = rnn(x, h0)
    tol = tolerance({'h_seq': (seq64, seq32), 'h_n': (hn64, hn32)})
    write_case({
        'format_version': 1, 'name': 'rnn_relu_forward', 'kind': 'rnn_relu_forward',
        'description': 'Elman RNN with ReLU (nn.RNN(3, 5, nonlinearity="relu"), bare state_dict names): '
                       'h_t = max(0, W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), 1 layer, batch 1, T steps from h0. '
                       'h_seq[t] is h_t; h_n the final state. The file needs seqcast metadata {"nonlinearity": "relu"}.',
        'generator': generator(seed), 'shapes': {'T': 11, 'X': 3, 'H': 5, 'num_layers': 1},
        'config': {'cell': 'rnn_relu', 'min_abs_pre_activation': float(f'{clear:.3g}')},
        'params': {k: tensor32(v) for k, v in params.items()},
        'inputs': {'x': tensor32(x), 'h0': tensor32(h0)},
        'outputs': {'h_seq': tensor64(seq64), 'h_n': tensor64(hn64)},
        'tolerance': tol,
    })
    # what a PyTorch user saves: the state_dict alone, no seqcast metadata
    save_safetensors(os.path.join(OUT, 'rnn_relu_bare.safetensors'), params, {'format': 'pt'})


def grad_case(name, seed, X, H, L, O, T, vocab=0):
    """Forward, loss and every gradient (parameters, h0, x for frames) of Predictor in float64 and float32."""
    ce = vocab > 0
    def build():
        module = Predictor(X, H, L, O, vocab)
        with torch.no_grad():
            if vocab:
                module.embed.weight.mul_(0.5)
        x = torch.randint(0, vocab, (T,)) if ce else torch.randn(T, X)
        h0 = (torch.rand(L, H) - 0.3) * 0.6
        embedded = module.embed.weight[x].detach() if ce else x
        return module, x, h0, module.rnn, embedded
    seed, module, x, h0, clear = seeded_until_clear(seed, build)
    target = torch.randint(0, O, (T,)) if ce else torch.randn(T, O)
    params = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def run(dtype):
        m = Predictor(X, H, L, O, vocab).to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in params.items()})
        hh = h0.to(dtype).clone().requires_grad_(True)
        xx = x.clone() if ce else x.to(dtype).clone().requires_grad_(True)
        y, hn, _ = m(xx.unsqueeze(0), hh.unsqueeze(1))
        y = y[0]
        loss = F.cross_entropy(y, target) if ce else F.mse_loss(y, target.to(dtype))
        loss.backward()
        out = {'logits' if ce else 'y': y.detach(), 'loss': loss.detach(), 'h_n': hn[:, 0].detach()}
        for k, p in m.named_parameters():
            out[f'grad/{k}'] = p.grad.detach()
        out['grad/h0'] = hh.grad.detach()
        if not ce:
            out['grad/x'] = xx.grad.detach()
        return out
    r64, r32 = run(torch.float64), run(torch.float32)
    tol = tolerance({k: (r64[k], r32[k]) for k in r64})
    loss_text = 'F.cross_entropy over the T steps (mean)' if ce else "mean over all T*O elements of (y - target)^2 (F.mse_loss, reduction='mean')"
    inputs = {'tokens': tokens32(x)} if ce else {'x': tensor32(x)}
    inputs['h0'] = tensor32(h0)
    inputs['targets' if ce else 'target'] = tokens32(target) if ce else tensor32(target)
    write_case({
        'format_version': 1, 'name': name, 'kind': 'bptt_grad',
        'description': f'Full BPTT through a {L}-layer Elman RNN with ReLU (nn.RNN(nonlinearity="relu"))'
                       f'{" over nn.Embedding(V, E)" if ce else ""} + dense head: h_t = max(0, W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) '
                       f'per layer; y_t = head.weight @ h_t + head.bias; loss = {loss_text}. Outputs: forward, loss, final state '
                       'and d loss / d (every parameter, h0' + ('' if ce else ', x') + '). The file needs seqcast metadata {"nonlinearity": "relu"}.',
        'generator': generator(seed), 'shapes': {'T': T, 'X': X, 'H': H, 'O': O, 'num_layers': L, **({'V': vocab} if ce else {})},
        'config': {'cell': 'rnn_relu', 'loss': 'cross_entropy_mean' if ce else 'mse_mean_over_all_elements',
                   'min_abs_pre_activation': float(f'{clear:.3g}')},
        'params': {k: tensor32(v) for k, v in params.items()},
        'inputs': inputs,
        'outputs': {k: tensor64(v) for k, v in r64.items()},
        'tolerance': tol,
    })


class Bidirectional(nn.Module):
    """A bidirectional recurrent module, with or without a head over both directions' h (2H wide)."""
    def __init__(self, cell, inputs, hidden, layers, outputs):
        super().__init__()
        setattr(self, cell, getattr(nn, cell.upper())(inputs, hidden, num_layers=layers, bidirectional=True, batch_first=True))
        if outputs:
            self.head = nn.Linear(2 * hidden, outputs)


def bidirectional_files():
    torch.manual_seed(1700)
    save_safetensors(os.path.join(OUT, 'lstm_bidirectional_head.safetensors'), Bidirectional('lstm', 3, 4, 1, 2).state_dict(), {'format': 'pt'})
    save_safetensors(os.path.join(OUT, 'gru_bidirectional_bare.safetensors'), nn.GRU(2, 3, bidirectional=True).state_dict(), {'format': 'pt'})
    save_safetensors(os.path.join(OUT, 'rnn_bidirectional_2layer.safetensors'), Bidirectional('rnn', 2, 3, 2, 0).state_dict(), {'format': 'pt'})


def check_seqcast():
    """seqcast train --kind rnn --nonlinearity relu, then seqcast predict, against the file loaded into PyTorch."""
    d = tempfile.mkdtemp()
    data, path, inputs, out = (os.path.join(d, n) for n in ('data.csv', 'm.safetensors', 'in.csv', 'out.csv'))
    i = torch.arange(600, dtype=torch.float64)
    rows = torch.stack([20 + 5 * torch.sin(i / 6), 3 + torch.cos(i / 11) + 0.3 * torch.sin(i * 0.7)], dim=1)
    with open(data, 'w') as f:
        f.write('temp,flow\n' + '\n'.join(f'{a:.4f},{b:.4f}' for a, b in rows.tolist()) + '\n')
    run = lambda *args: subprocess.run(['node', os.path.join(ROOT, 'bin', 'seqcast.js'), *args], check=True, stdout=subprocess.DEVNULL)
    run('train', '--data', data, '--kind', 'rnn', '--nonlinearity', 'relu', '--layers', '2', '--hidden', '7',
        '--window', '16', '--epochs', '3', '--quiet', '--out', path)
    frames = rows[:120]
    with open(inputs, 'w') as f:
        f.write('\n'.join(f'{a:.4f},{b:.4f}' for a, b in frames.tolist()) + '\n')
    run('predict', '--model', path, '--input', inputs, '--output', out)
    got = torch.tensor([[float(c) for c in line.split(',')[:2]] for line in open(out).read().strip().split('\n')[1:]], dtype=torch.float64)
    tensors, meta = read_safetensors(path)
    assert meta.get('nonlinearity') == 'relu', f'the file says nonlinearity {meta.get("nonlinearity")!r}'
    model = Predictor(2, 7, 2, 2)
    model.load_state_dict(tensors)
    # docs/model-format.md's seqcast_outputs, run as written
    doc = open(os.path.join(ROOT, 'docs', 'model-format.md')).read()
    namespace = {}
    exec(re.search(r'```python\n(.*?)```', doc[doc.index('## What the outputs are'):], re.S).group(1), namespace)
    x = torch.tensor([[float(f'{v:.4f}') for v in r] for r in frames.tolist()], dtype=torch.float32).reshape(1, -1, 2)
    norm = meta.get('normalizer')
    fed = (x - torch.tensor(norm['mean'])) / torch.tensor(norm['std']) if norm else x
    with torch.no_grad():
        raw, _, _ = model(fed)
    expected = namespace['seqcast_outputs'](raw, x, meta)[0].double()
    worst = float((got - expected).abs().max())
    scale = float(expected.abs().max())
    print(f'seqcast-trained 2-layer relu rnn (hidden 7) in PyTorch nn.RNN(nonlinearity="relu"): {got.shape[0]} steps, '
          f'max |seqcast predict − PyTorch| = {worst:.3g} (outputs up to {scale:.3g}; predict writes float32 values exactly)')
    tanh = nn.RNN(2, 7, num_layers=2, batch_first=True)
    tanh.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith('rnn.')})
    with torch.no_grad():
        raw_tanh = model.head(tanh(fed)[0])
    wrong = float((namespace['seqcast_outputs'](raw_tanh, x, meta)[0].double() - expected).abs().max())
    print(f'  the same file read as tanh would be off by up to {wrong:.3g}')
    if not worst <= 1e-3 * max(1.0, scale):
        sys.exit('seqcast and PyTorch disagree')


def main():
    if '--check-seqcast' in sys.argv:
        check_seqcast()
        return
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    forward_case()
    grad_case('rnn_relu_dense_mse_grad', 1400, X=3, H=5, L=1, O=2, T=13)
    grad_case('rnn_relu_2layer_mse_grad', 1500, X=5, H=7, L=2, O=3, T=9)
    grad_case('token_rnn_relu_ce_grad', 1600, X=16, H=9, L=1, O=7, T=10, vocab=7)
    bidirectional_files()


if __name__ == '__main__':
    main()
