# Makes tests/fixtures/positional/: golden vectors for attention models' positional schemes (ALiBi, sinusoidal,
# none), from the very PyTorch module docs/model-format.md spells out (this script runs that page's code block), and
# the check the other way: seqcast-trained ALiBi models loaded into that module give seqcast's numbers.
#
#   npm run build:ts && /usr/bin/python3 scripts/make-positional-fixtures.py [more seqcast models to check ...]
#
# Each case: a PyTorch-made .safetensors file (saved as docs/model-format.md says, metadata included) and a .json
# with a test stream longer than window + sinks (eviction and sinks exercised), the module's outputs for it, one
# training window with its loss and every gradient (BPTT through the whole window), all in float64 from the
# float32 weights; tolerances as shared/golden/README.md chooses them (abs ≥ 10× float32 PyTorch's own deviation).
# Deterministic: seeded, CPU, torch 1.13 (Debian python3-torch). The tests read the files; they never need torch.

import json, math, os, re, struct, subprocess, sys, tempfile
import torch
from safetensors_f32 import save_safetensors, load_safetensors

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'positional')


def docs_module():
    """Runs the python block of docs/model-format.md that defines the attention modules; returns its namespace."""
    text = open(os.path.join(ROOT, 'docs', 'model-format.md'), encoding='utf8').read()
    blocks = [b for b in re.findall(r'```python\n(.*?)```', text, re.S) if 'class Transformer' in b]
    assert len(blocks) == 1, 'docs/model-format.md must hold exactly one python block defining class Transformer'
    namespace = {}
    exec(compile(blocks[0], 'docs/model-format.md', 'exec'), namespace)
    return namespace


M = docs_module()


def tensor_json(t, dtype='float64'):
    return {'shape': list(t.shape), 'dtype': dtype, 'data': [float(v) if dtype != 'int32' else int(v) for v in t.reshape(-1).tolist()]}


def scale_125(x):
    """The smallest of 1, 2, 5 × 10^k that is ≥ x, and at least 1e-6."""
    x = max(x, 1e-6)
    k = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10 ** k >= x * (1 - 1e-12):
            return m * 10 ** k


def build(kind, seed, **config):
    torch.manual_seed(seed)
    model = (M['Transformer'] if kind == 'transformer' else M['Hybrid'])(**config)
    with torch.no_grad():  # every parameter off its default (biases 0, LayerNorm weights 1) so each one shows
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model


def copy_in(model, dtype):
    """A copy of `model` in `dtype` (float64: the reference; float32: what PyTorch itself gets in float32)."""
    m = type(model)(**model.init_args)
    m.load_state_dict({k: v.clone() for k, v in model.state_dict().items()})
    return m.to(dtype)


def case(name, kind, seed, stream_steps, train_steps, loss, description, **config):
    model = build(kind, seed, **config)
    model.init_args = config
    g = torch.Generator().manual_seed(seed + 100)
    vocab = config.get('vocab')
    O = model.head.out_features if model.head is not None else model.ln_f.normalized_shape[0]

    def inputs(T):
        return torch.randint(0, vocab, (T,), generator=g) if vocab else (torch.rand(T, config['x'], generator=g) * 4 - 2).float()

    stream = inputs(stream_steps)
    window = inputs(train_steps)
    targets = torch.randint(0, O, (train_steps,), generator=g) if loss == 'ce' else (torch.rand(train_steps, O, generator=g) - 0.5).float()

    def outputs_of(result):
        return (result[0] if isinstance(result, tuple) else result)[0]

    results = {}
    for dtype in (torch.float64, torch.float32):
        m = copy_in(model, dtype)
        with torch.no_grad():
            y = outputs_of(m(stream.unsqueeze(0) if vocab else stream.to(dtype).unsqueeze(0)))
        xw = window if vocab else window.to(dtype).clone().requires_grad_(True)
        logits = outputs_of(m(xw.unsqueeze(0)))
        value = torch.nn.functional.cross_entropy(logits, targets) if loss == 'ce' else ((logits - targets.to(dtype)) ** 2).mean()
        value.backward()
        grads = {f'grad/{k}': p.grad.detach().clone() for k, p in m.named_parameters()}
        if not vocab:
            grads['grad/x'] = xw.grad.detach().clone()
        results[dtype] = {'y': y.detach(), 'train_outputs': logits.detach(), 'loss': value.detach().reshape(()), **grads}

    ref, f32 = results[torch.float64], results[torch.float32]
    tolerance = {}
    for key in ref:
        deviation = float((ref[key] - f32[key].double()).abs().max())
        tolerance[key] = {'abs': scale_125(10 * deviation), 'rel': 1e-4, 'float32_torch_max_abs_dev': deviation}
    meta = {k: v for k, v in model.config.items()}
    save_safetensors(os.path.join(OUT, f'{name}.safetensors'), model.state_dict(), M['seqcast_metadata'](model))
    doc = {
        'name': name,
        'description': description,
        'generator': {'torch': torch.__version__, 'script': 'scripts/make-positional-fixtures.py', 'module': 'docs/model-format.md', 'seed': seed},
        'config': {**config, **meta, 'loss': loss},
        'inputs': {'stream': tensor_json(stream, 'int32' if vocab else 'float32'), 'window': tensor_json(window, 'int32' if vocab else 'float32'),
                   'targets': tensor_json(targets, 'int32' if loss == 'ce' else 'float32')},
        'outputs': {k: tensor_json(v) for k, v in ref.items()},
        'tolerance': tolerance,
        'tolerance_rule': '|actual - expected| <= abs + rel * |expected|, per output (abs >= 10x float32 PyTorch deviation, 1-2-5 scale)',
    }
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(doc, f, indent=None, separators=(',', ':'))
        f.write('\n')
    worst = max(t['float32_torch_max_abs_dev'] for t in tolerance.values())
    print(f'{name}: {stream_steps}-step stream, {train_steps}-step window; float32 PyTorch deviates at most {worst:.2e}')


def seqcast_outputs(path, inputs, tokens):
    """seqcast's raw outputs for one stream over `inputs` (token ids, or frames in model units), from dist/."""
    script = (
        "import { loadModel } from './dist/index.js'; import { readFileSync } from 'node:fs';"
        "const [path, file] = process.argv.slice(1); const inputs = JSON.parse(readFileSync(file, 'utf8'));"
        "const model = await loadModel(path); const s = model.openStream({ raw: true });"
        "const out = inputs.map((x) => Array.from(typeof x === 'number' ? s.step(x) : s.stepModelUnits(x)));"
        "process.stdout.write(JSON.stringify(out));"
    )
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
        json.dump(inputs, f)
    try:
        done = subprocess.run(['node', '--input-type=module', '-e', script, path, f.name], cwd=ROOT, capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    return torch.tensor(json.loads(done.stdout), dtype=torch.float64)


def module_for(path):
    """The docs' module for a seqcast file, its weights loaded, in float64; and the file's seqcast metadata."""
    tensors, meta = load_safetensors(path)
    s = json.loads(meta.get('seqcast', '{}'))
    d = tensors['blocks.0.ln1.weight'].shape[0]
    ff = tensors['blocks.0.fc1.weight'].shape[0]
    n = 1 + max(int(k.split('.')[1]) for k in tensors if k.startswith('blocks.'))
    out = tensors['head.weight'].shape[0] if 'head.weight' in tensors else 0
    common = dict(heads=s['heads'], ff=ff, n=n, out=out, window=s['window'], sinks=s.get('sinks', 0),
                  positional=s.get('positional', 'sinusoidal' if s['kind'] == 'transformer' else 'none'))
    vocab = tensors['embed.weight'].shape[0] if 'embed.weight' in tensors else None
    if s['kind'] == 'transformer':
        model = M['Transformer'](x=None if vocab else tensors['proj_in.weight'].shape[1], vocab=vocab, d=d, **common)
    else:
        cell = next(c for c in ('lstm', 'gru', 'rnn') if f'{c}.weight_ih_l0' in tensors)
        layers = 1 + max(int(k.rsplit('_l', 1)[1]) for k in tensors if k.startswith(f'{cell}.weight_ih_l'))
        e = tensors['embed.weight'].shape[1] if vocab else None
        model = M['Hybrid'](x=None if vocab else tensors[f'{cell}.weight_ih_l0'].shape[1], vocab=vocab, e=e, hidden=d,
                            layers=layers, cell=cell, **common)
    model.load_state_dict(tensors)
    return model.double(), s


def roundtrip(path, steps, label):
    """Streams `steps` inputs through seqcast and through the docs' module; returns the largest difference."""
    model, meta = module_for(path)
    g = torch.Generator().manual_seed(7)
    if 'embed.weight' in dict(model.named_parameters()):
        vocab = model.embed.num_embeddings
        if 'vocab' in meta and label.endswith('.txt'):
            chars = list(meta['vocab'])
            text = open(label, encoding='utf8').read()[-steps:]
            ids = [chars.index(c) for c in text]
        else:
            ids = torch.randint(0, vocab, (steps,), generator=g).tolist()
        theirs = seqcast_outputs(path, ids, True)
        with torch.no_grad():
            ours = model(torch.tensor(ids).unsqueeze(0))
    else:
        X = (model.proj_in.in_features if hasattr(model, 'proj_in') else getattr(model, model.cell).input_size)
        t = torch.arange(steps, dtype=torch.float64)[:, None]
        frames = torch.sin(0.3 * t + torch.arange(X)[None, :]).float()  # model units: the stream seqcast is fed
        theirs = seqcast_outputs(path, frames.tolist(), False)
        with torch.no_grad():
            ours = model(frames.double().unsqueeze(0))
    ours = (ours[0] if isinstance(ours, tuple) else ours)[0]
    diff = float((ours - theirs).abs().max())
    scale = float(ours.abs().max())
    return {'file': os.path.relpath(path, ROOT) if path.startswith(ROOT) else os.path.basename(path), 'positional': meta.get('positional'),
            'steps': steps, 'window': meta['window'], 'sinks': meta.get('sinks', 0), 'max_abs_difference': diff, 'max_abs_output': scale}


def trained_sine_model(directory):
    """A small ALiBi transformer trained by `seqcast train` on a two-channel sine CSV (as tests/train-cli does)."""
    csv = os.path.join(directory, 'sine.csv')
    with open(csv, 'w') as f:
        f.write('a,b\n')
        for i in range(1200):
            f.write(f'{math.sin(i / 6):.6f},{math.cos(i / 9) * 2:.6f}\n')
    out = os.path.join(directory, 'sine-alibi.safetensors')
    subprocess.run(['node', 'bin/seqcast.js', 'train', '--data', csv, '--kind', 'transformer', '--hidden', '16', '--heads', '2',
                    '--blocks', '2', '--window', '16', '--attention-window', '8', '--sinks', '1', '--stride', '2',
                    '--epochs', '2', '--seed', '3', '--quiet', '--out', out], cwd=ROOT, check=True, capture_output=True)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    case('alibi_frame_transformer', 'transformer', 1, 23, 11, 'mse',
         'Transformer(x=3, d=9, heads=3, ff=7, n=2, out=3, window=5, sinks=2, positional="alibi"): stream y [23, 3] from position 0; '
         'a training window of 11 (> window + sinks): train_outputs, MSE loss, every grad/<param> and grad/x',
         x=3, d=9, heads=3, ff=7, n=2, out=3, window=5, sinks=2, positional='alibi')
    case('alibi_token_transformer', 'transformer', 2, 17, 13, 'ce',
         'Transformer(vocab=11, d=8, heads=4, ff=12, n=1, window=4, sinks=1, positional="alibi"): stream logits y [17, 11]; '
         'a 13-token window: cross-entropy of targets (random ids), every gradient',
         vocab=11, d=8, heads=4, ff=12, n=1, window=4, sinks=1, positional='alibi')
    case('alibi_hybrid_lstm', 'hybrid', 3, 15, 10, 'mse',
         'Hybrid(x=2, hidden=6, cell="lstm", heads=3, ff=5, n=1, out=2, window=3, sinks=1, positional="alibi") (3 heads: slopes 2^-4, 2^-8, 2^-2): '
         'stream y [15, 2]; a 10-step window, MSE, every gradient and grad/x',
         x=2, hidden=6, cell='lstm', heads=3, ff=5, n=1, out=2, window=3, sinks=1, positional='alibi')
    case('sinusoidal_frame_transformer', 'transformer', 4, 15, 9, 'mse',
         'Transformer(x=2, d=6, heads=2, ff=5, n=1, out=2, window=4, sinks=1, positional="sinusoidal"): the legacy scheme, by the same module',
         x=2, d=6, heads=2, ff=5, n=1, out=2, window=4, sinks=1, positional='sinusoidal')
    case('none_token_hybrid_gru', 'hybrid', 5, 12, 8, 'ce',
         'Hybrid(vocab=7, e=5, hidden=6, layers=2, cell="gru", heads=2, ff=4, n=1, window=3, sinks=0, positional="none"): embed.weight [V, E] = [7, 5]',
         vocab=7, e=5, hidden=6, layers=2, cell='gru', heads=2, ff=4, n=1, window=3, sinks=0, positional='none')

    # the other way: models seqcast trained, loaded into the docs' module
    checks = []
    with tempfile.TemporaryDirectory() as directory:
        checks.append(roundtrip(trained_sine_model(directory), 300, 'sine'))
    for arg in sys.argv[1:]:
        path, _, text = arg.partition(':')
        checks.append(roundtrip(os.path.abspath(path), 2000, text or path))
    for c in checks:
        print(f"seqcast-trained {c['file']} ({c['positional']}, window {c['window']} + {c['sinks']} sinks) in the docs' module over "
              f"{c['steps']} steps: largest difference {c['max_abs_difference']:.2e} (outputs up to {c['max_abs_output']:.3g})")
    with open(os.path.join(OUT, 'roundtrip.json'), 'w') as f:
        json.dump({'generator': {'torch': torch.__version__, 'script': 'scripts/make-positional-fixtures.py'}, 'checks': checks}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
